/**
 * Verifying a peer's certificate against the overlay's root certificates (RFC 6940 §13.3, §11.3):
 * signature by a root, validity period at the given time, exactly one reload URI for this overlay
 * and one user name. Parsed certificates and chain results are cached by fingerprint, because
 * parsing a certificate costs several times a signature check.
 */
import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import { ErrorCode, ReloadError, isReloadError } from '../overlay/errors.js';
import { LruCache } from '../overlay/util/lru.js';
import { ownBytes } from '../overlay/util/own-bytes.js';
import { certIdentity, type CertIdentity } from './san.js';
import { certificateSignatures, type SignatureAlgorithm, type SignatureScheme } from './signature-scheme.js';

/** Certificates remembered after their chain was checked. */
export const DEFAULT_CERT_CACHE_SIZE = 4096;

/** A certificate whose chain to a root has been verified (its validity is checked per use). */
export interface PeerCertificate {
  der: Buffer;
  /** SHA-256 of the DER, lowercase hex. */
  fingerprint: string;
  x509: X509Certificate;
  publicKey: KeyObject;
  identity: CertIdentity;
  notBeforeMs: number;
  notAfterMs: number;
}

export function fingerprintOf(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

function tryParse(der: Uint8Array): X509Certificate | undefined {
  try {
    return new X509Certificate(der);
  } catch {
    return undefined;
  }
}

function forbidden(message: string, reason: string): ReloadError {
  return new ReloadError(ErrorCode.Forbidden, message, reason);
}

export class TrustStore {
  private readonly roots: X509Certificate[];
  private readonly cache: LruCache<string, PeerCertificate>;
  private readonly signatures: SignatureScheme;

  /**
   * @param rootPems the overlay's root certificates (PEM), from the configuration document
   * @param overlay the overlay name certificates must carry in their reload URI
   * @param opts.signatures the signature primitive peers sign with (the same as the node's identity)
   */
  constructor(
    readonly rootPems: readonly string[],
    readonly overlay: string,
    opts: { cacheSize?: number; signatures?: SignatureScheme } = {},
  ) {
    this.signatures = opts.signatures ?? certificateSignatures;
    this.roots = rootPems.map((pem, i) => {
      let cert: X509Certificate;
      try {
        cert = new X509Certificate(pem);
      } catch (e) {
        throw new Error(`root certificate ${i} is not a valid PEM certificate: ${(e as Error).message}`);
      }
      if (!cert.ca) throw new Error(`root certificate ${i} is not a CA certificate`);
      return cert;
    });
    if (this.roots.length === 0) throw new Error('an overlay needs at least one root certificate');
    this.cache = new LruCache(opts.cacheSize ?? DEFAULT_CERT_CACHE_SIZE);
  }

  /**
   * Whether `value` is `signer`'s signature over `data`, made with the algorithm its key signs
   * with (`algorithm`, when the signature names one, must be that one). Never throws.
   */
  verifySignature(signer: PeerCertificate, data: Uint8Array, value: Uint8Array, algorithm?: SignatureAlgorithm): boolean {
    const expected = this.signatures.algorithmOf(signer.publicKey);
    if (!expected || (algorithm !== undefined && algorithm !== expected)) return false;
    return this.signatures.verify(signer, data, value);
  }

  /** The chain as PEM, for TLS `ca` options. */
  get caPems(): string[] {
    return [...this.rootPems];
  }

  /**
   * Verifies a DER certificate at time `nowMs`; throws ReloadError(Forbidden) with reason
   * `bad_certificate`, `untrusted_certificate`, `certificate_expired`, `certificate_not_yet_valid`,
   * `no_node_identity` or `wrong_overlay`. `claimedFingerprint`: the hash a message names the
   * certificate by; when the certificate cached under it has these very bytes it is this one, and
   * comparing bytes costs far less than hashing them again.
   */
  verify(der: Uint8Array, nowMs: number, claimedFingerprint?: string): PeerCertificate {
    const claimed = claimedFingerprint === undefined ? undefined : this.cache.get(claimedFingerprint);
    let peer = claimed && Buffer.from(der.buffer, der.byteOffset, der.length).equals(claimed.der) ? claimed : undefined;
    if (!peer) {
      const fingerprint = fingerprintOf(der);
      peer = this.cache.get(fingerprint);
      if (!peer) {
        peer = this.verifyChain(ownBytes(der), fingerprint);
        this.cache.set(fingerprint, peer);
      }
    }
    if (nowMs < peer.notBeforeMs) throw forbidden(`certificate of ${peer.identity.nodeIdHex} is not valid before ${peer.x509.validFrom}`, 'certificate_not_yet_valid');
    if (nowMs > peer.notAfterMs) throw forbidden(`certificate of ${peer.identity.nodeIdHex} expired ${peer.x509.validTo}`, 'certificate_expired');
    return peer;
  }

  /**
   * A node's check of its own certificate, made at start before any socket opens: the checks every
   * peer will make, refused with a message that says which one failed and what to do, instead of
   * links that every peer refuses later. Throws ReloadError(Forbidden) with verify()'s reasons.
   */
  verifyOwn(der: Uint8Array, nowMs: number): PeerCertificate {
    try {
      return this.verify(der, nowMs);
    } catch (e) {
      if (!isReloadError(e)) throw e;
      const x509 = tryParse(der);
      const enrollAgain = 'enroll again with `reload-ppsp enroll`';
      const why: Record<string, string> = {
        certificate_expired: `expired on ${x509?.validTo}: ${enrollAgain}`,
        certificate_not_yet_valid: `is not valid before ${x509?.validFrom}: check this machine's clock, or ${enrollAgain}`,
        untrusted_certificate: `was not issued by a root CA of overlay "${this.overlay}" (the config's rootCerts): enrolled with another CA? ${enrollAgain} with this overlay's CA`,
        wrong_overlay: `is for another overlay than "${this.overlay}": ${e.message.replace(/^Forbidden: /, '')}`,
      };
      throw forbidden(`this node's own certificate ${why[e.reason] ?? `is refused: ${e.message.replace(/^Forbidden: /, '')}`}`, e.reason);
    }
  }

  /** The same check for a certificate Node's TLS layer already parsed. */
  verifyX509(cert: X509Certificate, nowMs: number): PeerCertificate {
    return this.verify(cert.raw, nowMs);
  }

  private verifyChain(der: Buffer, fingerprint: string): PeerCertificate {
    let x509: X509Certificate;
    try {
      x509 = new X509Certificate(der);
    } catch {
      throw forbidden('not a DER X.509 certificate', 'bad_certificate');
    }
    if (x509.ca) throw forbidden('a CA certificate cannot be a node identity', 'bad_certificate');
    const issuer = this.roots.find((root) => x509.checkIssued(root) && x509.verify(root.publicKey));
    if (!issuer) throw forbidden('certificate is not signed by a root of this overlay', 'untrusted_certificate');
    const identity = certIdentity(x509);
    if (!identity) throw forbidden('certificate carries no single reload:// Node-ID and user name', 'no_node_identity');
    if (identity.overlay !== this.overlay) {
      throw forbidden(`certificate is for overlay "${identity.overlay}", not "${this.overlay}"`, 'wrong_overlay');
    }
    if (!this.signatures.algorithmOf(x509.publicKey)) throw forbidden(`a ${x509.publicKey.asymmetricKeyType} key cannot sign here (RSA or EC on P-256)`, 'bad_certificate');
    return {
      der,
      fingerprint,
      x509,
      publicKey: x509.publicKey,
      identity,
      notBeforeMs: Date.parse(x509.validFrom),
      notAfterMs: Date.parse(x509.validTo),
    };
  }
}
