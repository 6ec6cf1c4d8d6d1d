/**
 * The PPSP usage over an in-process overlay on real TLS: swarms kept through a SwarmRecordStore
 * across a restart (a new PpspUsage on the same store), a seeded file that changes on disk, and
 * the per-swarm metrics families.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../overlay/log.js';
import type { Node } from '../../../overlay/node.js';
import { hashFile } from '../../../usages/ppsp/content/chunker.js';
import { PpspUsage } from '../../../usages/ppsp/ppsp-usage.js';
import { startTestnet, type Testnet } from '../../helpers/testnet.js';
import { waitFor } from '../../helpers/wait.js';
import { rejection } from '../../helpers/rejection.js';
import { downloadPpspp } from '../../../usages/ppsp/ppspp/ppspp-download.js';
import { PpsppEndpoint } from '../../../usages/ppsp/ppspp/ppspp-endpoint.js';
import { MemoryRecordStore } from './store/memory-record-store.js';

const PROPS = { accessType: 'fixed' as const, upKbps: 10_000, downKbps: 10_000, nat: 'unknown' as const, uptimeSec: 0 };
const FAST = { tickIntervalMs: 50, rechokeIntervalMs: 300, requestTimeoutMs: 2000, redialIntervalMs: 300 };

/** One node's usage, what it logged, and how many files it hashed. */
interface Member {
  node: Node;
  usage: PpspUsage;
  logs: string[];
  hashed: number;
}

