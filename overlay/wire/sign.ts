/**
 * Signing and verifying messages (RFC 6940 §6.3.4). The signature covers overlay, transaction id,
 * the encoded MessageContents and the SignerIdentity — not the via list, destinations or TTL,
 * which forwarders rewrite. The identity's signature scheme signs (RSA or ECDSA with SHA-256, or the
 * simulator's keyed stand-in); the trust store's verifies.
 */
import type { Identity } from '../../certs/identity.js';
import { fingerprintOf, type PeerCertificate, type TrustStore } from '../../certs/trust.js';
import { ErrorCode, invalidMessage, ReloadError } from '../errors.js';
import { idEquals } from '../id.js';
import { ownBytes } from '../util/own-bytes.js';
import { decodeContents, decodeSecurity, encodeContents, encodeSecurity, encodeSignerIdentity, signatureInput } from './codec.js';
import type { ForwardingHeader, MessageContents, SignerIdentity, WireMessage } from './message.js';

/** A message whose signature, certificate and origin have been checked. */
export interface VerifiedMessage {
  contents: MessageContents;
  /** The origin's certificate, chained to an overlay root and valid at the time of verification. */
  signer: PeerCertificate;
}

/** The SignerIdentity an identity signs as (its certificate's hash); made once per Identity. */
const signers = new WeakMap<Identity, SignerIdentity>();

function signerOf(identity: Identity): SignerIdentity {
  let signer = signers.get(identity);
  if (!signer) {
    signer = { type: 'cert_hash', hashAlg: 'sha256', certHash: Buffer.from(identity.fingerprint, 'hex') };
    signers.set(identity, signer);
  }
  return signer;
}

/**
 * The SignerIdentity as the signature input encodes it (its only form is the certificate's hash),
 * made once per Identity that signs or verified certificate that signed: a node signs as one and
 * verifies the same few again and again.
 */
const encodedSigners = new WeakMap<Identity | PeerCertificate, Uint8Array>();

function encodedSignerOf(holder: Identity | PeerCertificate): Uint8Array {
  let encoded = encodedSigners.get(holder);
  if (!encoded) {
    encoded = ownBytes(encodeSignerIdentity({ type: 'cert_hash', hashAlg: 'sha256', certHash: Buffer.from(holder.fingerprint, 'hex') }));
    encodedSigners.set(holder, encoded);
  }
  return encoded;
}

function forbidden(message: string, reason: string): ReloadError {
  return new ReloadError(ErrorCode.Forbidden, message, reason);
}

/**
 * Builds a signed message: encodes `contents`, signs it as the identity's certificate (a cert_hash
 * SignerIdentity, SHA-256 of the DER) and packs the security block. The certificate travels in the
 * block unless `includeCertificate` is false (the receiver already holds it). The header is used
 * as given; encode the result with `encodeMessage`. Throws ReloadError(Invalid_Message) for
 * contents or header values out of range.
 */
export function signMessage(
  header: ForwardingHeader,
  contents: MessageContents,
  identity: Identity,
  opts: { includeCertificate?: boolean } = {},
): WireMessage {
  const signer = signerOf(identity);
  const encodedSigner = encodedSignerOf(identity);
  const contentsBytes = encodeContents(contents);
  const value = identity.sign(signatureInput(header, contentsBytes, encodedSigner));
  const securityBytes = encodeSecurity({
    certificates: opts.includeCertificate === false ? [] : [identity.certDer],
    signature: { algorithm: identity.algorithm, signer, value },
  });
  return { header, contentsBytes, securityBytes };
}

/**
 * Verifies a received message at its destination (RFC 6940 §6.3.4, §13.3) and decodes its
 * contents. In order: the security block decodes; the signer's certificate is found by its hash
 * among the block's certificates, else through `opts.knownCertificate` (Forbidden
 * `unknown_signer`); it chains to a root and is valid at `nowMs` (TrustStore reasons such as
 * `untrusted_certificate`, `certificate_expired`); the signature verifies with its key (Forbidden
 * `bad_signature`); the certificate's Node-ID is the origin, via[0] (Forbidden `node_id_mismatch`).
 * Only then are the contents decoded. An empty via list or one starting with a non-node entry has
 * no origin to check: Invalid_Message, before any certificate work. Throws only ReloadError.
 * @param nowMs the time certificates must be valid at, in ms since the epoch (from the node's clock)
 */
export function verifyMessage(
  msg: WireMessage,
  trust: TrustStore,
  nowMs: number,
  opts: { knownCertificate?: (certHashHex: string) => Uint8Array | undefined } = {},
): VerifiedMessage {
  const origin = msg.header.via[0];
  if (origin?.type !== 'node') throw invalidMessage('via[0] must be the Node-ID of the origin', 'no_origin');
  const { certificates, signature } = decodeSecurity(msg.securityBytes);
  const certHashHex = Buffer.from(signature.signer.certHash).toString('hex');
  // A certificate already known needs no hashing of the ones the message carries.
  const der = opts.knownCertificate?.(certHashHex) ?? certificates.find((c) => fingerprintOf(c) === certHashHex);
  if (!der) throw forbidden(`no certificate with hash ${certHashHex} in the message or known`, 'unknown_signer');
  const signer = trust.verify(der, nowMs, certHashHex);
  // A cache lookup keyed by hash could hand back any certificate: hold it to the hash it claims.
  if (signer.fingerprint !== certHashHex) throw forbidden(`the certificate found for ${certHashHex} has another hash`, 'unknown_signer');
  const input = signatureInput(msg.header, msg.contentsBytes, encodedSignerOf(signer));
  if (!trust.verifySignature(signer, input, signature.value, signature.algorithm)) {
    throw forbidden(`signature by ${signer.identity.nodeIdHex} does not verify`, 'bad_signature');
  }
  if (!idEquals(signer.identity.nodeId, origin.id)) {
    throw forbidden(`signed by ${signer.identity.nodeIdHex}, but the origin in via[0] is another node`, 'node_id_mismatch');
  }
  return { contents: decodeContents(msg.contentsBytes), signer };
}
