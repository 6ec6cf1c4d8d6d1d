/**
 * `npm run bench -- overlay [--nodes N] [--topology T]`: N nodes in this process over real TLS on
 * 127.0.0.1 join one overlay in batches; then RouteQuery to random Resource-IDs from random nodes,
 * each checked against the ground truth of the Node-IDs (the ring, or the XOR metric). Beside the route latency per hop it measures a
 * direct Ping between two linked nodes in the same run and under the same load, so the ratio holds
 * on a busy machine. All nodes share one event loop: latencies are CPU (signing, TLS), not wire.
 */
import { randomInt } from 'node:crypto';
import { createRootCa } from '../../certs/ca.js';
import { newOverlayConfig, TOPOLOGIES, type TopologyName } from '../../overlay/config.js';
import { randomId, type Id } from '../../overlay/id.js';
import type { Node } from '../../overlay/node.js';
import { enrollInMemory, startLocalRing } from '../local-ring.js';
import { maintenanceSent } from '../maintenance.js';
import { neighbourCount, topologyTruth, type TopologyTruth } from '../topology-truth.js';
import { percentile, pool, round } from './measure.js';

const OVERLAY = 'bench.reload';
/** Nodes when --nodes is not given. */
export const DEFAULT_BENCH_NODES = 32;
/** Nodes joining at once, each through the first node. */
export const BENCH_JOIN_BATCH = 8;
/** Routes measured, and how many are in flight at once. */
export const BENCH_ROUTES = 1000;
export const BENCH_IN_FLIGHT = 16;
/** Direct Pings measured, per concurrency. */
export const BENCH_DIRECT_PINGS = 200;
/** Routes and direct Pings of the one-at-a-time comparison. */
export const BENCH_SEQUENTIAL = 200;
/**
 * Maintenance messages are counted over this quiet window after the measurements, long enough for
 * periods of 30 s and 60 s to show in the rate, ms.
 */
export const BENCH_MAINTENANCE_WINDOW_MS = 120_000;
/** Default bound on the wait for the neighbour tables to match the ground truth after the joins, ms. */
export const DEFAULT_SETTLE_BOUND_MS = 60_000;

const HOPS_NOTE =
  "hops = Node.route's count, the length of the answer's via list: the overlay links the RouteQuery crossed, " +
  'the last one into the responsible node included (a direct neighbour is 1 hop; a route the origin answers itself ' +
  "is 0, see selfAnswered, and is left out of the per-hop latency). Nothing is subtracted: the Chord paper's ½·log2(N) counts the hops to the key's " +
  'predecessor and leaves out that last hop, but here any node whose neighbour lists hold the responsible node sends ' +
  'straight to it, which saves about as much, so hops.mean compares with halfLog2N as it is.';

/** Nodes whose neighbourhood (successors and predecessors, or siblings) differs from the ground truth. */
function wrongNeighbourTables(nodes: Node[], truth: TopologyTruth, k: number): number {
  return nodes.filter((n) => truth.neighbourhoodError({ nodeId: n.nodeIdHex, ...n.topologyStatus() }, k) !== undefined).length;
}

/**
 * Waits (bounded) for every neighbour table to match the ground truth, so routing is measured on a
 * settled overlay; says how many were wrong right after the joins and at the end of the wait.
 */
export async function settleTables(nodes: Node[], truth: TopologyTruth, k: number, boundMs: number): Promise<{ wrongAfterJoin: number; wrong: number; settleMs: number }> {
  const started = performance.now();
  let wrong = wrongNeighbourTables(nodes, truth, k);
  const wrongAfterJoin = wrong;
  while (wrong > 0 && performance.now() - started < boundMs) {
    await new Promise((r) => setTimeout(r, 50));
    wrong = wrongNeighbourTables(nodes, truth, k);
  }
  return { wrongAfterJoin, wrong, settleMs: performance.now() - started };
}

