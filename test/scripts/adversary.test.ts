/**
 * The simulator's malicious peers (scripts/simulation/adversary.ts) misbehave as they say and no
 * more: a frame they forward is swallowed, their own requests go out, their Update answers name
 * colluders in place of the peers they know, and their Fetch answers carry the first version of a
 * value they were sent, all signed so that the receiver accepts them.
 */
import { expect } from 'chai';
import { idFromHex, idToHex, type Id } from '../../overlay/id.js';
import type { Link } from '../../overlay/link/link.js';
import type { LinkFactory } from '../../overlay/link/link-factory.js';
import { decodeCbor, encodeCbor } from '../../overlay/wire/cbor.js';
import { decodeMessage, encodeMessage } from '../../overlay/wire/codec.js';
import { MessageCode } from '../../overlay/wire/codes.js';
import { newHeader } from '../../overlay/wire/header.js';
import { signMessage, verifyMessage } from '../../overlay/wire/sign.js';
import { signStoredData, verifyStoredData } from '../../overlay/storage/data-signature.js';
import { decodeFetchAns, encodeFetchAns, encodeFetchReq, encodeStoreReq } from '../../overlay/storage/codec.js';
import type { StoredData } from '../../overlay/storage/types.js';
import { adversaryLinks, StaleValues } from '../../scripts/simulation/adversary.js';
import { RecordingLink } from '../helpers/recording-link.js';
import { sharedPki, TEST_OVERLAY } from '../helpers/pki.js';

const CTX = { overlay: TEST_OVERLAY, sequence: 1, initialTtl: 100 };
const id = (hex: string) => idFromHex(hex.padEnd(32, '0'));

/** A link that keeps what is sent on it. */
class KeepingLink extends RecordingLink {
  readonly frames: Uint8Array[] = [];
  override send(bytes: Uint8Array): boolean {
    this.frames.push(bytes);
    return super.send(bytes);
  }
}

async function linkThrough(adversary: Parameters<typeof adversaryLinks>[1]): Promise<{ link: Link; inner: KeepingLink }> {
  const inner = new KeepingLink(id('ee'), 1 << 20);
  const factory: LinkFactory = { listen: () => Promise.reject(new Error('unused')), dial: async () => inner };
  const link = await adversaryLinks(factory, adversary).dial({ host: 'x', port: 1, maxMessageBytes: 1 << 20, queueLimit: 8, timeoutMs: 1000 });
  return { link, inner };
}

describe('simulated malicious peers (adversary links)', () => {
  it('swallow what they forward, send their own, and name colluders in their Update answers, validly signed', async () => {
    const pki = await sharedPki();
    const self = await pki.enroll();
    const colluders: Id[] = [id('10'), id('f0')];
    let drops = false;
    const { link, inner } = await linkThrough({ drops: () => drops, lies: { identity: self, colluders: () => [...colluders, self.nodeId] } });
    const answer = (via: Id[]) =>
      encodeMessage(signMessage(newHeader(CTX, [{ type: 'node', id: id('ee') }], via.map((v) => ({ type: 'node' as const, id: v }))), { code: MessageCode.UpdateAns, body: encodeCbor([[id('11'), id('ef')]]), extensions: [] }, self));

    expect(link.send(answer([id('aa'), self.nodeId]))).to.equal(true);
    expect(inner.frames, 'forwards until it starts dropping').to.have.length(1);
    drops = true;
    expect(link.send(answer([id('aa'), self.nodeId])), 'a forwarded frame looks sent').to.equal(true);
    expect(inner.frames, 'but is swallowed').to.have.length(1);

    link.send(answer([self.nodeId]));
    const lied = decodeMessage(inner.frames[1]!, 1 << 20);
    const verified = verifyMessage(lied, pki.trust, Date.now());
    const named = (decodeCbor(verified.contents.body) as Uint8Array[][])[0]!.map(idToHex);
    // Each id swapped for the XOR-closest colluder, never the liar itself.
    expect(named).to.deep.equal([idToHex(colluders[0]!), idToHex(colluders[1]!)]);
  });

  it('answer a Fetch with the first version they were sent of the value, the storer\'s signature intact, and leave other answers alone', async () => {
    const pki = await sharedPki();
    const self = await pki.enroll();
    const storer = await pki.enroll();
    const resource = id('42');
    const kindId = 7;
    const version = (text: string, storageTimeMs: number): StoredData =>
      signStoredData(storer, resource, kindId, { storageTimeMs, lifetimeSec: 60, value: { model: 'single', value: { exists: true, value: Buffer.from(text) } } });
    const { link, inner } = await linkThrough({ drops: () => false, stale: new StaleValues(self) });
    const to = (code: MessageCode, body: Uint8Array, transactionId?: bigint) =>
      encodeMessage(signMessage(newHeader(CTX, [{ type: 'node', id: self.nodeId }], [{ type: 'node', id: storer.nodeId }], transactionId), { code, body, extensions: [] }, storer));
    const store = (data: StoredData) => encodeStoreReq({ resource, replicaNumber: 0, kinds: [{ kindId, generation: 0n, values: [data] }], certificates: [] });
    inner.emit('message', to(MessageCode.StoreReq, store(version('first', 1000))));
    inner.emit('message', to(MessageCode.StoreReq, store(version('second', 2000))));
    const fetch = encodeFetchReq({ resource, specifiers: [{ kindId, generation: 0n, selector: { model: 'single' } }] });
    inner.emit('message', to(MessageCode.FetchReq, fetch, 99n));

    const answer = (transactionId: bigint) =>
      encodeMessage(signMessage(newHeader(CTX, [{ type: 'node', id: id('ee') }], [{ type: 'node', id: self.nodeId }], transactionId), { code: MessageCode.FetchAns, body: encodeFetchAns({ kinds: [{ kindId, generation: 2n, values: [version('second', 2000)] }], certificates: [] }), extensions: [] }, self));
    const served = (frame: Uint8Array) => {
      const verified = verifyMessage(decodeMessage(frame, 1 << 20), pki.trust, Date.now());
      const values = decodeFetchAns(verified.contents.body, 1 << 20).kinds[0]!.values;
      for (const v of values) verifyStoredData(resource, kindId, v, pki.trust.verify(storer.certDer, Date.now()), pki.trust);
      return values.map((v) => [v.storageTimeMs, Buffer.from(v.value.value.value).toString()]);
    };
    link.send(answer(99n));
    expect(served(inner.frames[0]!), 'the answer to the Fetch it heard').to.deep.equal([[1000, 'first']]);
    link.send(answer(100n));
    expect(served(inner.frames[1]!), 'an answer to a Fetch it never heard').to.deep.equal([[2000, 'second']]);
  });
});
