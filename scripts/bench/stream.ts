/**
 * `npm run bench -- stream`: how soon a player gets bytes while a swarm downloads. Four seeders,
 * each a real `reload-ppsp node` process limited to a quarter of a 100 MB/s link (25 MB/s, as in the
 * webtorrent comparison of issue 12), serve a 256 MiB and a 1 GiB file; a viewer node starts the
 * download through its API (what `watch` does) and reads its stream URL: time to the first byte and
 * to the first MiB from the start of the download, then the first byte after 20 random seeks
 * (p50/p95) while it downloads. The baseline is the same reads, in the same run, from a seeder's
 * stream of its complete local copy; and the first byte again with a viewer limited to 20 Mbit/s.
 */
import { request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enrollLocal, initCaDir } from '../../certs/ca-dir.js';
import { callApi } from '../api-client.js';
import { startNodeProcess, type NodeProcess } from '../node-process.js';
import { generate } from './swarm.js';

const OVERLAY = 'bench-stream.reload';
const MiB = 1024 * 1024;
const SEEDER_LIMIT = '25M';
const SEEKS = 20;
/** Milliseconds a read may take before the bench gives up on it. */
const READ_TIMEOUT_MS = 60_000;

interface Reads {
  firstByteMs: number;
  firstMiBMs: number;
  seekFirstByteMs: { p50: number; p95: number; max: number };
}

