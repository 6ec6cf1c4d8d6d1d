/**
 * Our own swarms over the `ppspp` transport (RFC 7574 over UDP on 127.0.0.1): nodes of one overlay
 * negotiate it through the overlay (seed §4.5), and the same sessions, swarm, picker and chunk store
 * as over tls then run over PPSPP datagrams. Negotiation picks it only where both sides offer it and
 * the swarm allows it: a tls-only swarm (seed §4.6.1) never travels over it.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { Socket } from 'node:dgram';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { swarmIdOf } from '../../../../usages/ppsp/content/swarm-id.js';
import type { PpspUsage } from '../../../../usages/ppsp/ppsp-usage.js';
import { FAST_SWARM, startPpspNet, type PpspNet } from '../../../helpers/ppsp-net.js';

const MiB = 1024 * 1024;
/** Nodes 0..10 offer ppspp; node 11 offers tls and the overlay only. */
const PLAIN = 11;

describe('PPSP swarms over the ppspp transport (RFC 7574 over UDP)', function () {
  this.timeout(180_000);
  let ppsp: PpspNet;
  let dir: string;

  before(async () => {
    ppsp = await startPpspNet(12, { swarm: { ...FAST_SWARM, requestTimeoutMs: 2000 }, ppsppTransport: (i) => (i === PLAIN ? undefined : { host: '127.0.0.1', port: 0 }) });
    dir = ppsp.dir;
  });

  after(async () => {
    await ppsp?.stop();
  });

  const usageOf = (i: number) => ppsp.usages[i]!;
  const tlsChannels = (u: PpspUsage) => u.channelsOpened.direct + u.channelsOpened.reversed + u.channelsOpened.punched + u.channelsOpened.relayed;
  const snapshot = () => ppsp.usages.map((u) => ({ ppspp: u.channelsOpened.ppspp, tls: tlsChannels(u), overlay: u.channelsOpened.overlay }));

  async function source(name: string, bytes: number): Promise<{ path: string; content: Buffer }> {
    const content = randomBytes(bytes);
    const path = join(dir, name);
    await writeFile(path, content);
    return { path, content };
  }

  it('1 seeder and 10 leechers all finish byte-identical over ppspp alone, leechers uploading to each other', async () => {
    const { path, content } = await source('swarm.bin', 3 * MiB + 777);
    const before = snapshot();
    const meta = await usageOf(0).seed(path);
    const leechers = Array.from({ length: 10 }, (_, i) => usageOf(i + 1));
    const swarms = await Promise.all(leechers.map((u, i) => u.download(meta.swarmId, join(dir, `out${i}.bin`))));
    await Promise.all(swarms.map((s) => s.done));
    for (let i = 0; i < 10; i++) expect((await readFile(join(dir, `out${i}.bin`))).equals(content), `leecher ${i}`).to.equal(true);
    const after = snapshot();
    const opened = (k: 'ppspp' | 'tls' | 'overlay') => after.reduce((sum, a, i) => sum + a[k] - before[i]![k], 0);
    expect(opened('ppspp'), 'ppspp channels opened').to.be.at.least(10);
    expect(opened('tls'), 'tls channels opened').to.equal(0);
    expect(opened('overlay'), 'relayed channels opened').to.equal(0);
    const leechNodes = ppsp.net.nodes.slice(1, 11);
    const uploaders = swarms.filter((s) => leechNodes.some((n) => s.uploadedTo(n.nodeIdHex) > 0));
    expect(uploaders.length, 'leechers that uploaded to other leechers').to.be.greaterThan(1);
    for (const s of swarms) expect(s.stats.corruptCaught, 'chunks that failed their leaf hash').to.equal(0);
    for (const u of leechers) await u.stopSwarm(meta.swarmId);
    await usageOf(0).stopSwarm(meta.swarmId);
  });

  it('with 5 % of all datagrams lost, 1 seeder and 3 leechers still finish byte-identical over ppspp', async () => {
    const { path, content } = await source('lossy.bin', 1536 * 1024 + 5);
    // Only the ppspp sockets speak UDP in this process: every datagram they send is dropped at
    // random, 1 in 20, from a seeded generator so a failure can be replayed.
    const send = Socket.prototype.send;
    let seed = 0x2545f491;
    const random = () => ((seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32);
    let dropped = 0;
    Socket.prototype.send = function (this: Socket, ...args: unknown[]) {
      if (random() < 0.05) {
        dropped++;
        const callback = args.find((a) => typeof a === 'function') as (() => void) | undefined;
        callback?.();
        return;
      }
      return (send as (...a: unknown[]) => void).apply(this, args);
    } as typeof send;
    try {
      const before = snapshot();
      const meta = await usageOf(0).seed(path);
      const leechers = [usageOf(6), usageOf(7), usageOf(8)];
      const swarms = await Promise.all(leechers.map((u, i) => u.download(meta.swarmId, join(dir, `lossy${i}.bin`))));
      await Promise.all(swarms.map((s) => s.done));
      for (let i = 0; i < 3; i++) expect((await readFile(join(dir, `lossy${i}.bin`))).equals(content), `leecher ${i}`).to.equal(true);
      expect(dropped, 'datagrams dropped').to.be.greaterThan(20);
      const after = snapshot();
      for (const i of [6, 7, 8]) expect(after[i]!.tls - before[i]!.tls, `tls channels of node ${i}`).to.equal(0);
      for (const u of leechers) await u.stopSwarm(meta.swarmId);
      await usageOf(0).stopSwarm(meta.swarmId);
    } finally {
      Socket.prototype.send = send;
    }
  });

  it('a tls-only swarm is never offered over ppspp: its ID commits to it, and peers that both offer ppspp take tls', async () => {
    const { path, content } = await source('private.bin', 600 * 1024);
    const before = snapshot();
    const meta = await usageOf(0).seed(path, { tlsOnly: true });
    expect(meta.tlsOnly).to.equal(true);
    expect(meta.swarmId, 'the ID of the same file seeded openly').to.not.equal(swarmIdOf(meta.rootHash, meta.contentLength, meta.chunkSize));
    expect(usageOf(0).signalling.offeredFor(meta.swarmId).map((t) => t.type)).to.not.include('ppspp');
    const swarm = await usageOf(3).download(meta.swarmId, join(dir, 'private-out.bin'));
    await swarm.done;
    expect((await readFile(join(dir, 'private-out.bin'))).equals(content)).to.equal(true);
    // The leecher learned from the verified metadata that the swarm is tls-only, and offers no ppspp for it either.
    expect(swarm.metadata?.tlsOnly).to.equal(true);
    expect(usageOf(3).signalling.offeredFor(meta.swarmId).map((t) => t.type)).to.not.include('ppspp');
    const after = snapshot();
    expect(after[3]!.ppspp - before[3]!.ppspp, 'ppspp channels the leecher opened').to.equal(0);
    expect(after[3]!.tls - before[3]!.tls, 'tls channels the leecher opened').to.be.greaterThan(0);
    await usageOf(3).stopSwarm(meta.swarmId);
    await usageOf(0).stopSwarm(meta.swarmId);
  });

  it('a peer that does not offer ppspp is reached over tls by one that prefers ppspp', async () => {
    const { path, content } = await source('mixed.bin', 400 * 1024);
    const meta = await usageOf(PLAIN).seed(path);
    const before = snapshot();
    const swarm = await usageOf(5).download(meta.swarmId, join(dir, 'mixed-out.bin'));
    await swarm.done;
    expect((await readFile(join(dir, 'mixed-out.bin'))).equals(content)).to.equal(true);
    const after = snapshot();
    expect(after[5]!.ppspp - before[5]!.ppspp).to.equal(0);
    expect(after[5]!.tls - before[5]!.tls).to.be.greaterThan(0);
    await usageOf(5).stopSwarm(meta.swarmId);
    await usageOf(PLAIN).stopSwarm(meta.swarmId);
  });
});
