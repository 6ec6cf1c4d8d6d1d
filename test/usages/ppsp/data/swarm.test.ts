/**
 * The PPSP data plane end to end over real TLS on 127.0.0.1: nodes of one overlay open data
 * channels to each other with AppAttach and swarm a random file.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '../../../../overlay/errors.js';
import type { Link } from '../../../../overlay/link/link.js';
import type { Node } from '../../../../overlay/node.js';
import { hashFile } from '../../../../usages/ppsp/content/chunker.js';
import { MerkleLevels } from '../../../../usages/ppsp/content/merkle-proof.js';
import {
  BEFORE_HANDSHAKE,
  DATA_MESSAGE_TYPE,
  DATA_HEADER_BYTES,
  decodeDataMessage,
  encodeDataMessage,
  PPSP_DATA_VERSION,
  writeDataHeader,
  type PpspDataMessage,
  type SwarmBounds,
} from '../../../../usages/ppsp/data/data-messages.js';
import { DEFAULT_MAX_FRAME_BYTES, DEFAULT_QUEUE_LIMIT, PPSP_DATA_APP_ID, PpspDataUsage } from '../../../../usages/ppsp/data/ppsp-data-usage.js';
import type { SwarmMetadata } from '../../../../usages/ppsp/content/swarm-id.js';
import type { Swarm, SwarmOptions } from '../../../../usages/ppsp/data/swarm.js';
import { startTestnet, type Testnet } from '../../../helpers/testnet.js';
import { waitFor } from '../../../helpers/wait.js';
import { TamperingLink } from '../../../helpers/tampering-link.js';

const MiB = 1024 * 1024;
const LINK = { maxMessageBytes: DEFAULT_MAX_FRAME_BYTES, queueLimit: DEFAULT_QUEUE_LIMIT };

/** A hand-driven end of a data channel: decodes what arrives, sends what the test says. */
class RawPeer {
  readonly received: PpspDataMessage[] = [];
  closed = false;
  constructor(
    readonly link: Link,
    public bounds: SwarmBounds = BEFORE_HANDSHAKE,
    onMessage?: (m: PpspDataMessage, peer: RawPeer) => void,
  ) {
    link.on('message', (bytes) => {
      const m = decodeDataMessage(bytes, this.bounds);
      this.received.push(m);
      onMessage?.(m, this);
    });
    link.on('close', () => (this.closed = true));
  }
  send(m: PpspDataMessage): void {
    this.link.send(encodeDataMessage(m));
  }
  error(): Extract<PpspDataMessage, { type: 'error' }> | undefined {
    return this.received.find((m) => m.type === 'error') as Extract<PpspDataMessage, { type: 'error' }> | undefined;
  }
}

const handshake = (swarmId: string): PpspDataMessage => ({ type: 'handshake', swarmId: Buffer.from(swarmId, 'hex'), version: PPSP_DATA_VERSION });
const boundsOf = (m: SwarmMetadata): SwarmBounds => ({ chunkCount: m.chunkCount, maxChunkBytes: m.chunkSize });

/** Fast timers for tests: the defaults are production periods. */
const FAST: SwarmOptions = { tickIntervalMs: 50, rechokeIntervalMs: 300, requestTimeoutMs: 2000, redialIntervalMs: 300 };

