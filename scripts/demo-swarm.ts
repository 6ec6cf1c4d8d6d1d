/**
 * The PPSP part of the demo: node1 seeds a generated file, every other node downloads it at once
 * through its API, progress is shown as it goes, and each copy's SHA-256 is compared with the
 * original's at the end.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { callApi } from './api-client.js';
import type { NodeProcess } from './node-process.js';

/** Progress lines while the download runs, at most this often, ms. */
const PROGRESS_EVERY_MS = 1000;
/** A download that gains nothing for this long is reported as stuck, ms. */
const STALL_MS = 60_000;

interface SwarmStatus {
  complete: boolean;
  have: number;
  total: number;
  uploadedBytes: number;
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/** Writes `bytes` of random content in 1 MiB pieces (constant memory). */
async function generate(path: string, bytes: number): Promise<void> {
  const out = createWriteStream(path);
  for (let left = bytes; left > 0; left -= 1 << 20) {
    if (!out.write(randomBytes(Math.min(left, 1 << 20)))) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
}

/** Runs the swarm step; returns the problems found (none = all copies verified and identical). */
export async function demoSwarm(nodes: NodeProcess[], dir: string, sizeMiB: number, say: (line: string) => void): Promise<string[]> {
  const source = join(dir, 'video.bin');
  await generate(source, sizeMiB * 1024 * 1024);
  const seeded = (await callApi(nodes[0]!.api, 'POST', '/swarms', { path: source }, 600_000)) as { swarmId: string; chunkCount: number };
  say(`      node1 seeds ${sizeMiB} MiB as swarm ${seeded.swarmId.slice(0, 16)}… (${seeded.chunkCount} chunks, Merkle-verified)`);
  const leechers = nodes.slice(1);
  await Promise.all(leechers.map((n, i) => callApi(n.api, 'POST', `/swarms/${seeded.swarmId}/download`, { out: join(dir, `copy${i + 2}.bin`) })));
  say(`      ${leechers.length} nodes download it at once, from the seeder and from each other`);
  const started = Date.now();
  let lastGain = Date.now();
  let lastHave = -1;
  for (;;) {
    await new Promise((r) => setTimeout(r, PROGRESS_EVERY_MS));
    const all = (await Promise.all(leechers.map((n) => callApi(n.api, 'GET', `/swarms/${seeded.swarmId}`)))) as SwarmStatus[];
    const have = all.reduce((s, x) => s + x.have, 0);
    const total = seeded.chunkCount * leechers.length;
    const secs = (Date.now() - started) / 1000;
    say(`      ${((100 * have) / total).toFixed(0).padStart(3)}%  ${all.filter((x) => x.complete).length}/${leechers.length} complete  ${((have * sizeMiB) / seeded.chunkCount / secs).toFixed(1)} MiB/s in all`);
    if (all.every((x) => x.complete)) {
      const shared = all.reduce((s, x) => s + x.uploadedBytes, 0);
      say(`      done in ${secs.toFixed(1)} s; leechers uploaded ${(shared / 1024 / 1024).toFixed(1)} MiB to each other`);
      break;
    }
    if (have !== lastHave) [lastHave, lastGain] = [have, Date.now()];
    else if (Date.now() - lastGain > STALL_MS) return [`the downloads made no progress for ${STALL_MS / 1000} s`];
  }
  const want = await sha256Of(source);
  const problems: string[] = [];
  for (let i = 0; i < leechers.length; i++) {
    const got = await sha256Of(join(dir, `copy${i + 2}.bin`));
    if (got !== want) problems.push(`node${i + 2}'s copy has SHA-256 ${got}, the original ${want}`);
  }
  say(`      SHA-256 of every copy ${problems.length === 0 ? 'equals' : 'does NOT equal'} the original's (${want.slice(0, 16)}…)`);
  return problems;
}