/** Ms from `startedAt` to the first body byte and to `bytes` body bytes of GET url with `range`. */
function timedRead(url: string, range: string, bytes: number, startedAt = performance.now()): Promise<{ firstMs: number; allMs: number }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    let got = 0;
    let firstMs = -1;
    const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, headers: { range }, timeout: READ_TIMEOUT_MS }, (res) => {
      if (res.statusCode !== 206) return reject(new Error(`GET ${range}: HTTP ${res.statusCode}`));
      res.on('data', (chunk: Buffer) => {
        if (firstMs < 0) firstMs = performance.now() - startedAt;
        got += chunk.length;
        if (got >= bytes) {
          resolve({ firstMs, allMs: performance.now() - startedAt });
          req.destroy();
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no ${bytes} bytes of ${range} within ${READ_TIMEOUT_MS} ms`)));
    req.on('error', (e) => (got >= bytes ? undefined : reject(e)));
    req.end();
  });
}

/** The nearest-rank percentile: the smallest value with at least p % of the values at or below it. */
function percentile(sorted: number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const round = (ms: number) => Math.round(ms * 10) / 10;

/** The first byte after each of `SEEKS` random seeks (64 KiB read each), in ms. */
async function seeks(url: string, size: number, random: () => number): Promise<Reads['seekFirstByteMs']> {
  const times: number[] = [];
  for (let i = 0; i < SEEKS; i++) {
    const at = Math.floor(random() * (size - MiB));
    times.push((await timedRead(url, `bytes=${at}-`, 64 * 1024)).firstMs);
  }
  times.sort((a, b) => a - b);
  return { p50: round(percentile(times, 50)), p95: round(percentile(times, 95)), max: round(times.at(-1)!) };
}

/** A seeded random in [0, 1), so both runs seek to the same places. */
function seeded(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

async function streamUrl(node: NodeProcess, swarmId: string): Promise<string> {
  return ((await callApi(node.api, 'POST', `/swarms/${swarmId}/capability`, {})) as { streamUrl: string }).streamUrl;
}

/** Starts the download on `viewer` as `watch` does, then reads its stream; the download is stopped after. */
async function watchReads(viewer: NodeProcess, swarmId: string, out: string, size: number, withSeeks: boolean): Promise<Reads & { completeAtEnd: boolean }> {
  const started = performance.now();
  await callApi(viewer.api, 'POST', `/swarms/${swarmId}/download`, { out });
  const url = await streamUrl(viewer, swarmId);
  const { firstMs, allMs } = await timedRead(url, 'bytes=0-', MiB, started);
  const seek = withSeeks ? await seeks(url, size, seeded(size)) : { p50: NaN, p95: NaN, max: NaN };
  const { complete } = (await callApi(viewer.api, 'GET', `/swarms/${swarmId}`)) as { complete: boolean };
  await callApi(viewer.api, 'DELETE', `/swarms/${swarmId}`);
  return { firstByteMs: round(firstMs), firstMiBMs: round(allMs), seekFirstByteMs: seek, completeAtEnd: complete };
}

async function localReads(node: NodeProcess, swarmId: string, size: number): Promise<Reads> {
  const url = await streamUrl(node, swarmId);
  const { firstMs, allMs } = await timedRead(url, 'bytes=0-', MiB);
  return { firstByteMs: round(firstMs), firstMiBMs: round(allMs), seekFirstByteMs: await seeks(url, size, seeded(size)) };
}

/** A first, unmeasured stream of this size by each viewer: a fresh process runs its data path unoptimized at first (see bench swarm). */
const WARM_UP_MIB = 16;

export async function benchStream(opts: { sizeMiB?: number } = {}): Promise<Record<string, unknown>> {
  const sizes = opts.sizeMiB ? [opts.sizeMiB] : [256, 1024];
  const dir = await mkdtemp(join(tmpdir(), 'reload-bench-stream-'));
  const nodes: NodeProcess[] = [];
  try {
    await initCaDir(join(dir, 'ca'), OVERLAY);
    const names = ['s1', 's2', 's3', 's4', 'viewer', 'slow'];
    for (const n of names) await enrollLocal(join(dir, 'ca'), `${n}@${OVERLAY}`, join(dir, n));
    for (const n of names) {
      const extraArgs = n.startsWith('s') && n !== 'slow' ? ['--upload-limit', SEEDER_LIMIT] : n === 'slow' ? ['--download-limit', '20Mbit'] : [];
      nodes.push(await startNodeProcess({ config: join(dir, 'ca', 'overlay.json'), identity: join(dir, n), bootstrap: nodes[0] ? [nodes[0].listen] : [], extraArgs}));
    }
    const seeders = nodes.slice(0, 4);
    const [viewer, slow] = [nodes[4]!, nodes[5]!];
    const warm = join(dir, 'warm-up.bin');
    await generate(warm, WARM_UP_MIB * MiB);
    let warmId = '';
    for (const s of seeders) warmId = ((await callApi(s.api, 'POST', '/swarms', { path: warm }, 600_000)) as { swarmId: string }).swarmId;
    for (const v of [viewer, slow]) await watchReads(v, warmId, join(dir, `warm-${v.nodeId}.bin`), WARM_UP_MIB * MiB, true);
    const results: Record<string, unknown>[] = [];
    for (const sizeMiB of sizes) {
      const size = sizeMiB * MiB;
      const file = join(dir, `content-${sizeMiB}.bin`);
      await generate(file, size);
      let swarmId = '';
      for (const s of seeders) swarmId = ((await callApi(s.api, 'POST', '/swarms', { path: file }, 600_000)) as { swarmId: string }).swarmId;
      const watching = await watchReads(viewer, swarmId, join(dir, `viewer-${sizeMiB}.bin`), size, true);
      const local = await localReads(seeders[0]!, swarmId, size);
      const slowViewer = await watchReads(slow, swarmId, join(dir, `slow-${sizeMiB}.bin`), size, false);
      for (const s of seeders) await callApi(s.api, 'DELETE', `/swarms/${swarmId}`);
      await rm(file, { force: true });
      results.push({
        fileMiB: sizeMiB,
        whileDownloading: watching,
        completeLocalCopy: local,
        viewerAt20Mbit: { firstByteMs: slowViewer.firstByteMs, firstMiBMs: slowViewer.firstMiBMs },
      });
    }
    return {
      bench: 'stream',
      seeders: 4,
      seederUploadLimit: `${SEEDER_LIMIT}B/s each (a quarter of a 100 MB/s link)`,
      chunkBytes: 16 * 1024,
      results,
      warmUpMiB: WARM_UP_MIB,
      aims: 'first byte <= 150 ms on loopback for both sizes, <= 1 s at 20 Mbit/s, seek p95 <= 250 ms while downloading',
      note: 'Times run from the POST that starts the download (what `watch` does) to the body bytes of GET /swarms/<id>/stream; seeks are fresh connections with Range: bytes=N-. whileDownloading.completeAtEnd says whether the download had finished by the last seek.',
    };
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    await rm(dir, { recursive: true, force: true });
  }
}
