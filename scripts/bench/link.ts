/**
 * `npm run bench -- link`: Ping round trips per second over one TLS link between two nodes, with 1
 * and 32 requests in flight, for RSA-2048 and ECDSA P-256 identities side by side, each beside a
 * raw TLS echo (certificates of the same key type) of the same message size that does the same
 * signing and verifying, measured in the same run. The ratio is what holds on a noisy machine.
 */
import { createPublicKey, verify } from 'node:crypto';
import { createRootCa, KEY_ALGORITHMS, type KeyAlgorithm, type RootCa } from '../../certs/ca.js';
import type { Identity } from '../../certs/identity.js';
import { newOverlayConfig } from '../../overlay/config.js';
import { Node } from '../../overlay/node.js';
import { pingRequestBody } from '../../overlay/methods/ping.js';
import type { Id } from '../../overlay/id.js';
import { encodeCbor } from '../../overlay/wire/cbor.js';
import { encodeMessage } from '../../overlay/wire/codec.js';
import { MessageCode } from '../../overlay/wire/codes.js';
import { headerFrom } from '../../overlay/wire/header.js';
import { signMessage } from '../../overlay/wire/sign.js';
import { enrollInMemory } from '../local-ring.js';
import { rawTlsEcho } from './link-baseline.js';

const OVERLAY = 'bench.reload';

/** The encoded size of the Ping request the benchmark sends, so the raw echo moves the same bytes. */
function pingFrameBytes(identity: Identity, to: Id, overlay: string): number {
  const header = headerFrom({ overlay, sequence: 1, initialTtl: 100 }, identity.nodeId, to);
  const contents = { code: MessageCode.PingReq, body: encodeCbor(pingRequestBody()), extensions: [] };
  return encodeMessage(signMessage(header, contents, identity)).length;
}

/** Round trips per second of `inFlight` concurrent pings from a to b for `durationMs`. */
async function pingRate(a: Node, b: Node, inFlight: number, durationMs: number): Promise<number> {
  let done = 0;
  let stopAt = 0;
  const worker = async () => {
    while (Date.now() < stopAt) {
      await a.ping(b.nodeId);
      done++;
    }
  };
  stopAt = Date.now() + Math.min(500, durationMs / 4);
  await Promise.all(Array.from({ length: inFlight }, worker)); // warm-up
  done = 0;
  const started = Date.now();
  stopAt = started + durationMs;
  await Promise.all(Array.from({ length: inFlight }, worker));
  return done / ((Date.now() - started) / 1000);
}

/** Ping rates over one TLS link between two nodes with `key` identities, beside the raw signed echo. */
async function benchKey(ca: RootCa, key: KeyAlgorithm, durationMs: number): Promise<Record<string, unknown>> {
  const config = newOverlayConfig(OVERLAY, ca.certPem);
  const [ida, idb] = await Promise.all([enrollInMemory(ca, OVERLAY, `a-${key}@${OVERLAY}`, { key }), enrollInMemory(ca, OVERLAY, `b-${key}@${OVERLAY}`, { key })]);
  const b = new Node({ config, identity: idb!, listen: { host: '127.0.0.1', port: 0 } });
  await b.start();
  const [, port] = /:(\d+)$/.exec(b.listenAddress!)!;
  const a = new Node({ config, identity: ida!, bootstrap: [{ host: '127.0.0.1', port: Number(port) }] });
  await a.start();
  try {
    const messageBytes = pingFrameBytes(ida!, b.nodeId, config.overlay);
    const publicKey = createPublicKey(ida!.privateKey);
    const signer = {
      sign: (data: Uint8Array) => ida!.sign(data),
      verify: (data: Uint8Array, sig: Uint8Array) => verify('sha256', data, publicKey, sig),
    };
    const result: Record<string, unknown> = { algorithm: ida!.algorithm, messageBytes };
    for (const inFlight of [1, 32]) {
      const ping = await pingRate(a, b, inFlight, durationMs);
      const raw = await rawTlsEcho({ messageBytes, inFlight, durationMs, sign: signer, key });
      result[`inFlight${inFlight}`] = {
        pingRoundTripsPerSec: Math.round(ping),
        rawTlsEchoSignedPerSec: Math.round(raw.roundTripsPerSec),
        ratio: Number((ping / raw.roundTripsPerSec).toFixed(3)),
      };
    }
    return result;
  } finally {
    await a.stop();
    await b.stop();
  }
}

export async function benchLink(opts: { durationMs?: number } = {}): Promise<Record<string, unknown>> {
  const durationMs = opts.durationMs ?? 3000;
  const ca = await createRootCa({ overlay: OVERLAY });
  const keys: Record<string, unknown> = {};
  for (const key of KEY_ALGORITHMS) keys[key] = await benchKey(ca, key, durationMs);
  return { bench: 'link', durationMs, keys };
}
