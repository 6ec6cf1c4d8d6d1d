/**
 * `npm run bench -- storage [--nodes N]`: N nodes in this process over real TLS on 127.0.0.1 join
 * one ring; then Store and Fetch (RFC 6940 §7.4) through `node.storage`, 16 in flight, each fetch
 * from a node other than the storer and checked byte for byte against what was stored. Beside them,
 * in the same run and on the same overlay, RouteQuery to random Resource-IDs: a Store or Fetch is
 * one routed request too, so the ratios to the route latency say what storage adds on top of
 * routing (signing and verifying the value, the engine's checks, replication before the answer).
 *
 * Values go to a bench-only NODE-MULTIPLE Kind, so each node writes at H(Node-ID ‖ i) for many i:
 * resources spread over the whole ring while only N RSA keys are made.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { createRootCa } from '../../certs/ca.js';
import { parseOverlayConfig, USER_VALUE_KIND, type KindConfig } from '../../overlay/config.js';
import { idToHex, randomId, type Id } from '../../overlay/id.js';
import type { Node } from '../../overlay/node.js';
import { nodeMultipleResource } from '../../overlay/storage/access-control.js';
import { enrollInMemory, RingTruth, startLocalRing } from '../local-ring.js';
import { BENCH_IN_FLIGHT, BENCH_JOIN_BATCH, DEFAULT_BENCH_NODES, DEFAULT_SETTLE_BOUND_MS, settleTables } from './overlay.js';
import { percentile, pool, round } from './measure.js';

const OVERLAY = 'bench-storage.reload';
/** Stores, fetches and routes measured, each. */
export const BENCH_STORAGE_OPS = 1000;
/** Bytes of each stored value. */
export const BENCH_VALUE_BYTES = 256;

/** The bench-only Kind; maxNodeMultiple is set per run so that every store has a slot of its own. */
const benchKind = (maxNodeMultiple: number): KindConfig => ({
  id: 0xf0000b00,
  name: 'bench-value',
  dataModel: 'single',
  accessControl: 'NODE-MULTIPLE',
  maxCount: 1,
  maxSize: 1024,
  maxNodeMultiple,
});

const NOTE =
  'Each figure is one request from a random node, routed to the responsible peer and answered; 16 in flight, ' +
  'all nodes on one event loop, so latencies are CPU time (RSA signing and verifying, TLS), not network time. ' +
  'A Store also signs the value, and the responsible peer verifies it and pushes it to its replicas before it answers; ' +
  'a Fetch verifies the value signature on the way back. ratios = storage latency / route latency of the same run. ' +
  'Between the store and fetch phases the run waits one replica sync round (replicationQuietMs) so that the copies ' +
  'replica holders push to each other once per new resource are not measured.';

/** Latencies of one phase, its failures (first few kept) and its throughput. */
class Phase {
  readonly ms: number[] = [];
  readonly problems: string[] = [];
  failures = 0;
  wallMs = 0;

  /** Times `op`; a throw or a returned complaint counts as a failure. */
  async time(what: string, op: () => Promise<string | undefined>): Promise<void> {
    const started = performance.now();
    let complaint: string | undefined;
    try {
      complaint = await op();
    } catch (e) {
      complaint = (e as Error).message;
    }
    if (complaint === undefined) this.ms.push(performance.now() - started);
    else {
      this.failures++;
      if (this.problems.length < 5) this.problems.push(`${what}: ${complaint}`);
    }
  }

  summary() {
    return {
      ops: this.ms.length + this.failures,
      failures: this.failures,
      opsPerSec: round((this.ms.length / this.wallMs) * 1000, 1),
      latencyMs: { p50: round(percentile(this.ms, 50)), p95: round(percentile(this.ms, 95)) },
    };
  }
}

interface Placed {
  storer: Node;
  resource: Id;
  bytes: Buffer;
}

