import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { systemClock, VirtualClock } from '../../../../overlay/clock.js';
import { ErrorCode } from '../../../../overlay/errors.js';
import { idToHex, randomId } from '../../../../overlay/id.js';
import { memoryLinkPair, type MemoryLink } from '../../../../overlay/link/memory-link.js';
import { silentLogger } from '../../../../overlay/log.js';
import { Availability } from '../../../../usages/ppsp/content/availability.js';
import { decodeDataMessage, encodeDataMessage, PPSP_DATA_VERSION, type PpspDataMessage } from '../../../../usages/ppsp/data/data-messages.js';
import { LeafHashes } from '../../../../usages/ppsp/content/leaf-hashes.js';
import { MerkleBuilder } from '../../../../usages/ppsp/content/merkle.js';
import { RateLimit, TokenBucket } from '../../../../usages/ppsp/data/rate-limit.js';
import { MAX_UPLOAD_RUN_CHUNKS, PeerSession, type PeerSessionOptions, type SessionHost } from '../../../../usages/ppsp/data/peer-session.js';
import { swarmMetadataOf, type SwarmMetadata } from '../../../../usages/ppsp/content/swarm-id.js';
import { fuzzSeed, Prng } from '../../../helpers/prng.js';
import { waitFor } from '../../../helpers/wait.js';
import type { MediaInfo } from '../../../../usages/ppsp/content/media-info.js';

const CHUNK = 1024;

/** Random content of `chunkCount` chunks, the last `short` bytes short, with its verified leaf hashes. */
function swarmOf(chunkCount: number, short: number) {
  const bytes = randomBytes(chunkCount * CHUNK - short);
  const pieces = Array.from({ length: chunkCount }, (_, i) => bytes.subarray(i * CHUNK, (i + 1) * CHUNK));
  const builder = new MerkleBuilder();
  for (const piece of pieces) builder.addChunk(piece);
  const metadata = swarmMetadataOf(builder.rootHash(), bytes.length, CHUNK);
  return { bytes, pieces, metadata, leaves: LeafHashes.verified(metadata, builder.leafHashes()) };
}

const SMALL = swarmOf(10, 100);
const META = SMALL.metadata;
/** More chunks than one upload run holds. */
const BIG = swarmOf(40, 300);

/**
 * A host that records what the session hands it and serves chunks from memory: readChunksInto
 * copies the content into the session's frames, records every call and how many overlap, and waits for `gate`
 * while it is set. With `serve`, a REQUEST is queued for upload at once, as the swarm would.
 */
