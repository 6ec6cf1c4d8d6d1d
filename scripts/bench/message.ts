/**
 * `npm run bench -- message`: requests and answers per second between two nodes built as `simulate`
 * builds them (the real Node over memory links, on a virtual clock, ECDSA certificates and the keyed
 * signature stand-in), with `IN_FLIGHT` Pings at once. Every request and answer is signed, encoded,
 * routed, verified and decoded by the node code, so this is the simulator's cost per message.
 * Beside it, in slices interleaved with it, its raw baseline: the four SHA-256 hashes of the
 * stand-in (sign and verify of a request and of its answer) over inputs of the same size. The ratio
 * of the two is what holds on a noisy machine.
 */
import { hash } from 'node:crypto';
import { createRootCa } from '../../certs/ca.js';
import { keyedStandIn } from '../../certs/signature-scheme.js';
import { TrustStore } from '../../certs/trust.js';
import { VirtualClock } from '../../overlay/clock.js';
import { newOverlayConfig } from '../../overlay/config.js';
import { idToHex, type Id } from '../../overlay/id.js';
import { MemoryNetwork } from '../../overlay/link/memory-network.js';
import { Node } from '../../overlay/node.js';
import { seededRandom } from '../../overlay/random.js';
import { enrollInMemory } from '../local-ring.js';

const OVERLAY = 'bench.reload';
/** Default length of the measurement and of its baseline, each, in ms. */
export const DEFAULT_MESSAGE_BENCH_MS = 3000;
/** Pings outstanding at once: enough that the virtual clock always has a delivery due. */
const IN_FLIGHT = 50;
/** Slices of each measurement, alternating with the baseline. */
const ROUNDS = 6;
/** One-way delay between the two nodes, virtual ms. */
const LATENCY_MS = 20;
/** Virtual time the clock runs between two reads of the wall clock. */
const STEP_MS = 10;
/** Bytes the stand-in hashes per signature of a Ping or its answer (the signature input plus its key). */
const SIGNED_BYTES = 160;

/** Two nodes joined over memory links; `stop` ends them and the pinging. */
async function twoNodes(): Promise<{ clock: VirtualClock; a: Node; b: Node; stop: () => Promise<void> }> {
  const random = seededRandom(1);
  const ca = await createRootCa({ overlay: OVERLAY });
  const signatures = keyedStandIn(random.bytes(32));
  const identities = await Promise.all(
    [0, 1].map((i) => enrollInMemory(ca, OVERLAY, `peer${i}@${OVERLAY}`, { key: 'ecdsa', nodeIdHex: idToHex(random.bytes(16) as Id), signatures })),
  );
  const config = newOverlayConfig(OVERLAY, ca.certPem);
  const clock = new VirtualClock(Date.now(), { turnEvery: 256 });
  const trust = new TrustStore(config.rootCerts, config.overlay, { signatures, cacheSize: 2 });
  const network = new MemoryNetwork({ clock, random: seededRandom(2), path: () => ({ latencyMs: LATENCY_MS }) });
  const [a, b] = identities.map(
    (identity, i) =>
      new Node({ config, identity, listen: { host: `10.0.0.${i + 1}`, port: 6084 }, bootstrap: i === 0 ? [] : [{ host: '10.0.0.1', port: 6084 }], clock, random: seededRandom(10 + i), links: network.linksFor, trust }),
  ) as [Node, Node];
  await clock.until(a.start(), 60_000);
  await clock.until(b.start(), 60_000);
  const stop = async () => {
    await clock.until(Promise.allSettled([a.stop({ leave: false }), b.stop({ leave: false })]), 60_000);
  };
  return { clock, a, b, stop };
}

/**
 * Measures Ping request/answer pairs between two simulated nodes against four SHA-256 hashes of
 * the same size; returns a JSON-able record: `pairsPerSecond`, `microsPerPair`, and `ratio`, the
 * pair's cost in units of its baseline (the signature hashes alone).
 * @param opts.durationMs wall time of the measurement and of its baseline, each (default DEFAULT_MESSAGE_BENCH_MS)
 */
export async function benchMessage(opts: { durationMs?: number } = {}): Promise<Record<string, unknown>> {
  const durationMs = opts.durationMs ?? DEFAULT_MESSAGE_BENCH_MS;
  const { clock, a, b, stop } = await twoNodes();
  let pinging = true;
  let answered = 0;
  const pinger = async () => {
    while (pinging) {
      await a.ping(b.identity.nodeIdHex);
      answered++;
    }
  };
  const pingers = Array.from({ length: IN_FLIGHT }, pinger);
  const input = new Uint8Array(SIGNED_BYTES).fill(7);
  let pairs = 0;
  let hashes = 0;
  let pairSeconds = 0;
  let hashSeconds = 0;
  const slice = durationMs / ROUNDS;
  try {
    // Round -1 warms both up and is not counted.
    for (let round = -1; round < ROUNDS; round++) {
      const before = answered;
      let started = performance.now();
      while (performance.now() - started < slice) await clock.run(STEP_MS);
      const pairTime = (performance.now() - started) / 1000;
      started = performance.now();
      let n = 0;
      while (performance.now() - started < slice) for (let i = 0; i < 64; i++, n++) hash('sha256', input, 'buffer');
      if (round < 0) continue;
      pairs += answered - before;
      pairSeconds += pairTime;
      hashes += n;
      hashSeconds += (performance.now() - started) / 1000;
    }
  } finally {
    pinging = false;
    await clock.until(Promise.allSettled(pingers), 60_000);
    await stop();
  }
  const pairsPerSecond = pairs / pairSeconds;
  const hashesPerSecond = hashes / hashSeconds;
  return {
    bench: 'message',
    durationMs,
    inFlight: IN_FLIGHT,
    pairsPerSecond: Math.round(pairsPerSecond),
    /** One request and its answer, signed, sent, routed, verified and decoded at both ends. */
    microsPerPair: Number((1e6 / pairsPerSecond).toFixed(1)),
    baseline: { sha256PerSecond: Math.round(hashesPerSecond), bytes: SIGNED_BYTES },
    /** Cost of a pair in units of its four signature hashes: 1 would be signatures and nothing else. */
    ratio: Number((hashesPerSecond / 4 / pairsPerSecond).toFixed(1)),
  };
}
