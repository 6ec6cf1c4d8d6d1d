/**
 * The simulator's malicious peers (scripts/simulation/adversary.ts) misbehave as they say and no
 * more: a frame they forward is swallowed, their own requests go out, and their Update answers
 * name colluders in place of the peers they know, signed so that the receiver accepts them.
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
import { adversaryLinks } from '../../scripts/simulation/adversary.js';
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
});
