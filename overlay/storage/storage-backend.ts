/**
 * Where a storage engine keeps what it holds: resources (their Kinds' slots) and the certificates
 * of the values' signers. The engine hands `put` a resource's new state after every change to it
 * and only then counts the change as made, so a persistent backend writes the resource through at
 * that point (and a write that throws leaves the engine as it was); the in-memory default keeps the
 * objects as they are. Certificates are kept with the values: a restarted node answers a Fetch
 * with the signers' certificates, as fetchers need them to verify the values (RFC 6940 §7.4.2.2),
 * and hands them on with replicas.
 */
import type { Id } from '../id.js';
import type { KindSlot } from './kind-slot.js';

/** Everything held at one Resource-ID: its Kinds' slots. */
export interface ResourceState {
  resource: Id;
  kinds: Map<number, KindSlot>;
}

export interface StorageBackend {
  get(resourceHex: string): ResourceState | undefined;
  /** Stores or replaces a resource after a change. */
  put(resourceHex: string, state: ResourceState): void;
  delete(resourceHex: string): void;
  /** Every held resource, by hex Resource-ID. */
  entries(): IterableIterator<[string, ResourceState]>;
  /** A held signer certificate (DER) by its SHA-256 fingerprint (hex). */
  certificate(fingerprint: string): Uint8Array | undefined;
  putCertificate(fingerprint: string, der: Uint8Array): void;
  deleteCertificate(fingerprint: string): void;
  /** Fingerprints of every held certificate. */
  certificateFingerprints(): IterableIterator<string>;
  readonly certificateCount: number;
}

/** The default backend: a Map in memory (bounded by the engine's byte limit). */
export class MemoryBackend implements StorageBackend {
  private readonly resources = new Map<string, ResourceState>();
  private readonly certificates = new Map<string, Uint8Array>();

  get(resourceHex: string): ResourceState | undefined {
    return this.resources.get(resourceHex);
  }

  put(resourceHex: string, state: ResourceState): void {
    this.resources.set(resourceHex, state);
  }

  delete(resourceHex: string): void {
    this.resources.delete(resourceHex);
  }

  entries(): IterableIterator<[string, ResourceState]> {
    return this.resources.entries();
  }

  certificate(fingerprint: string): Uint8Array | undefined {
    return this.certificates.get(fingerprint);
  }

  putCertificate(fingerprint: string, der: Uint8Array): void {
    this.certificates.set(fingerprint, der);
  }

  deleteCertificate(fingerprint: string): void {
    this.certificates.delete(fingerprint);
  }

  certificateFingerprints(): IterableIterator<string> {
    return this.certificates.keys();
  }

  get certificateCount(): number {
    return this.certificates.size;
  }
}