export async function benchStorage(opts: { durationMs?: number; nodes?: number } = {}): Promise<Record<string, unknown>> {
  const count = opts.nodes ?? DEFAULT_BENCH_NODES;
  if (!Number.isInteger(count) || count < 2) throw new RangeError('the storage benchmark needs at least 2 nodes');
  const settleBoundMs = opts.durationMs ?? DEFAULT_SETTLE_BOUND_MS;
  const kind = benchKind(Math.ceil(BENCH_STORAGE_OPS / count));
  const ca = await createRootCa({ overlay: OVERLAY });
  const config = parseOverlayConfig({ overlay: OVERLAY, rootCerts: [ca.certPem], kinds: [USER_VALUE_KIND, kind] });
  const identities = await Promise.all(Array.from({ length: count }, (_, i) => enrollInMemory(ca, OVERLAY, `node${i}@${OVERLAY}`)));

  const joinStarted = performance.now();
  const ring = await startLocalRing({ config, identities, batch: BENCH_JOIN_BATCH });
  const joinAllMs = performance.now() - joinStarted;
  try {
    const { nodes } = ring;
    const truth = new RingTruth(nodes.map((n) => n.nodeId));
    const { settleMs, wrong: wrongTables } = await settleTables(nodes, truth, config.chord.neighbourCount, settleBoundMs);

    // Store: node i % N writes its slot ⌊i / N⌋ + 1, so no two stores share a resource.
    const placed: Placed[] = [];
    const store = new Phase();
    let underReplicated = 0;
    store.wallMs = await pool(BENCH_STORAGE_OPS, BENCH_IN_FLIGHT, async (i) => {
      const storer = nodes[i % count]!;
      const resource = nodeMultipleResource(storer.nodeId, Math.floor(i / count) + 1, config.hash);
      const bytes = randomBytes(BENCH_VALUE_BYTES);
      await store.time(idToHex(resource), async () => {
        const r = await storer.storage!.store(kind.name, resource, { model: 'single', value: { exists: true, value: bytes } });
        if (r.responsible !== truth.responsible(resource)) return `answered by ${r.responsible}, ${truth.responsible(resource)} is responsible`;
        if (r.replicas.length < config.storage.replicas - 1) underReplicated++;
        placed.push({ storer, resource, bytes });
        return undefined;
      });
    });

    // Replica holders push their copies to the rest of each replica set at their next sync round,
    // once per resource: let that burst pass so that it lands in no measurement.
    const quietStarted = performance.now();
    await new Promise((r) => setTimeout(r, config.storage.syncIntervalMs + 100));
    await Promise.all(nodes.map((n) => n.storage!.settled()));
    const replicationQuietMs = performance.now() - quietStarted;

    // Fetch each stored value from a random node other than its storer, and compare.
    const fetch = new Phase();
    fetch.wallMs = await pool(placed.length, BENCH_IN_FLIGHT, async (i) => {
      const p = placed[i]!;
      const others = nodes.filter((n) => n !== p.storer);
      const from = others[randomInt(others.length)]!;
      await fetch.time(idToHex(p.resource), async () => {
        const r = await from.storage!.fetch(kind.name, p.resource);
        const v = r.values[0];
        if (r.values.length !== 1 || !v) return `${r.values.length} values, ${r.rejected} rejected`;
        if (!Buffer.from(v.data.value.value.value).equals(p.bytes)) return 'bytes differ';
        if (v.signer.identity.nodeIdHex !== p.storer.nodeIdHex) return `signed by ${v.signer.identity.nodeIdHex}`;
        return undefined;
      });
    });

    // RouteQuery to random Resource-IDs from random nodes, on the same overlay, after the stores.
    const route = new Phase();
    const hops: number[] = [];
    route.wallMs = await pool(BENCH_STORAGE_OPS, BENCH_IN_FLIGHT, async () => {
      const key = randomId();
      const from = nodes[randomInt(count)]!;
      await route.time(idToHex(key), async () => {
        const r = await from.route(key);
        hops.push(r.hops);
        return r.responsible === truth.responsible(key) ? undefined : `${r.responsible} answered, ${truth.responsible(key)} is responsible`;
      });
    });

    const ratio = (a: number[], b: number[], p: number) => round(percentile(a, p) / percentile(b, p));
    const problems = [...store.problems, ...fetch.problems, ...route.problems];
    return {
      bench: 'storage',
      nodes: count,
      joinAllMs: Math.round(joinAllMs),
      settleMs: Math.round(settleMs),
      wrongNeighbourTables: wrongTables,
      replicationQuietMs: Math.round(replicationQuietMs),
      kind: { name: kind.name, accessControl: kind.accessControl, maxNodeMultiple: kind.maxNodeMultiple },
      valueBytes: BENCH_VALUE_BYTES,
      replicas: config.storage.replicas,
      inFlight: BENCH_IN_FLIGHT,
      store: { ...store.summary(), underReplicated },
      fetch: fetch.summary(),
      route: { ...route.summary(), hopsMean: round(hops.reduce((a, b) => a + b, 0) / hops.length) },
      ratios: {
        storeVsRouteP50: ratio(store.ms, route.ms, 50),
        storeVsRouteP95: ratio(store.ms, route.ms, 95),
        fetchVsRouteP50: ratio(fetch.ms, route.ms, 50),
        fetchVsRouteP95: ratio(fetch.ms, route.ms, 95),
      },
      note: NOTE,
      ...(problems.length ? { firstProblems: problems } : {}),
    };
  } finally {
    await ring.stopAll(false);
  }
}
