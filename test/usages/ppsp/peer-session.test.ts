import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { systemClock } from '../../../overlay/clock.js';
import { ErrorCode } from '../../../overlay/errors.js';
import { idToHex, randomId } from '../../../overlay/id.js';
import { memoryLinkPair, type MemoryLink } from '../../../overlay/link/memory-link.js';
import { silentLogger } from '../../../overlay/log.js';
import { Availability } from '../../../usages/ppsp/availability.js';
import { decodeDataMessage, encodeDataMessage, PPSP_DATA_VERSION, type PpspDataMessage } from '../../../usages/ppsp/data-messages.js';
import { MerkleTree, verifyChunk } from '../../../usages/ppsp/merkle.js';
import { PeerSession, type SessionHost } from '../../../usages/ppsp/peer-session.js';
import { swarmMetadataOf, type SwarmMetadata } from '../../../usages/ppsp/swarm-id.js';
import { fuzzSeed, Prng } from '../../helpers/prng.js';
import { waitFor } from '../../helpers/wait.js';

const CHUNK = 1024;
const content = randomBytes(10 * CHUNK - 100);
const chunks = Array.from({ length: 10 }, (_, i) => content.subarray(i * CHUNK, (i + 1) * CHUNK));
const tree = MerkleTree.fromChunks(chunks);
const META = swarmMetadataOf(tree.rootHash, content.length, CHUNK);

/** A host that records what the session hands it and serves chunks from memory. */
class FakeHost implements SessionHost {
  attached: SwarmMetadata | undefined;
  detached = false;
  readonly messages: PpspDataMessage[] = [];
  constructor(readonly metadata: SwarmMetadata | undefined) {}
  attach(_s: PeerSession, m: SwarmMetadata): void {
    this.attached = m;
  }
  onMessage(_s: PeerSession, m: PpspDataMessage): void {
    this.messages.push(m);
  }
  detach(): void {
    this.detached = true;
  }
  async readChunk(index: number) {
    return { chunk: chunks[index]!, uncles: tree.proof(index) };
  }
}

function pair(): [MemoryLink, MemoryLink] {
  return memoryLinkPair({ nodeId: randomId(), user: 'a' }, { nodeId: randomId(), user: 'b' }, { clock: systemClock });
}

/** The raw other end of a link: decodes and records everything. */
function recorder(link: MemoryLink, chunkCount = 0) {
  const got: PpspDataMessage[] = [];
  let closed = false;
  link.on('message', (b) => got.push(decodeDataMessage(b, { chunkCount, maxChunkBytes: CHUNK })));
  link.on('close', () => (closed = true));
  return { got, isClosed: () => closed, send: (m: PpspDataMessage) => link.send(encodeDataMessage(m)) };
}

const handshake = (id: string): PpspDataMessage => ({ type: 'handshake', swarmId: Buffer.from(id, 'hex'), version: PPSP_DATA_VERSION });

