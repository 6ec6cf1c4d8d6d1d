/**
 * The baseline for the link benchmark: a raw node:tls echo on 127.0.0.1 with the same TLS settings
 * and the same kind of certificates as TlsLink, length-prefixed frames, and optionally the same
 * signing and verifying work per message, but no overlay (no codec, routing or transactions). The
 * ratio of overlay Ping to this is what survives a noisy machine.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import { createRootCa, type KeyAlgorithm } from '../../certs/ca.js';
import { enrollInMemory } from '../local-ring.js';
import type { Identity } from '../../certs/identity.js';
import { TrustStore } from '../../certs/trust.js';
import { systemClock } from '../../overlay/clock.js';
import { LINK_SOCKET_OPTIONS, authenticatePeer, tlsCredentials } from '../../overlay/link/tls-options.js';
import { FrameReader, framePrefix } from '../../overlay/wire/framing.js';

const OVERLAY = 'bench-baseline.reload';
/** Bytes before the signature in a signed frame: its length, u16 big-endian. */
const SIGNATURE_LENGTH_BYTES = 2;

/** Signs what a side sends and verifies what it receives, as a node does with every message. */
export interface EchoSigner {
  sign(bytes: Uint8Array): Uint8Array;
  verify(bytes: Uint8Array, signature: Uint8Array): boolean;
}

export interface RawTlsEchoOptions {
  /** Size of each framed message, bytes, signature included when `sign` is given. */
  messageBytes: number;
  /** Messages outstanding at any time (a new one is sent as each echo returns). */
  inFlight: number;
  /** How long to measure, ms (wall clock). */
  durationMs: number;
  /** When given, each side signs every message it sends and verifies every one it receives. */
  sign?: EchoSigner;
  /** The key type of the TLS certificates (default rsa). */
  key?: KeyAlgorithm;
}

interface BenchPki {
  server: Identity;
  client: Identity;
  trust: TrustStore;
}

const benchPkis = new Map<KeyAlgorithm, Promise<BenchPki>>();

/** A throwaway CA and two enrolled identities with `key` keys, made once per process (RSA keys are slow). */
function pki(key: KeyAlgorithm): Promise<BenchPki> {
  const made = benchPkis.get(key);
  if (made) return made;
  const making = (async () => {
    const ca = await createRootCa({ overlay: OVERLAY });
    const [server, client] = await Promise.all([enrollInMemory(ca, OVERLAY, `echo-server@${OVERLAY}`, { key }), enrollInMemory(ca, OVERLAY, `echo-client@${OVERLAY}`, { key })]);
    return { server, client, trust: new TrustStore([ca.certPem], OVERLAY) };
  })();
  benchPkis.set(key, making);
  return making;
}

/** Bytes a frame may exceed messageBytes by: ECDSA signatures are 70-72 bytes of DER. */
const SIGNATURE_LENGTH_SLACK = 8;

/** Frame layout: the payload, or with signing `sigLength u16 | signature | payload`. */
function makeCodec(signer: EchoSigner | undefined) {
  return {
    seal(payload: Uint8Array): Uint8Array {
      if (!signer) return payload;
      const signature = signer.sign(payload);
      const out = Buffer.allocUnsafe(SIGNATURE_LENGTH_BYTES + signature.length + payload.length);
      out.writeUInt16BE(signature.length, 0);
      out.set(signature, SIGNATURE_LENGTH_BYTES);
      out.set(payload, SIGNATURE_LENGTH_BYTES + signature.length);
      return out;
    },
    /** The payload of a frame; throws if its signature does not verify. */
    open(frame: Buffer): Uint8Array {
      if (!signer) return frame;
      const sigEnd = SIGNATURE_LENGTH_BYTES + frame.readUInt16BE(0);
      const payload = frame.subarray(sigEnd);
      if (!signer.verify(payload, frame.subarray(SIGNATURE_LENGTH_BYTES, sigEnd))) throw new Error('echo: bad signature');
      return payload;
    },
  };
}

/** Prefix and frame as two writes, as TlsLink does. */
function writeFrame(socket: TLSSocket, frame: Uint8Array): void {
  socket.write(framePrefix(frame.length));
  socket.write(frame);
}

