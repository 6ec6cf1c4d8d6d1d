/**
 * `npm run bench -- ppspp`: our RFC 7574 transport over UDP, in two parts.
 *
 * 1. Throughput of one leecher from one seeder on 127.0.0.1 for a file (64 MiB by default): PPSPP
 *    with SHA-1 and 1 KiB chunks (libswift's geometry) and with SHA-256 and 16 KiB chunks (our own
 *    swarms'), beside one TLS 1.3 connection's raw bulk (certificates made as in the swarm bench)
 *    and raw 1 KiB UDP datagrams from one socket to another, all measured in this run, in this one
 *    process (both ends share its event loop, baselines included), each RUNS times, medians.
 *
 * 2. LEDBAT on a bottleneck (as root: network namespaces, scripts/netem-hosts.sh with --rate): hosts
 *    A and B with LINK_DELAY_MS each way and LINK_MBIT into each host through a tail-drop queue of
 *    LINK_QUEUE_MS. A seeds over PPSPP, B downloads; a TCP bulk flow goes the same way, A to B; B
 *    probes an echo in A over UDP. Phases: idle (the base round trip), TCP alone, PPSPP alone, PPSPP
 *    with TCP. Reported: the queueing delay the seeder's LEDBAT estimates (its own one-way delay
 *    samples less their minimum), the probe's round trip less the idle one (what the queue adds for
 *    everyone else), and each flow's throughput; LEDBAT should hold the queue at ≤ 100 ms alone and
 *    yield to TCP when both run.
 */