class FakeHost implements SessionHost {
  uploadRunChunks(): number {
    return Infinity;
  }
  uploadWait(): number {
    return 0;
  }
  chargeUpload(_bytes: number): void {}
  media: MediaInfo = { name: 'clip.mp4', type: 'video/mp4' };
  attached: SwarmMetadata | undefined;
  detached = false;
  readonly messages: PpspDataMessage[] = [];
  readonly reads: { first: number; last: number }[] = [];
  inFlight = 0;
  maxInFlight = 0;
  gate: Promise<void> | undefined;
  failReads = false;
  serve = false;
  constructor(
    readonly metadata: SwarmMetadata | undefined,
    private readonly bytes: Buffer = SMALL.bytes,
  ) {}
  attach(_s: PeerSession, m: SwarmMetadata): void {
    this.attached = m;
  }
  // Each handler records the message it was handed, as the wire had it.
  onAvailability(s: PeerSession, added?: { first: number; last: number }): void {
    this.messages.push(added ? { type: 'have', ...added } : { type: 'availability', value: s.remote });
  }
  onChoke(): void {
    this.messages.push({ type: 'choke' });
  }
  onUnchoke(): void {
    this.messages.push({ type: 'unchoke' });
  }
  onRequest(s: PeerSession, first: number, last: number): void {
    this.messages.push({ type: 'request', first, last });
    if (this.serve) s.queueUploads(Array.from({ length: last - first + 1 }, (_, i) => first + i));
  }
  onHashesRequest(_s: PeerSession, first: number, last: number): void {
    this.messages.push({ type: 'hashesRequest', first, last });
  }
  onHashes(_s: PeerSession, first: number, hashes: Uint8Array, uncles: Uint8Array): void {
    this.messages.push({ type: 'hashes', first, hashes, uncles });
  }
  onData(_s: PeerSession, index: number, chunk: Uint8Array): void {
    this.messages.push({ type: 'data', index, chunk });
  }
  detach(): void {
    this.detached = true;
  }
  async readChunksInto(first: number, targets: Uint8Array[]): Promise<void> {
    const last = first + targets.length - 1;
    this.reads.push({ first, last });
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    try {
      await this.gate;
      if (this.failReads) throw new Error('read failed');
      targets.forEach((t, i) => t.set(this.bytes.subarray((first + i) * CHUNK, (first + i) * CHUNK + t.length)));
    } finally {
      this.inFlight--;
    }
  }
  /** Closes the gate; the function returned opens it. */
  hold(): () => void {
    let open!: () => void;
    this.gate = new Promise<void>((resolve) => (open = resolve));
    return () => {
      this.gate = undefined;
      open();
    };
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

/** A raw peer that has handshaken with an answering session serving `host`. */
async function served(host: FakeHost, options: Partial<PeerSessionOptions> = {}) {
  const [a, b] = pair();
  const raw = recorder(a, host.metadata!.chunkCount);
  const session = new PeerSession(b, { role: 'answerer', resolve: () => host }, { log: silentLogger, ...options });
  raw.send(handshake(host.metadata!.swarmId));
  await waitFor(() => session.ready);
  const data = () => raw.got.filter((m): m is Extract<PpspDataMessage, { type: 'data' }> => m.type === 'data');
  return { raw, session, data };
}

const range = (first: number, last: number) => Array.from({ length: last - first + 1 }, (_, i) => first + i);

describe('PPSP peer session', () => {
  it('dialler and answerer agree on the swarm and its metadata', async () => {
    const [a, b] = pair();
    const dialHost = new FakeHost(undefined);
    const answerHost = new FakeHost(META);
    const dialler = new PeerSession(a, { role: 'dialler', swarmId: META.swarmId, host: dialHost }, { log: silentLogger });
    const answerer = new PeerSession(b, { role: 'answerer', resolve: (id) => (id === META.swarmId ? answerHost : undefined) }, { log: silentLogger });
    await waitFor(() => dialHost.attached !== undefined && answerHost.attached !== undefined);
    expect(dialHost.attached).to.deep.equal(META);
    expect(dialler.remoteMedia, 'the name and type hints of the answer').to.deep.equal({ name: 'clip.mp4', type: 'video/mp4' });
    expect(dialler.remoteNodeId).to.equal(idToHex(a.remoteNodeId));
    const have = new Availability(META.chunkCount);
    have.setRange({ first: 2, last: 4 });
    answerer.sendAvailability(have);
    await waitFor(() => dialler.remote !== undefined);
    expect([...dialler.remote!.ranges()]).to.deep.equal([{ first: 2, last: 4 }]);
    // REQUEST, then DATA without uncles that checks against the trusted leaf hashes.
    dialler.request([3, 2]);
    await waitFor(() => answerHost.messages.some((m) => m.type === 'request'));
    answerer.queueUploads([2, 3]);
    await waitFor(() => dialHost.messages.filter((m) => m.type === 'data').length === 2);
    const got = dialHost.messages.filter((m) => m.type === 'data');
    expect(got.map((m) => m.index).sort()).to.deep.equal([2, 3]);
    for (const m of got) {
      expect(Buffer.from(m.chunk).equals(SMALL.pieces[m.index]!), `chunk ${m.index}`).to.equal(true);
      expect(SMALL.leaves.verifyChunk(m.index, m.chunk), `chunk ${m.index}`).to.equal(true);
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

  describe('uploading', () => {
    const checkData = (m: { index: number; chunk: Uint8Array }) => {
      expect(Buffer.from(m.chunk).equals(BIG.pieces[m.index]!), `chunk ${m.index} bytes`).to.equal(true);
      expect(BIG.leaves.verifyChunk(m.index, m.chunk), `chunk ${m.index} leaf hash`).to.equal(true);
    };

    it('reads 16 requested consecutive chunks with one readChunksInto call and sends one DATA frame per chunk', async () => {
      expect(MAX_UPLOAD_RUN_CHUNKS).to.equal(16);
      const host = new FakeHost(BIG.metadata, BIG.bytes);
      host.serve = true;
      const { raw, session, data } = await served(host);
      raw.send({ type: 'request', first: 0, last: 15 });
      await waitFor(() => data().length === 16);
      // The point of the batching: fewer reads than chunks (one run of all 16 here).
      expect(host.reads.length).to.be.below(16);
      expect(host.reads).to.deep.equal([{ first: 0, last: 15 }]);
      expect(data().map((m) => m.index)).to.have.members(range(0, 15));
      for (const m of data()) {
        expect(m.chunk.length, `chunk ${m.index}`).to.equal(CHUNK);
        checkData(m);
      }
      expect(session.stats.chunksUp).to.equal(16);
      expect(session.stats.bytesUp).to.equal(16 * CHUNK);
      expect(session.queuedUploads).to.equal(0);
    });

    it('cuts runs at MAX_UPLOAD_RUN_CHUNKS and at gaps, reads at most readsInFlight at once, and slices the short last chunk', async () => {
      const host = new FakeHost(BIG.metadata, BIG.bytes);
      host.serve = true;
      const open = host.hold();
      const { raw, session, data } = await served(host, { readsInFlight: 2 });
      raw.send({ type: 'request', first: 0, last: 39 });
      await waitFor(() => host.reads.length === 2);
      // The whole request is taken in (40 chunks queued) and both reads are held: the third run
      // waits for one of them. No sleep: the pump decides in the turn that queues the chunks.
      expect(session.queuedUploads).to.equal(40);
      expect(host.reads).to.deep.equal([{ first: 0, last: 15 }, { first: 16, last: 31 }]);
      expect(host.inFlight).to.equal(2);
      expect(data()).to.deep.equal([]);
      open();
      await waitFor(() => data().length === 40);
      expect(host.reads).to.deep.equal([{ first: 0, last: 15 }, { first: 16, last: 31 }, { first: 32, last: 39 }]);
      expect(host.maxInFlight).to.equal(2);
      expect(data().map((m) => m.index)).to.have.members(range(0, 39));
      for (const m of data()) checkData(m);
      expect(data().find((m) => m.index === 39)!.chunk.length).to.equal(CHUNK - 300);
      expect(session.stats.bytesUp).to.equal(BIG.bytes.length);
      // A gap ends a run: 5..6 and 9 are two reads.
      host.reads.length = 0;
      raw.send({ type: 'request', first: 5, last: 6 });
      raw.send({ type: 'request', first: 9, last: 9 });
      await waitFor(() => data().length === 43);
      expect(host.reads).to.deep.equal([{ first: 5, last: 6 }, { first: 9, last: 9 }]);
    });

    it('does not send a chunk cancelled while its run was being read', async () => {
      const host = new FakeHost(BIG.metadata, BIG.bytes);
      host.serve = true;
      const open = host.hold();
      const { raw, session, data } = await served(host);
      raw.send({ type: 'request', first: 0, last: 15 });
      await waitFor(() => host.reads.length === 1);
      raw.send({ type: 'cancel', first: 4, last: 7 });
      // CANCEL is the session's own business; a message after it shows it was taken.
      raw.send({ type: 'hashesRequest', first: 0, last: 0 });
      await waitFor(() => host.messages.some((m) => m.type === 'hashesRequest'));
      open();
      // Chunk 20 comes after anything the run sent, on an ordered link.
      await waitFor(() => data().length === 12);
      raw.send({ type: 'request', first: 20, last: 20 });
      await waitFor(() => data().some((m) => m.index === 20));
      expect(data().map((m) => m.index)).to.have.members([...range(0, 3), ...range(8, 15), 20]);
      for (const m of data()) checkData(m);
      expect(session.stats.chunksUp).to.equal(13);
    });

    it('drops the chunks of a failed read and stays open', async () => {
      const host = new FakeHost(BIG.metadata, BIG.bytes);
      host.serve = true;
      host.failReads = true;
      const { raw, session, data } = await served(host);
      raw.send({ type: 'request', first: 0, last: 2 });
      await waitFor(() => host.reads.length === 1 && host.inFlight === 0);
      await waitFor(() => session.queuedUploads === 0);
      host.failReads = false;
      raw.send({ type: 'request', first: 5, last: 5 });
      await waitFor(() => data().length > 0);
      expect(data().map((m) => m.index)).to.deep.equal([5]);
      expect(host.reads).to.deep.equal([{ first: 0, last: 2 }, { first: 5, last: 5 }]);
      expect(session.isOpen).to.equal(true);
      expect(raw.isClosed()).to.equal(false);
    });

    it('under an upload limit sends only what the limit allows, waits on one timer, resumes at once when the limit is lifted, and a close cancels the wait', async () => {
      const clock = new VirtualClock(0);
      // 10 chunks per second; the bucket starts full with its burst (MIN_BURST_BYTES = 16 chunks here).
      const bucket = new TokenBucket(10 * CHUNK, clock);
      const host = new LimitedHost(new RateLimit([bucket]), BIG.metadata, BIG.bytes);
      host.serve = true;
      const { raw, session, data } = await served(host, { clock });
      raw.send({ type: 'request', first: 0, last: 39 });
      // The burst and one run into debt go; then the session waits on its one timer, with the clock stopped.
      await waitFor(() => clock.pendingCount === 1);
      expect(data().length).to.equal(17);
      expect(host.reads.length).to.equal(17);
      // One second of the limit: 10 more chunks, then one timer again.
      clock.advance(1000);
      await waitFor(() => data().length === 27 && clock.pendingCount === 1);
      clock.advance(500);
      await waitFor(() => data().length === 32 && clock.pendingCount === 1);
      // Lifting the limit ends the wait at once, without the clock moving.
      bucket.rate = 0;
      session.resumeUploads();
      await waitFor(() => data().length === 40);
      expect(clock.pendingCount).to.equal(0);
      expect(data().map((m) => m.index)).to.have.members(range(0, 39));
      for (const m of data()) checkData(m);
      // Limited again and waiting: closing the channel cancels the timer.
      bucket.rate = CHUNK;
      raw.send({ type: 'request', first: 0, last: 19 });
      await waitFor(() => clock.pendingCount === 1);
      session.link.close();
      await waitFor(() => !session.isOpen);
      expect(clock.pendingCount).to.equal(0);
    });
  });
});

/** A FakeHost whose uploads go through real rate limits, one chunk a run (as a slow limit gives). */
class LimitedHost extends FakeHost {
  constructor(
    private readonly limit: RateLimit,
    ...rest: ConstructorParameters<typeof FakeHost>
  ) {
    super(...rest);
  }
  override uploadRunChunks(): number {
    return 1;
  }
  override uploadWait(): number {
    return this.limit.delay();
  }
  override chargeUpload(bytes: number): void {
    this.limit.charge(bytes);
  }
}