interface RouteSample {
  hops: number;
  ms: number;
  selfAnswered: boolean;
}

interface RouteRun {
  samples: RouteSample[];
  misroutes: string[];
  failures: string[];
}

/** `count` RouteQueries to random Resource-IDs from random nodes, each compared with the ground truth. */
async function routeRandom(nodes: Node[], truth: TopologyTruth, count: number, inFlight: number): Promise<RouteRun> {
  const run: RouteRun = { samples: [], misroutes: [], failures: [] };
  await pool(count, inFlight, async () => {
    const key: Id = randomId();
    const from = nodes[randomInt(nodes.length)]!;
    const want = truth.responsible(key);
    const started = performance.now();
    try {
      const r = await from.route(key);
      const ms = performance.now() - started;
      if (r.responsible !== want) run.misroutes.push(`${Buffer.from(key).toString('hex')} from ${from.nodeIdHex}: ${r.responsible} answered, ${want} is responsible (hops=${r.hops})`);
      run.samples.push({ hops: r.hops, ms, selfAnswered: want === from.nodeIdHex });
    } catch (e) {
      run.failures.push(`${Buffer.from(key).toString('hex')} from ${from.nodeIdHex}: ${(e as Error).message}`);
    }
  });
  return run;
}

/** Round-trip times of `count` Pings from a to b, `inFlight` at a time, ms. */
async function pingTimes(a: Node, b: Node, count: number, inFlight: number): Promise<number[]> {
  const times: number[] = [];
  await pool(count, inFlight, async () => {
    const started = performance.now();
    const r = await a.ping(b.nodeId);
    times.push(performance.now() - started);
    if (r.hops !== 1) throw new Error(`the direct Ping from ${a.nodeIdHex} to ${b.nodeIdHex} took ${r.hops} hops`);
  });
  return times;
}

/** p50 of each route's latency divided by its hops, ms. */
const perHopP50 = (samples: RouteSample[]) => percentile(samples.filter((s) => s.hops > 0).map((s) => s.ms / s.hops), 50);