describe('PPSP usage: restarts, changed seed files, metrics', function () {
  this.timeout(120_000);
  let net: Testnet;
  let dir: string;
  const members: Member[] = [];
  /** Usages 0 and 1 share `seeds` (1 is 0 restarted), 3 too (a later restart); 4 and 5 share `downloads`; 8 and 9 `udpSeeds`. */
  const seeds = new MemoryRecordStore();
  const downloads = new MemoryRecordStore();
  const udpSeeds = new MemoryRecordStore();
  const storeOf = (i: number) => (i <= 1 || i === 3 ? seeds : i === 4 || i === 5 ? downloads : i >= 8 ? udpSeeds : undefined);
  const started = new Set<number>();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ppsp-usage-'));
    net = await startTestnet(10, {
      batch: 4,
      beforeStart: (node, i) => {
        const logs: string[] = [];
        const member: Member = { node, usage: undefined!, logs, hashed: 0 };
        member.usage = new PpspUsage({
          properties: PROPS,
          records: storeOf(i),
          data: {
            swarm: FAST,
            log: createLogger(`n${i}`, (level, _ns, msg) => logs.push(`${level} ${msg}`), 'info'),
            hasher: (path, chunkSize) => {
              member.hashed++;
              return hashFile(path, chunkSize);
            },
          },
        });
        member.usage.attach(node);
        members[i] = member;
      },
    });
    // 1, 3, 5 and 9 are the restarts: started by their tests, on the store an earlier usage filled.
    for (const i of [0, 2, 4, 6, 7, 8]) await start(i);
  });

  async function start(i: number): Promise<Member> {
    await members[i]!.usage.start();
    started.add(i);
    return members[i]!;
  }

  after(async () => {
    for (const i of started) await members[i]!.usage.stop();
    await net?.stopAll();
    await rm(dir, { recursive: true, force: true });
  });

  it('a restarted usage serves a seeded file again from its record without hashing it, and a leecher gets it byte-identical', async () => {
    const content = randomBytes(1024 * 1024 + 777);
    const path = join(dir, 'seeded.bin');
    await writeFile(path, content);
    const meta = await members[0]!.usage.seed(path);
    expect(members[0]!.hashed).to.equal(1);
    const record = seeds.records.get(meta.swarmId)!;
    expect(record).to.include({ role: 'seed', path });
    expect(record.leafHashes?.length).to.equal(32 * meta.chunkCount);
    expect(record.file?.size).to.equal(content.length);

    await members[0]!.usage.stop();
    started.delete(0);
    const restarted = await start(1);
    expect(restarted.hashed, 'files hashed by the restarted usage').to.equal(0);
    const swarm = restarted.usage.swarm(meta.swarmId);
    expect(swarm?.complete, 'served again').to.equal(true);
    expect(restarted.logs.some((l) => l.includes('again, unchanged'))).to.equal(true);

    const leecher = members[2]!;
    const got = await leecher.usage.download(meta.swarmId, join(dir, 'leeched.bin'));
    await got.done;
    expect((await readFile(join(dir, 'leeched.bin'))).equals(content)).to.equal(true);

    // The metrics of both ends, one sample per swarm held.
    const sample = (m: Member, family: string) => {
      const line = m.node.metrics.render().split('\n').find((l) => l.startsWith(`${family}{swarm="${meta.swarmId}"}`));
      expect(line, `${family} on ${m.node.nodeIdHex.slice(0, 8)}`).to.be.a('string');
      return Number(line!.split(' ').at(-1));
    };
    expect(sample(leecher, 'reload_ppsp_chunks_verified_total')).to.equal(meta.chunkCount);
    expect(sample(leecher, 'reload_ppsp_downloaded_bytes_total')).to.equal(content.length);
    expect(sample(leecher, 'reload_ppsp_corrupt_chunks_total')).to.equal(0);
    expect(sample(leecher, 'reload_ppsp_peers')).to.equal(got.peerIds().length);
    expect(sample(restarted, 'reload_ppsp_uploaded_bytes_total')).to.equal(content.length);
    expect(sample(restarted, 'reload_ppsp_chunks_verified_total')).to.equal(0);
    expect(restarted.node.metrics.render()).to.match(/# TYPE reload_ppsp_peers gauge/);

    // Asked again into the same file: nothing to do while it is intact; fetched again once it changed.
    const same = await leecher.usage.writeTo(meta.swarmId, join(dir, 'leeched.bin'), true);
    expect(same.started).to.equal(false);
    await writeFile(join(dir, 'leeched.bin'), 'damaged');
    const again = await leecher.usage.writeTo(meta.swarmId, join(dir, 'leeched.bin'), true);
    expect(again.started, 'a changed file is downloaded again').to.equal(true);
    await again.swarm.done;
    expect((await readFile(join(dir, 'leeched.bin'))).equals(content)).to.equal(true);
  });

  it('a file also served over PPSPP is served there again after a restart, at the same URL, until its swarm stops', async () => {
    const content = randomBytes(300 * 1024 + 5);
    const path = join(dir, 'udp-seeded.bin');
    await writeFile(path, content);
    const meta = await members[8]!.usage.seed(path, { ppspp: { host: '127.0.0.1', port: 0 } });
    const { url, rootHash, address } = meta.ppspp!;
    await members[8]!.usage.stop();
    started.delete(8);
    const restarted = await start(9);
    expect(restarted.logs.some((l) => l.includes(`over PPSPP again: ${url}`)), 'said where it serves').to.equal(true);
    const peer = { host: '127.0.0.1', port: Number(address.split(':')[1]) };
    const endpoint = await PpsppEndpoint.bind('127.0.0.1', 0);
    try {
      const out = join(dir, 'udp-copy.bin');
      await downloadPpspp({ endpoint, peers: [peer], root: Buffer.from(rootHash, 'hex'), out, idleTimeoutMs: 5000 });
      expect((await readFile(out)).equals(content)).to.equal(true);
      expect(await restarted.usage.stopSwarm(meta.swarmId)).to.equal(true);
      const e = await rejection(downloadPpspp({ endpoint, peers: [peer], root: Buffer.from(rootHash, 'hex'), out: join(dir, 'udp-again.bin'), idleTimeoutMs: 1500 }));
      expect(e.message, 'nobody serves it once its swarm stopped').to.match(/^no answer from 127\.0\.0\.1:\d+/);
    } finally {
      await endpoint.close();
    }
  });

  it('a record whose file changed while the node was down is dropped with a warning, not served', async () => {
    const path = join(dir, 'seeded.bin');
    const { metadata } = await hashFile(path);
    expect(seeds.records.has(metadata.swarmId)).to.equal(true);
    await writeFile(path, randomBytes(4096));
    const later = await start(3);
    expect(later.usage.swarm(metadata.swarmId)).to.equal(undefined);
    expect(later.hashed).to.equal(0);
    expect(seeds.records.has(metadata.swarmId), 'record dropped').to.equal(false);
    expect(later.logs.find((l) => l.startsWith('warn') && l.includes(path))).to.match(/changed since it was hashed .*seed it again/);
  });

  it('a partial download resumes after a restart; once complete its record says so, and a stop deletes it', async () => {
    const content = randomBytes(512 * 1024 + 5);
    const source = join(dir, 'later.bin');
    await writeFile(source, content);
    const { metadata } = await hashFile(source);
    const out = join(dir, 'resumed.bin');
    // Nobody seeds it yet: the download waits for a peer, and its record is kept.
    await members[4]!.usage.download(metadata.swarmId, out);
    expect(downloads.records.get(metadata.swarmId)).to.include({ role: 'download', path: out });
    await members[4]!.usage.stop();
    started.delete(4);

    const restarted = await start(5);
    const swarm = restarted.usage.swarm(metadata.swarmId);
    expect(swarm?.role, 'resumed').to.equal('download');
    await members[6]!.usage.seed(source);
    await swarm!.done;
    expect((await readFile(out)).equals(content)).to.equal(true);
    await waitFor(() => downloads.records.get(metadata.swarmId)?.leafHashes !== undefined, 5000, 'record of the finished download');
    expect(downloads.records.get(metadata.swarmId)!.file?.size).to.equal(content.length);
    // Stopped by its owner (DELETE /swarms/<id>), it is no longer kept across restarts.
    expect(await restarted.usage.stopSwarm(metadata.swarmId)).to.equal(true);
    expect(downloads.records.has(metadata.swarmId)).to.equal(false);
  });

  it('a seeder whose file changes stops serving it and says what to do; the leecher learns why the seeder left', async () => {
    const path = join(dir, 'changing.bin');
    await writeFile(path, randomBytes(768 * 1024));
    const seeder = members[6]!;
    const meta = await seeder.usage.seed(path);
    // Same size, other bytes: only the modification time tells.
    await writeFile(path, randomBytes(768 * 1024));
    const leecher = members[7]!;
    const swarm = await leecher.usage.download(meta.swarmId, join(dir, 'changing-copy.bin'));
    await waitFor(() => seeder.usage.swarm(meta.swarmId) === undefined, 20_000, 'the seeder stops serving');
    const warning = seeder.logs.find((l) => l.startsWith('warn') && l.includes(path));
    expect(warning).to.match(/changed on disk after it was hashed \(modification time\): stopped serving swarm .*Seed the file again/);
    expect(seeder.usage.failureOf(meta.swarmId)).to.match(/changed on disk/);
    await waitFor(() => swarm.stats.peerErrors.get(seeder.node.nodeIdHex)?.startsWith('seed_changed') === true || swarm.stats.banned.has(seeder.node.nodeIdHex), 20_000, 'the leecher knows why');
    expect(swarm.stats.chunksReceived).to.equal(0);
    expect(await leecher.usage.stopSwarm(meta.swarmId)).to.equal(true);
    expect(leecher.usage.swarm(meta.swarmId)).to.equal(undefined);
  });

  it('stopping a download keeps its verified chunks on disk, and a later download resumes from them', async () => {
    const content = randomBytes(4 * 1024 * 1024);
    const source = join(dir, 'stopped.bin');
    await writeFile(source, content);
    const meta = await members[6]!.usage.seed(source);
    const leecher = members[7]!;
    const out = join(dir, 'stopped-copy.bin');
    const swarm = await leecher.usage.download(meta.swarmId, out);
    let stopping: Promise<boolean> | undefined;
    swarm.on('progress', (p: { have: number }) => {
      if (p.have >= 8) stopping ??= leecher.usage.stopSwarm(meta.swarmId);
    });
    await waitFor(() => stopping !== undefined, 20_000, 'some chunks stored');
    expect(await stopping).to.equal(true);
    expect(leecher.usage.swarm(meta.swarmId)).to.equal(undefined);
    expect(existsSync(out + '.part'), 'the part file stays').to.equal(true);
    expect(existsSync(out)).to.equal(false);
    const again = await leecher.usage.download(meta.swarmId, out);
    await again.done;
    expect(again.stats.resumedChunks).to.be.at.least(8);
    expect((await readFile(out)).equals(content)).to.equal(true);
  });
});