describe('PPSP peer session', () => {
  it('dialler and answerer agree on the swarm and its metadata', async () => {
    const [a, b] = pair();
    const dialHost = new FakeHost(undefined);
    const answerHost = new FakeHost(META);
    const dialler = new PeerSession(a, { role: 'dialler', swarmId: META.swarmId, host: dialHost }, { log: silentLogger });
    const answerer = new PeerSession(b, { role: 'answerer', resolve: (id) => (id === META.swarmId ? answerHost : undefined) }, { log: silentLogger });
    await waitFor(() => dialHost.attached !== undefined && answerHost.attached !== undefined);
    expect(dialHost.attached).to.deep.equal(META);
    expect(dialler.remoteNodeId).to.equal(idToHex(a.remoteNodeId));
    const have = new Availability(META.chunkCount);
    have.setRange({ first: 2, last: 4 });
    answerer.sendAvailability(have);
    await waitFor(() => dialler.remote !== undefined);
    expect([...dialler.remote!.ranges()]).to.deep.equal([{ first: 2, last: 4 }]);
    // REQUEST, DATA with a proof that verifies, CANCEL of what is still queued.
    dialler.request([3, 2]);
    await waitFor(() => answerHost.messages.some((m) => m.type === 'request'));
    answerer.queueUploads([2, 3]);
    await waitFor(() => dialHost.messages.filter((m) => m.type === 'data').length === 2);
    for (const m of dialHost.messages) {
      if (m.type === 'data') expect(verifyChunk(META.rootHash, m.index, META.chunkCount, m.chunk, m.uncles)).to.equal(true);
    }
    expect(dialler.stats.chunksDown).to.equal(2);
    expect(answerer.stats.bytesUp).to.equal(2 * CHUNK);
    expect(dialler.requested.size).to.equal(0);
    dialler.close();
    await waitFor(() => answerHost.detached && dialHost.detached);
  });

  it('refuses an unknown swarm with ERROR(Not_Found) and closes', async () => {
    const [a, b] = pair();
    const raw = recorder(a);
    new PeerSession(b, { role: 'answerer', resolve: () => undefined }, { log: silentLogger });
    raw.send(handshake('cd'.repeat(32)));
    await waitFor(raw.isClosed);
    expect(raw.got).to.have.length(1);
    expect(raw.got[0]).to.include({ type: 'error', code: ErrorCode.Not_Found });
  });

  it('refuses metadata that the swarm ID does not commit to', async () => {
    const [a, b] = pair();
    const raw = recorder(b);
    const host = new FakeHost(undefined);
    new PeerSession(a, { role: 'dialler', swarmId: META.swarmId, host }, { log: silentLogger });
    await waitFor(() => raw.got.length === 1);
    raw.send(handshake(META.swarmId));
    raw.send({ type: 'metadata', rootHash: META.rootHash, contentLength: META.contentLength + 1, chunkSize: CHUNK });
    await waitFor(raw.isClosed);
    expect(raw.got[1]).to.include({ type: 'error', code: ErrorCode.Invalid_Message });
    expect((raw.got[1] as { text: string }).text).to.match(/swarm_id_mismatch/);
    expect(host.attached).to.equal(undefined);
  });

  it('answers malformed and out-of-order frames with ERROR and a close, never a throw', async () => {
    const prng = new Prng(fuzzSeed());
    const attempts: Uint8Array[] = [
      new Uint8Array(0),
      Uint8Array.from([0xff, 0x00]),
      encodeDataMessage({ type: 'request', first: 0, last: 0 }), // before HANDSHAKE
      encodeDataMessage({ type: 'request', first: 0, last: META.chunkCount }), // out of range
      encodeDataMessage(handshake(META.swarmId)), // a second HANDSHAKE
      encodeDataMessage({ type: 'availability', value: [1, new Uint8Array(5)] }),
      encodeDataMessage({ type: 'request', first: 0, last: 9 }), // fine: 10 chunks
    ];
    for (let i = 0; i < 60; i++) attempts.push(prng.bytes(1 + prng.int(64)));
    for (const [i, frame] of attempts.entries()) {
      const [a, b] = pair();
      const raw = recorder(a, META.chunkCount);
      const host = new FakeHost(META);
      const session = new PeerSession(b, { role: 'answerer', resolve: () => host }, { log: silentLogger, maxQueuedUploads: 10 });
      if (i >= 3) {
        raw.send(handshake(META.swarmId));
        await waitFor(() => session.ready);
      }
      a.send(frame);
      if (i === 6) {
        await waitFor(() => host.messages.length === 1);
        expect(session.isOpen).to.equal(true);
        continue;
      }
      await waitFor(() => raw.isClosed() || host.messages.length > 0, 2000, `frame ${i}`);
      if (raw.isClosed()) expect(raw.got.at(-1)).to.have.property('type', 'error');
    }
  });

  it('refuses more queued uploads than allowed', async () => {
    const [a, b] = pair();
    const raw = recorder(a, META.chunkCount);
    const host = new FakeHost(META);
    new PeerSession(b, { role: 'answerer', resolve: () => host }, { log: silentLogger, maxQueuedUploads: 4 });
    raw.send(handshake(META.swarmId));
    raw.send({ type: 'request', first: 0, last: 4 });
    await waitFor(raw.isClosed);
    expect(raw.got.at(-1)).to.include({ type: 'error', code: ErrorCode.Forbidden });
    expect(host.messages).to.deep.equal([]);
  });
});
