/**
 * `npm run bench -- wire`: messages per second through the wire layer for a Ping request —
 * signMessage + encodeMessage, and decodeMessage + verifyMessage — for an RSA-2048 and an ECDSA
 * P-256 identity side by side, each beside its raw baseline measured in the same run: node:crypto
 * sign and verify of the same input with the same key; and cbor-x encode and decode of the same
 * CBOR structure. The ratios are what hold on a noisy machine: signing should cost little beyond
 * the signature operation itself.
 */
import { sign, verify } from 'node:crypto';
import { createRootCa, KEY_ALGORITHMS, type KeyAlgorithm, type RootCa } from '../../certs/ca.js';
import { enrollInMemory } from '../local-ring.js';
import { TrustStore } from '../../certs/trust.js';
import { systemClock } from '../../overlay/clock.js';
import { idFromHex } from '../../overlay/id.js';
import { pingRequestBody } from '../../overlay/methods/ping.js';
import { decodeCbor, encodeCbor } from '../../overlay/wire/cbor.js';
import { decodeMessage, decodeSecurity, encodeMessage, encodeSignerIdentity, signatureInput } from '../../overlay/wire/codec.js';
import { MessageCode } from '../../overlay/wire/codes.js';
import type { ForwardingHeader, MessageContents } from '../../overlay/wire/message.js';
import { headerFrom } from '../../overlay/wire/header.js';
import { signMessage, verifyMessage } from '../../overlay/wire/sign.js';

const OVERLAY = 'bench.reload';
/** Default length of each measurement, in ms. */
export const DEFAULT_WIRE_BENCH_MS = 1500;
/** Each measurement is split into this many slices, alternating with its baseline, so that drift in CPU speed hits both alike. */
const ROUNDS = 6;
/** Operations run between two reads of the timer, to keep timer reads out of the fast measurements. */
const BATCH = 8;
const MAX_MESSAGE_BYTES = 1 << 20;

/** Runs `fn` for `ms` and returns [operations, seconds]. */
function run(fn: () => unknown, ms: number): [number, number] {
  const started = performance.now();
  const stopAt = started + ms;
  let ops = 0;
  let now = started;
  while (now < stopAt) {
    for (let i = 0; i < BATCH; i++) fn();
    ops += BATCH;
    now = performance.now();
  }
  return [ops, (now - started) / 1000];
}

/**
 * Operations per second of `a` and of `b` (a measurement and its baseline), `durationMs` each
 * after a warm-up, interleaved in ROUNDS slices.
 */
function measurePair(a: () => unknown, b: () => unknown, durationMs: number): [number, number] {
  const warmUpMs = Math.min(300, durationMs / 5);
  run(a, warmUpMs);
  run(b, warmUpMs);
  const totals = [
    { fn: a, ops: 0, seconds: 0 },
    { fn: b, ops: 0, seconds: 0 },
  ];
  for (let round = 0; round < ROUNDS; round++) {
    for (const total of totals) {
      const [ops, seconds] = run(total.fn, durationMs / ROUNDS);
      total.ops += ops;
      total.seconds += seconds;
    }
  }
  return [totals[0]!.ops / totals[0]!.seconds, totals[1]!.ops / totals[1]!.seconds];
}

/** Signing and verifying a message with one key type, each beside node:crypto on the same input and key. */
async function benchKey(ca: RootCa, key: KeyAlgorithm, durationMs: number): Promise<{ record: Record<string, unknown>; bytes: Uint8Array }> {
  const identity = await enrollInMemory(ca, OVERLAY, `bench-${key}@${OVERLAY}`, { key });
  const trust = new TrustStore([ca.certPem], OVERLAY);
  const header: ForwardingHeader = headerFrom({ overlay: OVERLAY, sequence: 1, initialTtl: 100 }, identity.nodeId, idFromHex('ffeeddccbbaa99887766554433221100'));
  const contents: MessageContents = { code: MessageCode.PingReq, body: encodeCbor(pingRequestBody()), extensions: [] };
  const message = signMessage(header, contents, identity);
  const bytes = encodeMessage(message);
  const nowMs = systemClock.now();

  // The baselines work on what the wire layer works on: the same signature input and key.
  const { signature } = decodeSecurity(message.securityBytes);
  const input = signatureInput(header, message.contentsBytes, encodeSignerIdentity(signature.signer));
  const { publicKey } = trust.verify(identity.certDer, nowMs);
  const [encodeSign, rawSign] = measurePair(
    () => encodeMessage(signMessage(header, contents, identity)),
    () => sign('sha256', input, identity.privateKey),
    durationMs,
  );
  const [decodeVerify, rawVerify] = measurePair(
    () => verifyMessage(decodeMessage(bytes, MAX_MESSAGE_BYTES), trust, nowMs),
    () => verify('sha256', input, publicKey, signature.value),
    durationMs,
  );
  const round = (n: number) => Math.round(n);
  const record = {
    algorithm: identity.algorithm,
    messageBytes: bytes.length,
    signatureInputBytes: input.length,
    ratesPerSecond: { encodeSign: round(encodeSign), rawSign: round(rawSign), decodeVerify: round(decodeVerify), rawVerify: round(rawVerify) },
    /** Sign and verify of one message, µs: what a hop-by-hop message costs its two ends. */
    signPlusVerifyMicros: Math.round(1e6 / encodeSign + 1e6 / decodeVerify),
    signRatio: Number((encodeSign / rawSign).toFixed(3)),
    verifyRatio: Number((decodeVerify / rawVerify).toFixed(3)),
  };
  return { record, bytes };
}

/**
 * Measures the wire layer for RSA-2048 and ECDSA P-256 identities side by side; returns a
 * JSON-able record: per key type the rates in operations per second, `signRatio` = encodeSign /
 * rawSign and `verifyRatio` = decodeVerify / rawVerify; and CBOR encode/decode rates.
 * @param opts.durationMs length of each measurement, in ms (default DEFAULT_WIRE_BENCH_MS)
 */
export async function benchWire(opts: { durationMs?: number } = {}): Promise<Record<string, unknown>> {
  const durationMs = opts.durationMs ?? DEFAULT_WIRE_BENCH_MS;
  const ca = await createRootCa({ overlay: OVERLAY });
  const keys: Record<string, unknown> = {};
  let bytes: Uint8Array = new Uint8Array(0);
  for (const key of KEY_ALGORITHMS) ({ record: keys[key], bytes } = await benchKey(ca, key, durationMs));
  // CBOR of the same message structure, as a baseline for the codec.
  const structure = decodeCbor(bytes);
  const [cborEncode, cborDecode] = measurePair(
    () => encodeCbor(structure),
    () => decodeCbor(bytes),
    durationMs,
  );
  return { bench: 'wire', durationMs, keys, cborPerSecond: { encode: Math.round(cborEncode), decode: Math.round(cborDecode) } };
}
