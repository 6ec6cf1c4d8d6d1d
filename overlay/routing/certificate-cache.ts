/**
 * Signer certificates a node knows, by SHA-256 fingerprint (hex), so that messages may carry a
 * reference to their signer's certificate instead of the certificate (RFC 6940 §6.3.4, §8):
 * certificates arrive in messages, in TLS handshakes, and on a miss from the overlay's certificate
 * store. Bounded; one lookup per missing certificate at a time.
 */
import type { TrustStore } from '../../certs/trust.js';
import { fingerprintOf } from '../../certs/trust.js';
import type { Clock } from '../clock.js';
import { ErrorCode, ReloadError } from '../errors.js';
import type { Id } from '../id.js';
import { LruCache } from '../util/lru.js';

/** Certificates remembered. */
export const CERTIFICATE_CACHE_SIZE = 4096;
/** Certificate-store lookups running at once; further misses are dropped (the origin retransmits). */
export const MAX_CERTIFICATE_LOOKUPS = 64;

/** Looks up the certificates stored for a node (CERTIFICATE_BY_NODE at H(Node-ID)). */
export type CertificateLookup = (nodeId: Id) => Promise<Uint8Array[]>;

export class CertificateCache {
  private readonly known = new LruCache<string, Uint8Array>(CERTIFICATE_CACHE_SIZE);
  private readonly lookups = new Map<string, Promise<Uint8Array | undefined>>();
  /** How many certificates came from the certificate store (metrics, tests). */
  fetched = 0;

  constructor(
    private readonly trust: TrustStore,
    private readonly clock: Clock,
    private lookup?: CertificateLookup,
  ) {}

  /** Where certificates missing from messages are looked up; unset, a miss stays a miss. */
  setLookup(lookup: CertificateLookup): void {
    this.lookup = lookup;
  }

  get(fingerprint: string): Uint8Array | undefined {
    return this.known.get(fingerprint);
  }

  /**
   * Remembers a certificate already verified by the TrustStore (its fingerprint if known). `der` is
   * kept, not copied: callers pass bytes of their own (a PeerCertificate's, a link's peer identity),
   * never a view into a received frame. A copy here duplicated the TrustStore's: about 40 KB a node
   * in a simulation of 1,000 nodes, which share one TrustStore.
   */
  remember(der: Uint8Array, fingerprint = fingerprintOf(der)): void {
    if (this.known.get(fingerprint)) return;
    this.known.set(fingerprint, der);
  }

  /**
   * Finds the certificate with `fingerprint` among those stored for `nodeId`, verifies its chain
   * and remembers it. Resolves undefined when there is none or it does not verify.
   */
  resolve(nodeId: Id, fingerprint: string): Promise<Uint8Array | undefined> {
    const cached = this.known.get(fingerprint);
    if (cached) return Promise.resolve(cached);
    const running = this.lookups.get(fingerprint);
    if (running) return running;
    if (!this.lookup || this.lookups.size >= MAX_CERTIFICATE_LOOKUPS) return Promise.resolve(undefined);
    const lookup = this.lookup;
    const job = (async () => {
      try {
        const der = (await lookup(nodeId)).find((c) => fingerprintOf(c) === fingerprint);
        if (!der) return undefined;
        // The TrustStore's copy: `der` may be a view into the answer that carried it.
        const cert = this.trust.verify(der, this.clock.now());
        this.remember(cert.der, cert.fingerprint);
        this.fetched++;
        return cert.der;
      } catch {
        return undefined;
      } finally {
        this.lookups.delete(fingerprint);
      }
    })();
    this.lookups.set(fingerprint, job);
    return job;
  }
}

/** The error for a message whose signer's certificate could be found nowhere. */
export function unknownSigner(fingerprint: string): ReloadError {
  return new ReloadError(ErrorCode.Forbidden, `certificate ${fingerprint} is neither in the message nor in the certificate store`, 'unknown_signer');
}
