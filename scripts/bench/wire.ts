/**
 * `npm run bench -- wire`: messages per second through the wire layer for a Ping request —
 * signMessage + encodeMessage, and decodeMessage + verifyMessage — beside their raw baselines
 * measured in the same run: node:crypto RSA-SHA256 sign and verify of an input of the same size
 * with the same key, and cbor-x encode and decode of the same CBOR structure. The ratios are
 * what hold on a noisy machine: signing should cost little beyond the RSA operation itself.
 */
import { sign, verify } from 'node:crypto';
import { createCsr, createRootCa, issueNodeCertificate } from '../../certs/ca.js';
import { Identity } from '../../certs/identity.js';
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

/**
 * Measures the wire layer; returns a JSON-able record with rates in operations per second
 * (`ratesPerSecond`) and `signRatio` = encodeSign / rawSign, `verifyRatio` = decodeVerify / rawVerify.
 * Creates its own CA and identity (two RSA-2048 keys, about a second).
 * @param opts.durationMs length of each of the six measurements, in ms (default DEFAULT_WIRE_BENCH_MS)
 */
export async function benchWire(opts: { durationMs?: number } = {}): Promise<Record<string, unknown>> {
  const durationMs = opts.durationMs ?? DEFAULT_WIRE_BENCH_MS;
  const ca = await createRootCa({ overlay: OVERLAY });
  const user = `bench@${OVERLAY}`;
  const { keyPem, csrPem } = await createCsr(user);
  const identity = new Identity(keyPem, issueNodeCertificate(ca, csrPem, { overlay: OVERLAY, user }).certPem + ca.certPem);
  const trust = new TrustStore([ca.certPem], OVERLAY);

  const header: ForwardingHeader = headerFrom({ overlay: OVERLAY, sequence: 1, initialTtl: 100 }, identity.nodeId, idFromHex('ffeeddccbbaa99887766554433221100'));
  const contents: MessageContents = { code: MessageCode.PingReq, body: encodeCbor(pingRequestBody()), extensions: [] };
  const message = signMessage(header, contents, identity);
  const bytes = encodeMessage(message);
  const nowMs = systemClock.now();

  // The baselines work on what the wire layer works on: the same signature input and key, the same CBOR structure.
  const { signature } = decodeSecurity(message.securityBytes);
  const input = signatureInput(header, message.contentsBytes, encodeSignerIdentity(signature.signer));
  const { publicKey } = trust.verify(identity.certDer, nowMs);
  const structure = decodeCbor(bytes);

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
  const [cborEncode, cborDecode] = measurePair(
    () => encodeCbor(structure),
    () => decodeCbor(bytes),
    durationMs,
  );
  const round = (n: number) => Math.round(n);
  return {
    bench: 'wire',
    durationMs,
    messageBytes: bytes.length,
    signatureInputBytes: input.length,
    ratesPerSecond: {
      encodeSign: round(encodeSign),
      rawSign: round(rawSign),
      decodeVerify: round(decodeVerify),
      rawVerify: round(rawVerify),
      cborEncode: round(cborEncode),
      cborDecode: round(cborDecode),
    },
    signRatio: Number((encodeSign / rawSign).toFixed(3)),
    verifyRatio: Number((decodeVerify / rawVerify).toFixed(3)),
  };
}