/**
 * Round trips per second of a raw TLS 1.3 echo between two sockets of this process, with
 * `inFlight` messages outstanding, measured over `durationMs` after the handshake. Opens a server
 * on an ephemeral 127.0.0.1 port and one client connection; closes both before returning.
 */
export async function rawTlsEcho(opts: RawTlsEchoOptions): Promise<{ roundTripsPerSec: number }> {
  const { messageBytes, inFlight, durationMs, sign } = opts;
  if (!(Number.isInteger(inFlight) && inFlight >= 1)) throw new RangeError(`inFlight must be an integer >= 1, got ${inFlight}`);
  if (!(durationMs > 0)) throw new RangeError(`durationMs must be > 0, got ${durationMs}`);
  const codec = makeCodec(sign);
  // The payload that, once sealed, makes a frame of exactly messageBytes.
  const overhead = sign ? SIGNATURE_LENGTH_BYTES + sign.sign(new Uint8Array(1)).length : 0;
  if (!(Number.isInteger(messageBytes) && messageBytes > overhead)) {
    throw new RangeError(`messageBytes must be an integer > ${overhead}, got ${messageBytes}`);
  }
  const payload = Buffer.alloc(messageBytes - overhead, 0x5a);
  // An ECDSA signature's DER length varies by a byte or two from one signature to the next.
  const maxFrameBytes = messageBytes + SIGNATURE_LENGTH_SLACK;
  const { server: serverId, client: clientId, trust } = await pki(opts.key ?? 'rsa');

  let serverFailure: Error | undefined;
  const server = tls.createServer(
    { ...tlsCredentials(serverId, trust), ...LINK_SOCKET_OPTIONS, requestCert: true, rejectUnauthorized: true },
    (socket) => {
      const reader = new FrameReader(maxFrameBytes);
      socket.on('data', (chunk: Buffer) => {
        // Corked per chunk: the echoes of all frames in one read leave in one TLS write.
        socket.cork();
        try {
          for (const frame of reader.push(chunk)) writeFrame(socket, codec.seal(codec.open(frame)));
        } catch (e) {
          serverFailure = e as Error;
          socket.destroy();
        }
        socket.uncork();
      });
      // The client's teardown resets this socket; failures are reported through the client.
      socket.on('error', () => {});
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const socket = tls.connect({
    host: '127.0.0.1',
    port,
    ...tlsCredentials(clientId, trust),
    checkServerIdentity: (_host, cert) => {
      try {
        authenticatePeer(cert.raw, trust, systemClock.now());
        return undefined;
      } catch (e) {
        return e as Error;
      }
    },
  });
  socket.setNoDelay(LINK_SOCKET_OPTIONS.noDelay);
  try {
    await once(socket, 'secureConnect');
    const roundTripsPerSec = await new Promise<number>((resolve, reject) => {
      const reader = new FrameReader(maxFrameBytes);
      const started = systemClock.now();
      let stoppedAt = 0;
      let completed = 0;
      let outstanding = 0;
      const finish = () => resolve(completed / ((stoppedAt - started) / 1000));
      const sendOne = () => {
        outstanding++;
        writeFrame(socket, codec.seal(payload));
      };
      socket.on('data', (chunk: Buffer) => {
        socket.cork();
        try {
          for (const frame of reader.push(chunk)) {
            codec.open(frame);
            outstanding--;
            if (stoppedAt === 0) {
              completed++;
              sendOne();
            } else if (outstanding === 0) finish();
          }
        } catch (e) {
          reject(e);
        }
        socket.uncork();
      });
      socket.on('error', reject);
      socket.on('close', () => reject(serverFailure ?? new Error('echo: connection closed during the run')));
      // Stop sending at the deadline and let the outstanding echoes come home, so the run ends
      // with nothing in flight.
      systemClock.after(durationMs, () => {
        stoppedAt = systemClock.now();
        if (outstanding === 0) finish();
      });
      socket.cork();
      for (let i = 0; i < inFlight; i++) sendOne();
      socket.uncork();
    });
    return { roundTripsPerSec };
  } finally {
    socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
}