import { execFile, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { enrollLocal, initCaDir } from '../../certs/ca-dir.js';
import { loadIdentity } from '../../certs/identity.js';
import { PpsppContent } from '../../usages/ppsp/ppspp/ppspp-content.js';
import { downloadPpspp } from '../../usages/ppsp/ppspp/ppspp-download.js';
import { PpsppEndpoint } from '../../usages/ppsp/ppspp/ppspp-endpoint.js';
import { PpsppServer } from '../../usages/ppsp/ppspp/ppspp-server.js';
import type { MerkleHashFunction } from '../../usages/ppsp/ppspp/ppspp-options.js';
import { labScript, NamespaceHosts } from '../netns/namespace-hosts.js';
import { percentile, round } from './measure.js';
import { generate } from './swarm.js';
import { rawTlsBulk } from './tls-bulk.js';

const OVERLAY = 'bench-ppspp.reload';
export const DEFAULT_PPSPP_BENCH_MIB = 64;
/** Measurements of each kind; the median is reported. */
const RUNS = 3;
/** An unmeasured first download of this size warms the JIT up (capped at the file's size). */
const WARM_UP_MIB = 8;

const UDP_DATAGRAM_BYTES = 1024;
/** Raw UDP: datagrams in flight at most, and how many the receiver takes before it acknowledges. */
const UDP_WINDOW = 64;
const UDP_ACK_EVERY = 8;
/** Raw UDP: no acknowledgement for this long and the datagrams in flight are taken as lost, ms. */
const UDP_STALL_MS = 50;

/** The bottleneck of part 2: one-way delay, rate into each host and its queue. */
const LINK_DELAY_MS = 20;
const LINK_MBIT = 5;
const LINK_QUEUE_MS = 300;
/** Part 2's file: more than the link carries in all its phases. */
const LAB_FILE_MIB = 48;
const LAB_PORT = { ppspp: 7600, tcp: 7601, echo: 7602 };
/** Part 2's phases, ms: the whole length and the measured tail of each. */
const IDLE_MS = 3_000;
const TCP_ALONE_MS = 13_000;
const PPSPP_ALONE_MS = 25_000;
const BOTH_MS = 15_000;
const MEASURED_MS = 10_000;
/**
 * The competing TCP flow's congestion control, the first of these a namespace may set (one that is
 * not the first namespace may only pick from net.ipv4.tcp_allowed_congestion_control), set in the
 * lab's namespaces only: a loss-based TCP fills the bottleneck's queue, which is what LEDBAT is
 * meant to yield to (a machine's default may be BBR, which keeps the queue short by itself).
 */
const TCP_CONGESTION_CONTROLS = ['cubic', 'reno'];

const run = promisify(execFile);

const say = (line: string) => process.stderr.write(`ppspp bench: ${line}\n`);
const median = (xs: number[]) => percentile(xs, 50);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Received MB/s of `bytes` sent as 1 KiB UDP datagrams from one socket to another on 127.0.0.1.
 * A windowed sender, not a blast: at most UDP_WINDOW datagrams are unacknowledged, and the receiver
 * acknowledges every UDP_ACK_EVERY with its count of datagrams received, so the sender goes as fast
 * as the receiver takes them and the socket buffer never overflows (a blast would mostly measure
 * drops at the receiver's buffer). A datagram lost anyway stalls the window until UDP_STALL_MS pass
 * without an acknowledgement; then what is in flight counts as gone (the loss is reported).
 */
async function rawUdp(bytes: number): Promise<{ MBps: number; lossPercent: number }> {
  const bind = async (s: Socket) => {
    s.bind(0, '127.0.0.1');
    await once(s, 'listening');
  };
  const rx = createSocket('udp4');
  const tx = createSocket('udp4');
  await Promise.all([bind(rx), bind(tx)]);
  const total = Math.ceil(bytes / UDP_DATAGRAM_BYTES);
  const rxPort = rx.address().port;
  const txPort = tx.address().port;
  let received = 0;
  let firstAt = 0;
  const ack = Buffer.alloc(4);
  const done = new Promise<{ MBps: number; lossPercent: number }>((resolve) => {
    rx.on('message', (m) => {
      if (received === 0) firstAt = performance.now();
      received++;
      const last = m.readUInt32BE(0) === total - 1;
      if (received % UDP_ACK_EVERY === 0 || last) {
        ack.writeUInt32BE(received, 0);
        rx.send(ack, txPort, '127.0.0.1');
      }
      if (last) resolve({ MBps: (received * UDP_DATAGRAM_BYTES) / 1e6 / ((performance.now() - firstAt) / 1000), lossPercent: (100 * (total - received)) / total });
    });
  });
  const payload = Buffer.alloc(UDP_DATAGRAM_BYTES, 7);
  let sent = 0;
  let forgiven = 0;
  let acked = 0;
  let lastAckAt = performance.now();
  const pump = () => {
    while (sent < total && sent - acked - forgiven < UDP_WINDOW) {
      const d = Buffer.from(payload);
      d.writeUInt32BE(sent++, 0);
      tx.send(d, rxPort, '127.0.0.1');
    }
  };
  tx.on('message', (m) => {
    acked = m.readUInt32BE(0);
    lastAckAt = performance.now();
    pump();
  });
  const stall = setInterval(() => {
    if (performance.now() - lastAckAt < UDP_STALL_MS) return;
    forgiven = sent - acked;
    lastAckAt = performance.now();
    if (sent === total) {
      // The last datagram may be the one lost: send it again, so the receiver sees the end.
      const d = Buffer.from(payload);
      d.writeUInt32BE(total - 1, 0);
      tx.send(d, rxPort, '127.0.0.1');
    } else pump();
  }, UDP_STALL_MS / 2);
  pump();
  try {
    return await done;
  } finally {
    clearInterval(stall);
    rx.close();
    tx.close();
  }
}

/** MB/s of one PPSPP download of `file` from a seeder in this process on 127.0.0.1. */
async function ppsppOnce(file: string, out: string, hash: MerkleHashFunction, chunkSize: number): Promise<number> {
  const content = await PpsppContent.open(file, { hash, chunkSize });
  const seedEndpoint = await PpsppEndpoint.bind('127.0.0.1', 0);
  const leechEndpoint = await PpsppEndpoint.bind('127.0.0.1', 0);
  const server = new PpsppServer(seedEndpoint);
  server.add(content);
  try {
    const started = performance.now();
    const result = await downloadPpspp({ endpoint: leechEndpoint, peers: [seedEndpoint.address()], root: content.root, out, chunkSize });
    const ms = performance.now() - started;
    const s = server.stats;
    say(`  ${hash} ${chunkSize}-byte chunks: ${round(result.bytes / 1e6 / (ms / 1000), 1)} MB/s (${s.chunksSent - result.chunks} chunks sent twice, ${s.chunksLost} counted lost)`);
    return result.bytes / 1e6 / (ms / 1000);
  } finally {
    server.close();
    await Promise.all([seedEndpoint.close(), leechEndpoint.close(), content.close()]);
    await rm(out, { force: true });
  }
}

async function loopbackThroughput(dir: string, sizeMiB: number): Promise<Record<string, unknown>> {
  const bytes = sizeMiB * 2 ** 20;
  const file = join(dir, 'content.bin');
  await generate(file, bytes);
  const warmFile = join(dir, 'warm-up.bin');
  await generate(warmFile, Math.min(WARM_UP_MIB, sizeMiB) * 2 ** 20);
  await initCaDir(join(dir, 'ca'), OVERLAY);
  await enrollLocal(join(dir, 'ca'), `seeder@${OVERLAY}`, join(dir, 'seeder'));
  const identity = await loadIdentity(join(dir, 'seeder'));
  const caPem = await readFile(join(dir, 'ca', 'ca.crt'), 'utf8');

  say(`warm-up: ${Math.min(WARM_UP_MIB, sizeMiB)} MiB over each, unmeasured`);
  await ppsppOnce(warmFile, join(dir, 'out.bin'), 'sha1', 1024);
  await ppsppOnce(warmFile, join(dir, 'out.bin'), 'sha256', 16_384);
  await rawUdp(Math.min(WARM_UP_MIB, sizeMiB) * 2 ** 20);

  const runs = { ppspp: [] as number[], ppsppLargeChunks: [] as number[], tls: [] as number[], rawUdp: [] as number[] };
  let largeChunksError: string | undefined;
  const udpLoss: number[] = [];
  for (let r = 1; r <= RUNS; r++) {
    say(`run ${r}/${RUNS}, ${sizeMiB} MiB each`);
    runs.ppspp.push(await ppsppOnce(file, join(dir, 'out.bin'), 'sha1', 1024));
    if (largeChunksError === undefined) {
      try {
        runs.ppsppLargeChunks.push(await ppsppOnce(file, join(dir, 'out.bin'), 'sha256', 16_384));
      } catch (e) {
        largeChunksError = e instanceof Error ? e.message : String(e);
        say(`  sha256 16 KiB chunks failed: ${largeChunksError}`);
      }
    }
    runs.tls.push(await rawTlsBulk(identity.keyPem, identity.certPem, caPem, bytes));
    say(`  TLS: ${round(runs.tls.at(-1)!, 1)} MB/s`);
    const udp = await rawUdp(bytes);
    runs.rawUdp.push(udp.MBps);
    udpLoss.push(udp.lossPercent);
    say(`  raw UDP: ${round(udp.MBps, 1)} MB/s, ${round(udp.lossPercent, 2)} % lost`);
  }
  const ppspp = median(runs.ppspp);
  const tlsMBps = median(runs.tls);
  const udpMBps = median(runs.rawUdp);
  const all = (xs: number[]) => xs.map((x) => round(x, 1));
  return {
    fileMiB: sizeMiB,
    runs: RUNS,
    ppspp: round(ppspp, 1),
    ppsppLargeChunks: largeChunksError === undefined ? round(median(runs.ppsppLargeChunks), 1) : { failed: largeChunksError },
    tls: round(tlsMBps, 1),
    rawUdp: round(udpMBps, 1),
    ppsppVsTls: round(ppspp / tlsMBps),
    ppsppVsRawUdp: round(ppspp / udpMBps),
    allRunsMBps: { ppspp: all(runs.ppspp), ppsppLargeChunks: all(runs.ppsppLargeChunks), tls: all(runs.tls), rawUdp: all(runs.rawUdp) },
    rawUdpLossPercent: all(udpLoss),
    note: `MB/s = 10^6 bytes/s, medians of ${RUNS}. Seeder and leecher (and each baseline's two ends) share this one process. ppspp: SHA-1, 1 KiB chunks; ppsppLargeChunks: SHA-256, 16 KiB chunks; tls: one mutual TLS 1.3 connection, 64 KiB writes; rawUdp: 1 KiB datagrams, at most ${UDP_WINDOW} unacknowledged, acknowledged every ${UDP_ACK_EVERY}, received bytes over receive time.`,
  };
}

/** Two hosts A (0) and B (1) of scripts/netem-hosts.sh with a rate-limited link between them. */
class BottleneckHosts extends NamespaceHosts {
  private constructor() {
    super(`pb${process.pid % 100000}-`, labScript('netem-hosts.sh'));
  }

  static async up(): Promise<BottleneckHosts> {
    const hosts = new BottleneckHosts();
    await hosts.script('up', '2', '--delay', String(LINK_DELAY_MS), '--rate', String(LINK_MBIT), '--queue', String(LINK_QUEUE_MS));
    return hosts;
  }

  address(i: number): string {
    return `198.18.0.${10 + i}`;
  }
}

/** A lab program's JSON lines, each stamped with the time it arrived here. */
interface Peer {
  child: ChildProcessWithoutNullStreams;
  lines: { at: number; value: Record<string, unknown> }[];
  next: (test: (v: Record<string, unknown>) => boolean, timeoutMs?: number) => Promise<Record<string, unknown>>;
}

function startPeer(hosts: BottleneckHosts, host: number, role: string, args: string[]): Peer {
  const program = fileURLToPath(new URL(`./ppspp-lab-peer${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));
  const child = hosts.spawnIn(host, process.execPath, [...(program.endsWith('.ts') ? ['--import', 'tsx'] : []), program, role, ...args]);
  const lines: Peer['lines'] = [];
  const waiting = new Set<(v: Record<string, unknown>) => void>();
  createInterface({ input: child.stdout }).on('line', (l) => {
    const value = JSON.parse(l) as Record<string, unknown>;
    lines.push({ at: performance.now(), value });
    for (const w of waiting) w(value);
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const next: Peer['next'] = (test, timeoutMs = 60_000) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`${role} in host ${host}: nothing awaited in ${timeoutMs} ms ${stderr}`)), timeoutMs);
      const exited = (code: number | null) => finish(new Error(`${role} in host ${host} exited with ${code}: ${stderr}`));
      const watch = (v: Record<string, unknown>) => test(v) && finish(undefined, v);
      const finish = (e: Error | undefined, v?: Record<string, unknown>) => {
        clearTimeout(timer);
        waiting.delete(watch);
        child.off('exit', exited);
        if (e) reject(e);
        else resolve(v!);
      };
      waiting.add(watch);
      child.once('exit', exited);
    });
  return { child, lines, next };
}

async function stopPeer(p: Peer): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill();
  await once(p.child, 'exit');
}

/** Lines of `p` that arrived in [from, to). */
const within = (p: Peer, from: number, to: number) => p.lines.filter((l) => l.at >= from && l.at < to).map((l) => l.value);

/** How much a counter that `p` reports in field `field` grew over [from, to). */
function growthOf(p: Peer, field: string, from: number, to: number): number {
  const xs = p.lines.filter((l) => l.at >= from && l.at < to && typeof l.value[field] === 'number');
  return xs.length < 2 ? 0 : (xs.at(-1)!.value[field] as number) - (xs[0]!.value[field] as number);
}

/** MB/s of a counter that `p` reports in field `field`, over [from, to). */
function rateOf(p: Peer, field: string, from: number, to: number): number {
  const xs = p.lines.filter((l) => l.at >= from && l.at < to && typeof l.value[field] === 'number');
  if (xs.length < 2) return 0;
  const first = xs[0]!;
  const last = xs.at(-1)!;
  return ((last.value[field] as number) - (first.value[field] as number)) / 1e6 / ((last.at - first.at) / 1000);
}

const stats = (xs: number[]) => ({ median: round(median(xs), 1), p95: round(percentile(xs, 95), 1), max: round(Math.max(...xs), 1), samples: xs.length });

async function ledbatOnBottleneck(dir: string): Promise<Record<string, unknown>> {
  if (process.getuid?.() !== 0) return { skipped: 'needs root for network namespaces' };
  const file = join(dir, 'lab.bin');
  await generate(file, LAB_FILE_MIB * 2 ** 20);
  let hosts: BottleneckHosts;
  try {
    hosts = await BottleneckHosts.up();
  } catch (e) {
    return { skipped: `the netem hosts did not come up: ${e instanceof Error ? e.message.split('\n').slice(-3).join(' ') : String(e)}` };
  }
  const peers: Peer[] = [];
  const start = (host: number, role: string, args: string[]) => {
    const p = startPeer(hosts, host, role, args);
    peers.push(p);
    return p;
  };
  const A = hosts.address(0);
  try {
    const inHost = (i: number, ...args: string[]) => run(hosts.launcher(i)[0]!, [...hosts.launcher(i).slice(1), ...args]);
    for (const cc of TCP_CONGESTION_CONTROLS) {
      const set = await Promise.all([0, 1].map((i) => inHost(i, 'sysctl', '-q', '-w', `net.ipv4.tcp_congestion_control=${cc}`).then(() => true, () => false)));
      if (set.every(Boolean)) break;
    }
    const tcpCongestionControl = (await inHost(0, 'sysctl', '-n', 'net.ipv4.tcp_congestion_control')).stdout.trim();
    say(`lab: A ${A} -> B ${hosts.address(1)}, ${LINK_DELAY_MS} ms each way, ${LINK_MBIT} Mbit/s into each host, queue ${LINK_QUEUE_MS} ms`);
    const echo = start(0, 'echo', [A, String(LAB_PORT.echo)]);
    const sink = start(1, 'tcp-sink', [hosts.address(1), String(LAB_PORT.tcp)]);
    const seeder = start(0, 'seed', [A, String(LAB_PORT.ppspp), file]);
    await echo.next((v) => v.ready === true);
    await sink.next((v) => v.ready === true);
    const root = (await seeder.next((v) => typeof v.root === 'string')).root as string;
    const probe = start(1, 'probe', [A, String(LAB_PORT.echo)]);
    await probe.next((v) => typeof v.rttMs === 'number');

    const rtts = (from: number, to: number) => within(probe, from, to).map((v) => v.rttMs as number);
    const delays = (from: number, to: number) => within(seeder, from, to).flatMap((v) => (v.congestion as { queueingDelayUs: number }[]).map((c) => c.queueingDelayUs / 1000));
    const cwnds = (from: number, to: number) => within(seeder, from, to).flatMap((v) => (v.congestion as { cwndBytes: number }[]).map((c) => c.cwndBytes / 1024));

    say(`idle ${IDLE_MS / 1000} s`);
    let t0 = performance.now();
    await sleep(IDLE_MS);
    const idle = rtts(t0, performance.now());
    const baseRtt = median(idle);
    const added = (xs: number[]) => stats(xs.map((x) => Math.max(0, x - baseRtt)));

    say(`TCP alone ${TCP_ALONE_MS / 1000} s`);
    let source = start(0, 'tcp-source', [hosts.address(1), String(LAB_PORT.tcp)]);
    t0 = performance.now();
    await sleep(TCP_ALONE_MS);
    let t1 = performance.now();
    const tcpAlone = { tcpMBps: round(rateOf(sink, 'bytes', t1 - MEASURED_MS, t1)), probeAddedRttMs: added(rtts(t1 - MEASURED_MS, t1)) };
    await stopPeer(source);
    say(`  TCP ${tcpAlone.tcpMBps} MB/s; the queue drains`);
    await sleep(2 * LINK_QUEUE_MS + 1000);

    say(`PPSPP alone ${PPSPP_ALONE_MS / 1000} s (the last ${MEASURED_MS / 1000} s measured)`);
    const leecher = start(1, 'leech', [A, String(LAB_PORT.ppspp), root, join(dir, 'lab-out.bin')]);
    t0 = performance.now();
    await sleep(PPSPP_ALONE_MS);
    t1 = performance.now();
    const ppsppAlone = {
      ppsppMBps: round(rateOf(seeder, 'bytesSent', t1 - MEASURED_MS, t1)),
      ledbatQueueingDelayMs: stats(delays(t1 - MEASURED_MS, t1)),
      ledbatCwndKiB: stats(cwnds(t1 - MEASURED_MS, t1)),
      seederChunksCountedLost: growthOf(seeder, 'chunksLost', t1 - MEASURED_MS, t1),
      probeAddedRttMs: added(rtts(t1 - MEASURED_MS, t1)),
    };
    say(`  PPSPP ${ppsppAlone.ppsppMBps} MB/s, LEDBAT queueing delay median ${ppsppAlone.ledbatQueueingDelayMs.median} ms, probe +${ppsppAlone.probeAddedRttMs.median} ms`);

    say(`PPSPP with TCP ${BOTH_MS / 1000} s (the last ${MEASURED_MS / 1000} s measured)`);
    source = start(0, 'tcp-source', [hosts.address(1), String(LAB_PORT.tcp)]);
    await sleep(BOTH_MS);
    t1 = performance.now();
    const both = {
      tcpMBps: round(rateOf(sink, 'bytes', t1 - MEASURED_MS, t1)),
      ppsppMBps: round(rateOf(seeder, 'bytesSent', t1 - MEASURED_MS, t1)),
      ledbatQueueingDelayMs: stats(delays(t1 - MEASURED_MS, t1)),
      ledbatCwndKiB: stats(cwnds(t1 - MEASURED_MS, t1)),
      seederChunksCountedLost: growthOf(seeder, 'chunksLost', t1 - MEASURED_MS, t1),
      probeAddedRttMs: added(rtts(t1 - MEASURED_MS, t1)),
    };
    say(`  TCP ${both.tcpMBps} MB/s, PPSPP ${both.ppsppMBps} MB/s, LEDBAT queueing delay median ${both.ledbatQueueingDelayMs.median} ms`);
    const finished = leecher.lines.some((l) => l.value.done !== undefined);
    const linkMBps = (LINK_MBIT * 1e6) / 8 / 1e6;
    return {
      link: { oneWayDelayMs: LINK_DELAY_MS, rateMbit: LINK_MBIT, linkMBps: round(linkMBps), queueMs: LINK_QUEUE_MS, chunkBytes: 1024, hash: 'sha1', tcpCongestionControl },
      idleProbeRttMs: stats(idle),
      tcpAlone,
      ppsppAlone,
      ppsppWithTcp: { ...both, tcpShareOfAlone: round(both.tcpMBps / tcpAlone.tcpMBps) },
      ...(finished ? { warning: 'the PPSPP download finished before the phases ended: its figures are short' } : {}),
      targetMs: 100,
      note: 'ledbatQueueingDelayMs: what the seeder\'s LEDBAT estimates (current minus base one-way delay, its own samples, every 50 ms), ms; probeAddedRttMs: a UDP echo\'s round trip B->A->B less the idle median; seederChunksCountedLost: chunks the seeder gave up waiting for an ACK of (each halves LEDBAT\'s window at most once a round trip); throughputs are the last 10 s of each phase, MB/s.',
    };
  } finally {
    await Promise.all(peers.map(stopPeer));
    await hosts.down();
  }
}

export async function benchPpspp(opts: { sizeMiB?: number } = {}): Promise<Record<string, unknown>> {
  const sizeMiB = opts.sizeMiB ?? DEFAULT_PPSPP_BENCH_MIB;
  const dir = await mkdtemp(join(tmpdir(), 'reload-bench-ppspp-'));
  try {
    const loopback = await loopbackThroughput(dir, sizeMiB);
    const ledbat = await ledbatOnBottleneck(dir);
    return { bench: 'ppspp', loopback, ledbat };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