describe('PPSP data plane over TLS', function () {
  this.timeout(60_000);
  let net: Testnet;
  let dir: string;
  const usages: PpspDataUsage[] = [];

  async function usageOn(node: Node, swarm: SwarmOptions = {}): Promise<PpspDataUsage> {
    const u = new PpspDataUsage({ swarm: { ...FAST, ...swarm } });
    u.attach(node);
    await u.start();
    usages.push(u);
    return u;
  }

  const peersOf = (nodes: Node[]) => async () => nodes.map((n) => ({ nodeId: n.nodeIdHex }));

  before(async () => {
    net = await startTestnet(16);
  });
  after(async () => {
    await net?.stopAll();
  });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ppsp-swarm-'));
  });
  afterEach(async () => {
    await Promise.all(usages.splice(0).map((u) => u.stop()));
    await rm(dir, { recursive: true, force: true });
  });

  async function randomFile(bytes: number): Promise<{ path: string; content: Buffer }> {
    const content = randomBytes(bytes);
    const path = join(dir, 'source.bin');
    await writeFile(path, content);
    return { path, content };
  }

  it('1 seeder and 3 leechers finish byte-identical, and leechers upload to each other', async () => {
    const { path, content } = await randomFile(3 * MiB);
    const [seedNode, ...leechNodes] = net.nodes.slice(0, 4) as [Node, ...Node[]];
    // The seeder uploads 1 MiB/s, a third of what the leechers need in all: on a slow machine they
    // could otherwise each take the whole file from it before they ever trade with one another.
    const seeder = await usageOn(seedNode, { uploadLimit: MiB });
    const meta = await seeder.seed(path);
    const leechers = await Promise.all(leechNodes.map((n) => usageOn(n)));
    const all = net.nodes.slice(0, 4);
    const swarms = leechers.map((u, i) => u.download(meta.swarmId, join(dir, `out${i}.bin`), { peers: peersOf(all) }));
    await Promise.all(swarms.map((s) => s.done));
    for (let i = 0; i < 3; i++) expect((await readFile(join(dir, `out${i}.bin`))).equals(content), `leecher ${i}`).to.equal(true);
    const leechIds = leechNodes.map((n) => n.nodeIdHex);
    const leechToLeech = swarms.reduce((sum, s) => sum + leechIds.reduce((x, id) => x + s.uploadedTo(id), 0), 0);
    expect(leechToLeech, 'bytes leechers uploaded to other leechers').to.be.greaterThan(0);
    for (const s of swarms) expect(s.stats.corruptCaught).to.equal(0);
  });

  it('announces every new chunk with HAVE ranges to a peer that lacks them, and none to a peer that holds everything', async () => {
    const { path } = await randomFile(2 * MiB);
    const [seedNode, leechNode, emptyNode, fullNode] = [net.nodes[8]!, net.nodes[9]!, net.nodes[10]!, net.nodes[11]!];
    const meta = await (await usageOn(seedNode)).seed(path);
    const leecher = await usageOn(leechNode);
    let go = false;
    const swarm = leecher.download(meta, join(dir, 'out.bin'), { peers: async () => (go ? [{ nodeId: seedNode.nodeIdHex }] : []) });
    const everything: [number, number][] = [[0, meta.chunkCount - 1]];
    // Two hand-driven members: one holding nothing, one claiming everything (and choking us, so
    // its claim is never tested by a request). AVAILABILITY says a peer can serve leaf hashes: both do.
    const { leafHashes } = await hashFile(path, meta.chunkSize);
    const levels = new MerkleLevels(leafHashes, meta.chunkCount);
    const member = async (node: Node, holds: [number, number][]) => {
      const link = await node.connectApplication(leechNode.nodeId, PPSP_DATA_APP_ID, LINK);
      const peer = new RawPeer(link, boundsOf(meta), (m, self) => {
        if (m.type === 'hashesRequest') self.send({ type: 'hashes', first: m.first, hashes: leafHashes.subarray(m.first * 32, (m.last + 1) * 32), uncles: levels.uncles(m.first, m.last, meta.chunkCount) });
      });
      peer.send(handshake(meta.swarmId));
      await waitFor(() => peer.received.some((m) => m.type === 'metadata'), 5000, 'metadata');
      peer.send({ type: 'availability', value: [2, holds] });
      if (holds.length > 0) peer.send({ type: 'choke' });
      return peer;
    };
    const empty = await member(emptyNode, []);
    const full = await member(fullNode, everything);
    go = true;
    await swarm.done;
    const announced = new Set<number>();
    for (const m of empty.received) if (m.type === 'have') for (let c = m.first; c <= m.last; c++) announced.add(c);
    expect(announced.size, 'chunks announced to the empty peer').to.equal(meta.chunkCount);
    const haves = empty.received.filter((m) => m.type === 'have').length;
    expect(haves, 'HAVE messages: ranges, not one per chunk').to.be.lessThan(meta.chunkCount / 2);
    expect(full.received.filter((m) => m.type === 'have'), 'HAVEs to the peer holding everything').to.deep.equal([]);
  });

  it('1 seeder and 10 leechers in an overlay of 16 all finish byte-identical', async () => {
    const { path, content } = await randomFile(3 * MiB);
    const members = net.nodes.slice(0, 11);
    const [seedNode, ...leechNodes] = members as [Node, ...Node[]];
    const meta = await (await usageOn(seedNode)).seed(path);
    const leechers = await Promise.all(leechNodes.map((n) => usageOn(n)));
    // From the bare swarm ID: every leecher learns the metadata from its first answer.
    const swarms = leechers.map((u, i) => u.download(meta.swarmId, join(dir, `out${i}.bin`), { peers: peersOf(members) }));
    await Promise.all(swarms.map((s) => s.done));
    for (let i = 0; i < 10; i++) expect((await readFile(join(dir, `out${i}.bin`))).equals(content), `leecher ${i}`).to.equal(true);
    expect(leechers[0]!.availability(meta.swarmId)?.isComplete).to.equal(true);
    const uploaders = swarms.filter((s) => leechNodes.some((n) => s.uploadedTo(n.nodeIdHex) > 0));
    expect(uploaders.length, 'leechers that uploaded to other leechers').to.be.greaterThan(1);
  });

  it('asks for chunks as soon as their own range of leaf hashes is checked, long before it has them all', async () => {
    // 32,768 chunks of 1 KiB: the old start-up fetched all 32,768 leaf hashes before the first request.
    const { path, content } = await randomFile(32 * MiB);
    const [seedNode, leechNode] = [net.nodes[4]!, net.nodes[5]!];
    const seeder = await (await usageOn(seedNode)).seed(path, { chunkSize: 1024 });
    const leecher = await usageOn(leechNode);
    const swarm = leecher.download(seeder.swarmId, join(dir, 'early.bin'), { peers: peersOf([seedNode]) });
    const atFirstChunk = await new Promise<number>((resolve) => swarm.once('chunk', () => resolve(swarm.leafHashesReceived)));
    expect(atFirstChunk, 'leaf hashes received when the first chunk arrived').to.be.greaterThan(0);
    // The player's ranges (the first and last 256) and the background ranges asked before the chunk came.
    expect(atFirstChunk).to.be.at.most(seeder.chunkCount / 3);
    await swarm.done;
    expect((await readFile(join(dir, 'early.bin'))).equals(content)).to.equal(true);
    expect(swarm.leafHashes?.length, 'the whole list, for serving it later').to.equal(seeder.chunkCount * 32);
  });

  it('catches every corrupt chunk, drops the corrupting peer and still completes', async () => {
    const { path, content } = await randomFile(3 * MiB);
    const [goodNode, badNode, leechNode] = net.nodes.slice(0, 3) as [Node, Node, Node];
    const good = await usageOn(goodNode);
    const bad = await usageOn(badNode);
    const meta = await good.seed(path);
    await bad.seed(path);
    const leecher = await usageOn(leechNode);
    const badId = badNode.nodeIdHex;
    // Every DATA frame from the bad peer arrives with its last byte flipped.
    const flipDataTail = (bytes: Uint8Array) => {
      if (bytes[0] !== DATA_MESSAGE_TYPE.data) return bytes;
      const copy = Uint8Array.from(bytes);
      copy[copy.length - 1]! ^= 0x01;
      return copy;
    };
    leecher.setDialer((peer, _swarmId, direct) => (peer === badId ? direct().then((link) => new TamperingLink(link, flipDataTail)) : direct()));
    let swarm: Swarm | undefined;
    // The corrupting peer comes first, alone, so that it is certainly asked; the good one after it is dropped.
    const peers = async () => (swarm?.stats.banned.has(badId) ? [goodNode, badNode] : [badNode]).map((n) => ({ nodeId: n.nodeIdHex }));
    swarm = leecher.download(meta, join(dir, 'out.bin'), { peers });
    await swarm.done;
    expect((await readFile(join(dir, 'out.bin'))).equals(content)).to.equal(true);
    expect(swarm.stats.corruptCaught).to.be.greaterThan(0);
    // Every chunk accepted from the bad peer (all of them corrupt) was caught: none was counted as good.
    expect(swarm.downloadedFrom(badId)).to.equal(swarm.stats.corruptCaught * meta.chunkSize);
    expect(swarm.stats.banned.has(badId)).to.equal(true);
    expect(swarm.peerIds()).to.not.include(badId);
    expect(swarm.downloadedFrom(goodNode.nodeIdHex)).to.equal(content.length);
  });

  it('drops a peer whose uncle hashes lie and completes from an honest one, taking no chunk from the liar', async () => {
    // 1,024 chunks: every range asked (256 leaves for the edges first) has uncles.
    const { path, content } = await randomFile(1 * MiB);
    const [goodNode, badNode, leechNode] = [net.nodes[8]!, net.nodes[9]!, net.nodes[10]!];
    const meta = await (await usageOn(goodNode)).seed(path, { chunkSize: 1024 });
    await (await usageOn(badNode)).seed(path, { chunkSize: 1024 });
    const leecher = await usageOn(leechNode);
    const badId = badNode.nodeIdHex;
    let forged = 0;
    // Every HASHES from the bad peer arrives with its leaf hashes intact and one bit of its top uncle flipped.
    const flipUncle = (bytes: Uint8Array) => {
      if (bytes[0] === DATA_MESSAGE_TYPE.data) return bytes;
      const m = decodeDataMessage(bytes, boundsOf(meta));
      if (m.type !== 'hashes' || m.uncles.length === 0) return bytes;
      const uncles = Buffer.from(m.uncles);
      uncles[uncles.length - 1]! ^= 0x01;
      forged++;
      return encodeDataMessage({ ...m, uncles });
    };
    leecher.setDialer((peer, _swarmId, direct) => (peer === badId ? direct().then((link) => new TamperingLink(link, flipUncle)) : direct()));
    let swarm: Swarm | undefined;
    // The liar comes first, alone, so that it is certainly asked; the honest one after it is dropped.
    const peers = async () => (swarm?.stats.banned.has(badId) ? [goodNode, badNode] : [badNode]).map((n) => ({ nodeId: n.nodeIdHex }));
    swarm = leecher.download(meta, join(dir, 'out.bin'), { peers });
    await swarm.done;
    expect(forged, 'forged HASHES sent').to.be.greaterThan(0);
    expect(swarm.stats.banned.has(badId)).to.equal(true);
    expect(swarm.downloadedFrom(badId), 'no chunk requested on a lie').to.equal(0);
    expect(swarm.downloadedFrom(goodNode.nodeIdHex)).to.equal(content.length);
    expect((await readFile(join(dir, 'out.bin'))).equals(content)).to.equal(true);
  });

  it('a seeder with 2 upload slots chokes 4 of 6 requesters, serves them later, all finish', async () => {
    const { path, content } = await randomFile(2 * MiB);
    const [seedNode, ...leechNodes] = net.nodes.slice(0, 7) as [Node, ...Node[]];
    const seeder = await usageOn(seedNode, { uploadSlots: 2 });
    const meta = await seeder.seed(path);
    const leechers = await Promise.all(leechNodes.map((n) => usageOn(n)));
    // Each leecher knows only the seeder: everything it gets, the seeder sent.
    const swarms = leechers.map((u, i) => u.download(meta, join(dir, `out${i}.bin`), { peers: peersOf([seedNode]) }));
    await Promise.all(swarms.map((s) => s.done));
    const seeding = seeder.swarm(meta.swarmId)!;
    expect(seeding.stats.maxUnchoked, 'most unchoked at once').to.be.at.most(2);
    // What the leechers saw: at least 4 of them were choked by the seeder, and each got the whole file from it.
    const chokedLeechers = swarms.filter((s) => s.stats.chokedBy.has(seedNode.nodeIdHex));
    expect(chokedLeechers.length, 'leechers the seeder choked').to.be.at.least(4);
    for (let i = 0; i < 6; i++) {
      expect((await readFile(join(dir, `out${i}.bin`))).equals(content), `leecher ${i}`).to.equal(true);
      expect(swarms[i]!.downloadedFrom(seedNode.nodeIdHex), `leecher ${i} downloaded from the seeder`).to.be.at.least(content.length);
    }
  });

  it('a leecher stopped mid-download resumes without fetching verified chunks again', async () => {
    const { path, content } = await randomFile(3 * MiB);
    const [seedNode, leechNode] = [net.nodes[0]!, net.nodes[1]!];
    const seeder = await usageOn(seedNode);
    const meta = await seeder.seed(path);
    const out = join(dir, 'out.bin');
    const first = await usageOn(leechNode, { syncEveryChunks: 8, requestsPerPeer: 1 });
    const swarm1 = first.download(meta, out, { peers: peersOf([seedNode]) });
    let stopping: Promise<void> | undefined;
    // Stopped as the half-way chunk is verified: received chunks, not written ones, bound what the part file holds.
    swarm1.on('chunk', () => {
      if (!stopping && swarm1.stats.chunksReceived >= meta.chunkCount / 2) stopping = first.stop();
    });
    await waitFor(() => stopping !== undefined, 20_000, 'half the chunks');
    await stopping;
    usages.splice(usages.indexOf(first), 1);
    expect(existsSync(out)).to.equal(false);
    const second = await usageOn(leechNode);
    const swarm2 = second.download(meta, out, { peers: peersOf([seedNode]) });
    await swarm2.done;
    const resumed = swarm2.stats.resumedChunks;
    expect(resumed).to.be.greaterThan(0).and.lessThan(meta.chunkCount);
    expect(swarm2.stats.chunksReceived + swarm2.stats.duplicates, 'chunks received after the restart').to.equal(meta.chunkCount - resumed);
    expect(swarm2.downloadedFrom(seedNode.nodeIdHex)).to.be.at.most(content.length - resumed * meta.chunkSize);
    expect((await readFile(out)).equals(content)).to.equal(true);
  });

  it('refuses bad input with ERROR and a close, no crash, nothing written', async () => {
    const { path } = await randomFile(1 * MiB);
    const [seedNode, rawNode, leechNode] = [net.nodes[0]!, net.nodes[5]!, net.nodes[6]!];
    const seeder = await usageOn(seedNode);
    const meta = await seeder.seed(path);

    // Unknown swarm in HANDSHAKE.
    const unknown = new RawPeer(await rawNode.connectApplication(seedNode.nodeId, PPSP_DATA_APP_ID, LINK));
    unknown.send(handshake('ab'.repeat(32)));
    await waitFor(() => unknown.closed, 5000, 'close after an unknown swarm');
    expect(unknown.error()?.code).to.equal(ErrorCode.Not_Found);
    expect(unknown.error()?.text).to.match(/unknown_swarm/);

    // Out-of-range REQUEST after a good handshake.
    const ranged = new RawPeer(await rawNode.connectApplication(seedNode.nodeId, PPSP_DATA_APP_ID, LINK), boundsOf(meta));
    ranged.send(handshake(meta.swarmId));
    await waitFor(() => ranged.received.some((m) => m.type === 'availability'), 5000, 'availability');
    expect(ranged.received.map((m) => m.type)).to.deep.equal(['handshake', 'metadata', 'availability']);
    ranged.link.send(Buffer.from(encodeDataMessage({ type: 'request', first: meta.chunkCount, last: meta.chunkCount })));
    await waitFor(() => ranged.closed, 5000, 'close after an out-of-range request');
    expect(ranged.error()?.code).to.equal(ErrorCode.Invalid_Message);
    expect(ranged.error()?.text).to.match(/out_of_range/);

    // A HASHES_REQUEST that is not a whole aligned subtree: it has no proof of its own.
    const unaligned = new RawPeer(await rawNode.connectApplication(seedNode.nodeId, PPSP_DATA_APP_ID, LINK), boundsOf(meta));
    unaligned.send(handshake(meta.swarmId));
    await waitFor(() => unaligned.received.some((m) => m.type === 'availability'), 5000, 'availability');
    unaligned.send({ type: 'hashesRequest', first: 1, last: 2 });
    await waitFor(() => unaligned.closed, 5000, 'close after an unaligned hashes request');
    expect(unaligned.error()?.code).to.equal(ErrorCode.Invalid_Message);
    expect(unaligned.error()?.text).to.match(/unaligned_hashes.*leaf range 1\.\.2 is not a whole subtree/);
    expect(unaligned.received.some((m) => m.type === 'hashes')).to.equal(false);

    // A fake seeder: wrong metadata, malformed availability, over-size DATA, then forged leaf hashes.
    const { leafHashes } = await hashFile(path, meta.chunkSize);
    const errors: Extract<PpspDataMessage, { type: 'error' }>[] = [];
    let mode: 'bad-metadata' | 'bad-availability' | 'oversize' | 'bad-hashes' = 'bad-metadata';
    const served = await rawNode.serveApplication(PPSP_DATA_APP_ID, {
      host: '127.0.0.1',
      port: 0,
      ...LINK,
      onLink: (link) =>
        new RawPeer(link, boundsOf(meta), (m, peer) => {
          if (m.type === 'error') errors.push(m);
          if (m.type === 'handshake') {
            peer.send(handshake(meta.swarmId));
            const length = mode === 'bad-metadata' ? meta.contentLength - 1 : meta.contentLength;
            peer.send({ type: 'metadata', rootHash: meta.rootHash, contentLength: length, chunkSize: meta.chunkSize });
            const full = new Uint8Array(Math.ceil(meta.chunkCount / 8)).fill(0xff);
            peer.send({ type: 'availability', value: mode === 'bad-availability' ? [1, full.subarray(1)] : [2, [[0, meta.chunkCount - 1]]] });
          }
          if (m.type === 'hashesRequest') {
            const hashes = Buffer.from(leafHashes.subarray(m.first * 32, (m.last + 1) * 32));
            if (mode === 'bad-hashes') hashes[0]! ^= 1;
            peer.send({ type: 'hashes', first: m.first, hashes, uncles: new MerkleLevels(leafHashes, meta.chunkCount).uncles(m.first, m.last, meta.chunkCount) });
          }
          if (m.type === 'request') {
            const frame = Buffer.alloc(DATA_HEADER_BYTES + meta.chunkSize + 1);
            writeDataHeader(frame, m.first);
            peer.link.send(frame);
          }
        }),
    });
    try {
      const leecher = await usageOn(leechNode);
      const out = join(dir, 'fake.bin');
      // From the bare swarm ID: the metadata must come from the answer and match the ID.
      const swarm = leecher.download(meta.swarmId, out, { peers: peersOf([rawNode]) });
      const seen = (reason: RegExp) => errors.some((e) => reason.test(e.text));
      await waitFor(() => seen(/swarm_id_mismatch/), 10_000, 'ERROR for metadata that does not match the ID');
      mode = 'bad-availability';
      await waitFor(() => seen(/bad_availability/), 10_000, 'ERROR for malformed availability');
      mode = 'oversize';
      await waitFor(() => errors.some((e) => e.code === ErrorCode.Message_Too_Large), 10_000, 'ERROR for over-size DATA');
      expect(errors.filter((e) => e.code !== ErrorCode.Invalid_Message && e.code !== ErrorCode.Message_Too_Large)).to.deep.equal([]);
      expect(swarm.progress.have).to.equal(0);
      expect(swarm.stats.chunksReceived).to.equal(0);
      await leecher.stop();
      usages.splice(usages.indexOf(leecher), 1);
      expect(existsSync(out)).to.equal(false);
      const part = await readFile(out + '.part');
      expect(part.every((b) => b === 0), 'no chunk byte in the part file').to.equal(true);
      // A fresh download (leaf hashes are fetched once per download): forged hashes get the peer dropped.
      mode = 'bad-hashes';
      const forged = await usageOn(leechNode);
      const swarm2 = forged.download(meta.swarmId, join(dir, 'forged.bin'), { peers: peersOf([rawNode]) });
      await waitFor(() => seen(/bad_hashes/), 10_000, 'ERROR for forged leaf hashes');
      expect(swarm2.stats.banned.has(rawNode.nodeIdHex), 'the forger is dropped').to.equal(true);
      expect(swarm2.progress.have).to.equal(0);
      await forged.stop();
      usages.splice(usages.indexOf(forged), 1);
    } finally {
      await served.close();
    }
    // The seeder took all that and still serves.
    const check = await usageOn(leechNode);
    const again = check.download(meta, join(dir, 'after.bin'), { peers: peersOf([seedNode]) });
    await again.done;
  });

  it('a seeder killed mid-transfer: the download completes from another full copy', async () => {
    const { path, content } = await randomFile(3 * MiB);
    const [victimNode, otherNode, leechNode] = [net.nodes[7]!, net.nodes[2]!, net.nodes[3]!];
    const victim = await usageOn(victimNode, {});
    const other = await usageOn(otherNode);
    const meta = await victim.seed(path);
    await other.seed(path);
    const leecher = await usageOn(leechNode, { requestsPerPeer: 2 });
    let killed = false;
    let killing: Promise<void> | undefined;
    // Only the victim at first, so it is certainly serving when it dies; the other copy after.
    const peers = async () => (killed ? [victimNode, otherNode] : [victimNode]).map((n) => ({ nodeId: n.nodeIdHex }));
    const swarm = leecher.download(meta, join(dir, 'out.bin'), { peers });
    swarm.on('progress', (p: { have: number; total: number }) => {
      if (!killed && p.have >= p.total / 4) {
        killed = true;
        killing = victimNode.stop({ leave: false }).then(() => victim.stop());
      }
    });
    await swarm.done;
    // Awaited, so a failing stop fails this test rather than a later one (or none).
    await killing;
    expect(killed).to.equal(true);
    expect(swarm.downloadedFrom(victimNode.nodeIdHex)).to.be.greaterThan(0).and.lessThan(content.length);
    expect(swarm.downloadedFrom(otherNode.nodeIdHex)).to.be.greaterThan(0);
    expect((await readFile(join(dir, 'out.bin'))).equals(content)).to.equal(true);
  });
});