export async function benchOverlay(opts: { durationMs?: number; nodes?: number; topology?: TopologyName } = {}): Promise<Record<string, unknown>> {
  const count = opts.nodes ?? DEFAULT_BENCH_NODES;
  if (!Number.isInteger(count) || count < 2) throw new RangeError('the overlay benchmark needs at least 2 nodes');
  const topology = opts.topology ?? TOPOLOGIES[0];
  const settleBoundMs = opts.durationMs ?? DEFAULT_SETTLE_BOUND_MS;
  const ca = await createRootCa({ overlay: OVERLAY });
  const config = { ...newOverlayConfig(OVERLAY, ca.certPem), topology };
  const identities = await Promise.all(Array.from({ length: count }, (_, i) => enrollInMemory(ca, OVERLAY, `node${i}@${OVERLAY}`)));

  const joinTimes: number[] = [];
  const joinStarted = performance.now();
  const ring = await startLocalRing({ config, identities, batch: BENCH_JOIN_BATCH, onJoined: (_, ms) => joinTimes.push(ms) });
  const joinAllMs = performance.now() - joinStarted;
  try {
    const { nodes } = ring;
    const truth = topologyTruth(config, nodes.map((n) => n.nodeId));
    const k = neighbourCount(config);

    const settled = await settleTables(nodes, truth, k, settleBoundMs);

    const routed = await routeRandom(nodes, truth, BENCH_ROUTES, BENCH_IN_FLIGHT);
    const hops = routed.samples.map((s) => s.hops);
    const meanHops = hops.reduce((a, b) => a + b, 0) / hops.length;

    // A directly linked pair: a node and its nearest neighbour, which it always holds a link to.
    const a = nodes[randomInt(nodes.length)]!;
    const b = nodes.find((n) => n.nodeIdHex === a.topology.neighbours().map((id) => Buffer.from(id).toString('hex'))[0]);
    if (!b || !a.linkList().some((l) => l.remoteNodeIdHex === b.nodeIdHex)) throw new Error(`${a.nodeIdHex} holds no link to its nearest neighbour`);
    const direct = await pingTimes(a, b, BENCH_DIRECT_PINGS, BENCH_IN_FLIGHT);
    const directP50 = percentile(direct, 50);

    // The same comparison one request at a time, without queueing behind other requests.
    const sequentialRoutes = await routeRandom(nodes, truth, BENCH_SEQUENTIAL, 1);
    const sequentialDirect = await pingTimes(a, b, BENCH_SEQUENTIAL, 1);
    // The settled overlay's own upkeep, with nothing else going on (the Pings above count as maintenance).
    const sentBefore = nodes.reduce((sum, n) => sum + maintenanceSent(n), 0);
    await new Promise((r) => setTimeout(r, BENCH_MAINTENANCE_WINDOW_MS));
    const maintenance = nodes.reduce((sum, n) => sum + maintenanceSent(n), 0) - sentBefore;
    const maintenanceMinutes = BENCH_MAINTENANCE_WINDOW_MS / 60_000;

    return {
      bench: 'overlay',
      topology,
      nodes: count,
      joinBatch: BENCH_JOIN_BATCH,
      joinAllMs: Math.round(joinAllMs),
      joinMs: { p50: Math.round(percentile(joinTimes, 50)), max: Math.round(Math.max(...joinTimes)) },
      wrongNeighbourTablesAfterJoin: settled.wrongAfterJoin,
      settleMs: Math.round(settled.settleMs),
      wrongNeighbourTables: settled.wrong,
      routes: BENCH_ROUTES,
      inFlight: BENCH_IN_FLIGHT,
      misroutes: routed.misroutes.length + sequentialRoutes.misroutes.length,
      routeFailures: routed.failures.length + sequentialRoutes.failures.length,
      hops: { mean: round(meanHops), p95: percentile(hops, 95), max: Math.max(...hops) },
      halfLog2N: round(Math.log2(count) / 2),
      selfAnswered: routed.samples.filter((s) => s.selfAnswered).length,
      hopsNote: HOPS_NOTE,
      routeLatencyMs: { p50: round(percentile(routed.samples.map((s) => s.ms), 50)), p95: round(percentile(routed.samples.map((s) => s.ms), 95)) },
      perHopLatencyMs: { p50: round(perHopP50(routed.samples)) },
      directPingMs: { p50: round(directP50), p95: round(percentile(direct, 95)), pings: BENCH_DIRECT_PINGS, inFlight: BENCH_IN_FLIGHT },
      perHopVsDirect: round(perHopP50(routed.samples) / directP50),
      maintenance: { messagesPerNodePerMinute: round(maintenance / count / maintenanceMinutes), quietWindowSeconds: BENCH_MAINTENANCE_WINDOW_MS / 1000 },
      oneInFlight: {
        routes: BENCH_SEQUENTIAL,
        routeLatencyMs: { p50: round(percentile(sequentialRoutes.samples.map((s) => s.ms), 50)) },
        perHopLatencyMs: { p50: round(perHopP50(sequentialRoutes.samples)) },
        directPingMs: { p50: round(percentile(sequentialDirect, 50)), pings: BENCH_SEQUENTIAL },
        perHopVsDirect: round(perHopP50(sequentialRoutes.samples) / percentile(sequentialDirect, 50)),
      },
      ...(routed.misroutes.length + routed.failures.length + sequentialRoutes.misroutes.length + sequentialRoutes.failures.length > 0
        ? { firstProblems: [...routed.misroutes, ...routed.failures, ...sequentialRoutes.misroutes, ...sequentialRoutes.failures].slice(0, 10) }
        : {}),
    };
  } finally {
    // All at once: a graceful Leave would only reach neighbours that are stopping too.
    await ring.stopAll(false);
  }
}
