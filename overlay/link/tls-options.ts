/**
 * The TLS settings every overlay link uses (RFC 6940 §6.6.1: endpoint authentication to a Node-ID,
 * integrity, confidentiality), and the one check that turns a peer's certificate into a Node-ID.
 * Shared by the listener, the dialer and the raw-TLS benchmark so they cannot drift apart.
 */
import type { SecureContextOptions } from 'node:tls';
import type { Identity } from '../../certs/identity.js';
import type { PeerCertificate, TrustStore } from '../../certs/trust.js';
import { ErrorCode, ReloadError } from '../errors.js';
import { idEquals, idToHex, type Id } from '../id.js';

/** Oldest TLS version accepted: 1.3 only (no renegotiation, encrypted certificates). */
export const TLS_MIN_VERSION = 'TLSv1.3';

/**
 * First TCP keepalive probe after this much idle time, ms. Keepalive only reaps connections whose
 * peer vanished without a FIN; the overlay's own pings judge liveness (RFC 6940 §6.6.3.2).
 */
export const TCP_KEEPALIVE_INITIAL_DELAY_MS = 30_000;

/**
 * Socket options for both ends: Nagle off because overlay traffic is small request/answer pairs
 * (batching is done by corking), keepalive on so dead peers do not hold sockets forever.
 */
export const LINK_SOCKET_OPTIONS = {
  noDelay: true,
  keepAlive: true,
  keepAliveInitialDelay: TCP_KEEPALIVE_INITIAL_DELAY_MS,
} as const;

/**
 * Key, certificate chain and trusted roots for one side of a link. The chain (leaf + CA) is sent so
 * the peer sees the same bytes it would verify offline; only the overlay's roots are trusted.
 */
export function tlsCredentials(identity: Identity, trust: TrustStore): SecureContextOptions & { minVersion: typeof TLS_MIN_VERSION } {
  return { key: identity.keyPem, cert: identity.certPem, ca: trust.caPems, minVersion: TLS_MIN_VERSION };
}

function forbidden(message: string, reason: string): ReloadError {
  return new ReloadError(ErrorCode.Forbidden, message, reason);
}

const UNTRUSTED_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'CERT_CHAIN_TOO_LONG',
  'PATH_LENGTH_EXCEEDED',
]);

/**
 * OpenSSL's certificate verdict (Node's `authorizationError`, or an error's `code`, e.g.
 * `CERT_HAS_EXPIRED`) as a ReloadError(Forbidden) with the reason TrustStore would give, so callers
 * see one vocabulary whichever layer refused. Undefined for codes that are not certificate
 * verdicts (socket or protocol errors). OpenSSL checks validity against the system time, TrustStore
 * against the node's clock; a link needs both to pass.
 */
export function tlsVerifyRefusal(code: string | undefined): ReloadError | undefined {
  if (code === 'CERT_HAS_EXPIRED') return forbidden('peer certificate has expired (TLS verification)', 'certificate_expired');
  if (code === 'CERT_NOT_YET_VALID') return forbidden('peer certificate is not yet valid (TLS verification)', 'certificate_not_yet_valid');
  if (code !== undefined && UNTRUSTED_CODES.has(code)) {
    return forbidden(`peer certificate is not signed by a root of this overlay (${code})`, 'untrusted_certificate');
  }
  return undefined;
}

/**
 * Verifies a peer's leaf certificate (DER) with the overlay's TrustStore at `nowMs` (the node's
 * clock) and, when given, that it names `expectedNodeId`. Throws ReloadError(Forbidden) with the
 * TrustStore's reason or `node_id_mismatch`.
 */
export function authenticatePeer(der: Uint8Array, trust: TrustStore, nowMs: number, expectedNodeId?: Id): PeerCertificate {
  const peer = trust.verify(der, nowMs);
  if (expectedNodeId && !idEquals(peer.identity.nodeId, expectedNodeId)) {
    throw forbidden(`peer is node ${peer.identity.nodeIdHex}, expected ${idToHex(expectedNodeId)}`, 'node_id_mismatch');
  }
  return peer;
}
