/**
 * `npm run bench -- swarm`: how fast one leecher downloads a file (256 MiB by default) over the
 * PPSP usage from 1 seeder and from 4 seeders (the first leecher stopped, so exactly four copies
 * serve), and from 1 seeder over the `ppspp` transport (two more nodes, both started with
 * `--ppspp-transport`), each a real `reload-ppsp node` process on
 * 127.0.0.1, beside raw TLS bulk throughput measured in the same run (one TLS 1.3 connection with
 * the same kind of certificates, 64 KiB writes), and the leecher process's peak RSS, which must
 * not grow with the file (chunks go to disk, not memory).
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enrollLocal, initCaDir } from '../../certs/ca-dir.js';
import { loadIdentity } from '../../certs/identity.js';
import { callApi } from '../api-client.js';
import { startNodeProcess, type NodeProcess } from '../node-process.js';
import { rawTlsBulk } from './tls-bulk.js';

const OVERLAY = 'bench-swarm.reload';
/**
 * A first, unmeasured download of this size by every node: a fresh process runs its data path
 * unoptimized for its first couple of hundred MB/s-milliseconds (the JIT warms up), which would
 * otherwise count in a 256 MiB figure though a node that has run for a while never pays it.
 */
const WARM_UP_MIB = 32;
/** How often the download's completion is polled, ms: small beside a transfer of a second or less. */
const POLL_MS = 10;

/** Peak and current resident set of a process, MiB (Linux /proc). */
async function rssOf(pid: number): Promise<{ peakMiB: number; nowMiB: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { peakMiB: Math.round(kib('VmHWM') / 1024), nowMiB: Math.round(kib('VmRSS') / 1024) };
}

export async function generate(path: string, bytes: number): Promise<void> {
  const out = createWriteStream(path);
  for (let left = bytes; left > 0; left -= 1 << 20) {
    if (!out.write(randomBytes(Math.min(left, 1 << 20)))) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
}

/** Seconds for `leecher` to download the swarm, polled through its API. */
async function download(leecher: NodeProcess, swarmId: string, out: string): Promise<number> {
  const started = Date.now();
  await callApi(leecher.api, 'POST', `/swarms/${swarmId}/download`, { out });
  for (;;) {
    const s = (await callApi(leecher.api, 'GET', `/swarms/${swarmId}`)) as { complete: boolean };
    if (s.complete) return (Date.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

export async function benchSwarm(opts: { sizeMiB?: number } = {}): Promise<Record<string, unknown>> {
  const sizeMiB = opts.sizeMiB ?? 256;
  const bytes = sizeMiB * 1024 * 1024;
  const dir = await mkdtemp(join(tmpdir(), 'reload-bench-swarm-'));
  const nodes: NodeProcess[] = [];
  try {
    await initCaDir(join(dir, 'ca'), OVERLAY);
    const names = ['s1', 's2', 's3', 's4', 'leech1', 'leech4', 'udpSeed', 'udpLeech'];
    for (const n of names) await enrollLocal(join(dir, 'ca'), `${n}@${OVERLAY}`, join(dir, n));
    for (const n of names) {
      const extraArgs = n.startsWith('udp') ? ['--ppspp-transport', '127.0.0.1:0'] : [];
      nodes.push(await startNodeProcess({ config: join(dir, 'ca', 'overlay.json'), identity: join(dir, n), bootstrap: nodes[0] ? [nodes[0].listen] : [], extraArgs }));
    }
    const [s1, s2, s3, s4, leech1, leech4, udpSeed, udpLeech] = nodes as [NodeProcess, NodeProcess, NodeProcess, NodeProcess, NodeProcess, NodeProcess, NodeProcess, NodeProcess];
    const file = join(dir, 'content.bin');
    await generate(file, bytes);

    const identity = await loadIdentity(join(dir, 's1'));
    const caPem = await readFile(join(dir, 'ca', 'ca.crt'), 'utf8');
    const rawMBps = await rawTlsBulk(identity.keyPem, identity.certPem, caPem, bytes);

    const warmFile = join(dir, 'warm-up.bin');
    await generate(warmFile, WARM_UP_MIB * 1024 * 1024);
    let warmId = '';
    for (const s of [s1, s2, s3, s4, udpSeed]) warmId = ((await callApi(s.api, 'POST', '/swarms', { path: warmFile }, 600_000)) as { swarmId: string }).swarmId;
    for (const l of [leech1, leech4]) await download(l, warmId, join(dir, `warm-up-${l.nodeId}.bin`));
    // The ppspp leecher warms up too (over ppspp from its seeder, over tls from the others).
    await download(udpLeech, warmId, join(dir, 'warm-up-udp.bin'));

    const { swarmId } = (await callApi(s1.api, 'POST', '/swarms', { path: file }, 600_000)) as { swarmId: string };
    const rssBefore = await rssOf(leech1.child.pid!);
    const oneSec = await download(leech1, swarmId, join(dir, 'from1.bin'));
    const rssAfter = await rssOf(leech1.child.pid!);
    // The first leecher holds the whole file now and would serve as a fifth copy: stop it, so the
    // second download has exactly four sources.
    await leech1.stop();
    for (const s of [s2, s3, s4]) await callApi(s.api, 'POST', '/swarms', { path: file }, 600_000);
    const fourSec = await download(leech4, swarmId, join(dir, 'from4.bin'));
    const rss4 = await rssOf(leech4.child.pid!);
    // Over ppspp: a file of the same size that only the ppspp seeder holds, so it is the one source.
    const udpFile = join(dir, 'content-udp.bin');
    await generate(udpFile, bytes);
    const { swarmId: udpSwarm } = (await callApi(udpSeed.api, 'POST', '/swarms', { path: udpFile }, 600_000)) as { swarmId: string };
    const udpSec = await download(udpLeech, udpSwarm, join(dir, 'fromUdp.bin'));
    const opened = ((await callApi(udpLeech.api, 'GET', '/swarms')) as { channelsOpened: Record<string, number> }).channelsOpened;
    const mb = bytes / 1e6;
    return {
      bench: 'swarm',
      fileMiB: sizeMiB,
      chunkBytes: 16 * 1024,
      rawTlsBulkMBps: Math.round(rawMBps),
      oneSeeder: { seconds: Number(oneSec.toFixed(2)), MBps: Math.round(mb / oneSec), vsRawTls: Number((mb / oneSec / rawMBps).toFixed(3)) },
      fourSeeders: { seconds: Number(fourSec.toFixed(2)), MBps: Math.round(mb / fourSec), vsOneSeeder: Number((oneSec / fourSec).toFixed(3)) },
      oneSeederOverPpspp: { seconds: Number(udpSec.toFixed(2)), MBps: Math.round(mb / udpSec), vsOneSeederOverTls: Number((oneSec / udpSec).toFixed(3)), channelsOpened: opened },
      leecherRssMiB: { beforeDownload: rssBefore.nowMiB, peakDuringOneSeeder: rssAfter.peakMiB, peakDuringFourSeeders: rss4.peakMiB },
      warmUpMiB: WARM_UP_MIB,
      note: `Each node is its own process, warmed up by a ${WARM_UP_MIB} MiB download first; the raw TLS figure is one connection in this process. RSS is the leecher process (VmHWM), which holds no chunk cache: it should stay flat as the file grows.`,
    };
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    await rm(dir, { recursive: true, force: true });
  }
}
