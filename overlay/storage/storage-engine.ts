/**
 * The data a peer holds for the overlay (RFC 6940 §7): Store, Fetch, Stat and Find on local state,
 * lifetimes on an injected clock, and export for replication. Pure: no sockets, no routing, no
 * timers of its own (the node calls `sweep` from a timer).
 */
import { createHash } from 'node:crypto';
import type { PeerCertificate, TrustStore } from '../../certs/trust.js';
import type { Clock } from '../clock.js';
import { ErrorCode, invalidMessage, ReloadError } from '../errors.js';
import { idFromBytes, idToHex, ringDistance, type Id, type IdHash } from '../id.js';
import { copyStoredData, hasLiveValue, isLive, liveEntries, remainingSec, selectEntries, type Entry, type KindSlot } from './kind-slot.js';
import type { KindRegistry } from './kinds.js';
import { planStore, type StorePlan } from './store-plan.js';
import { MemoryBackend, type ResourceState, type StorageBackend } from './storage-backend.js';
import type { FetchAnswer, FindKindAnswer, StatKindAnswer, StoredDataSpecifier, StoreKindData, StoreRequest } from './types.js';

/** Certificates held at most by default: those of the signers of held values. */
export const DEFAULT_MAX_CERTIFICATES = 10_000;

/** The collaborators and limits of a StorageEngine. */
export interface StorageEngineOptions {
  kinds: KindRegistry;
  /** Verifies value signers' certificates at store time. */
  trust: TrustStore;
  /** Expiry and certificate validity are judged by this clock. */
  clock: Clock;
  /** The overlay's Resource-ID hash, for access policies. */
  hash: IdHash;
  /** Bytes of values, dictionary keys and signatures held at most (tombstones included). */
  maxBytes: number;
  /** Signer certificates held at most; default DEFAULT_MAX_CERTIFICATES. */
  maxCertificates?: number;
  /** Where resources are kept; default in memory. */
  backend?: StorageBackend;
}


/** The live entries one specifier picks, with the Kind's generation. */
interface Selection {
  kindId: number;
  generation: bigint;
  entries: Entry[];
}

/**
 * Everything this peer stores, by resource and Kind. Synchronous and single-threaded: each call
 * sees and leaves a consistent state, and reads the time once from the clock.
 */
export class StorageEngine {
  private readonly kinds: KindRegistry;
  private readonly trust: TrustStore;
  private readonly clock: Clock;
  private readonly hash: IdHash;
  private readonly maxBytes: number;
  private readonly maxCertificates: number;
  /** Resources, and the DER of value signers by SHA-256 fingerprint (hex). */
  private readonly state: StorageBackend;
  private bytes = 0;
  private count = 0;

  constructor(opts: StorageEngineOptions) {
    this.kinds = opts.kinds;
    this.state = opts.backend ?? new MemoryBackend();
    this.trust = opts.trust;
    this.clock = opts.clock;
    this.hash = opts.hash;
    this.maxBytes = opts.maxBytes;
    this.maxCertificates = opts.maxCertificates ?? DEFAULT_MAX_CERTIFICATES;
    // A persistent backend starts with what it kept: count it against maxBytes (which may have
    // been lowered since: then stores are refused until enough expires), and drop at once what
    // expired while the node was down, so that it is never served.
    for (const [, held] of this.state.entries()) {
      for (const slot of held.kinds.values()) {
        for (const e of slot.entries.values()) {
          this.bytes += e.bytes;
          this.count++;
        }
      }
    }
    this.sweep();
  }

  /** Bytes held (values, keys, signatures; tombstones and expired entries not yet swept included). */
  get bytesUsed(): number {
    return this.bytes;
  }

  /** Entries held (values and tombstones; expired ones not yet swept included). */
  get valueCount(): number {
    return this.count;
  }

  /**
   * What is held per Kind-ID: live values (not tombstones, not expired) and the bytes counted
   * against maxBytes (everything held until the next sweep). Walks every entry: for metrics, read
   * at each scrape, not for a hot path.
   */
  heldByKind(): Map<number, { values: number; bytes: number }> {
    const nowMs = this.clock.now();
    const totals = new Map<number, { values: number; bytes: number }>();
    for (const [, held] of this.state.entries()) {
      for (const [kindId, slot] of held.kinds) {
        let t = totals.get(kindId);
        if (!t) totals.set(kindId, (t = { values: 0, bytes: 0 }));
        for (const e of slot.entries.values()) {
          t.bytes += e.bytes;
          if (isLive(e, nowMs) && e.data.value.value.exists) t.values++;
        }
      }
    }
    return totals;
  }

  /**
   * Store (RFC 6940 §7.4.1.1): verifies the whole request, then applies it atomically — if any
   * check fails nothing changes. The checks are planStore's (store-plan.ts), then the engine's
   * limits: maxBytes and maxCertificates (Data_Too_Large `storage_full`).
   *
   * Applying: a single value replaces, an array entry goes to its index (ARRAY_APPEND: one past
   * the highest held), a dictionary entry to its key; exists = false leaves a tombstone held until
   * the deleted value's lifetime would have ended. An original store (replica number 0) that
   * changes data bumps the Kind's generation by 1 (the first store makes it 1); a replica store
   * (replica number > 0) is not checked against the request signer, whom the replication code has
   * already found to be a plausible replica source, and adopts the carried generation; re-sending the
   * same signed value (same storage time and bytes) only renews its lifetime. A value expires
   * lifetimeSec after it is received, by the clock.
   * @param requestSigner the verified signer of the StoreReq message
   * @returns each Kind's generation after the store, in request order
   */
  store(req: StoreRequest, requestSigner: PeerCertificate): { kindId: number; generation: bigint }[] {
    const nowMs = this.clock.now();
    const held = this.state.get(idToHex(req.resource));
    const plan = planStore(req, requestSigner, {
      kinds: this.kinds,
      trust: this.trust,
      hash: this.hash,
      nowMs,
      slotOf: (kindId) => held?.kinds.get(kindId),
      heldCertificate: (fingerprint) => this.state.certificate(fingerprint),
    });
    this.checkCapacity(plan, held);
    this.apply(req.resource, plan);
    return plan.kinds.map(({ kindId, generation }) => ({ kindId, generation }));
  }

  private checkCapacity(plan: StorePlan, held: ResourceState | undefined): void {
    let added = 0;
    for (const k of plan.kinds) {
      const slot = held?.kinds.get(k.kindId);
      for (const [key, entry] of k.changes) added += entry.bytes - (slot?.entries.get(key)?.bytes ?? 0);
    }
    if (this.bytes + added > this.maxBytes) {
      throw new ReloadError(ErrorCode.Data_Too_Large, `storage full: ${this.bytes} of ${this.maxBytes} bytes used, the store needs ${added} more`, 'storage_full');
    }
    const certificates = this.state.certificateCount + plan.newCertificates.size;
    if (certificates > this.maxCertificates) {
      throw new ReloadError(ErrorCode.Data_Too_Large, `storage full: the store needs ${certificates} signer certificates, at most ${this.maxCertificates} are held`, 'storage_full');
    }
  }

  /**
   * Builds the resource's new state beside the held one (the slots it changes are copies) and
   * hands it to the backend; only once that returned are the totals changed. A backend write that
   * throws (a full disk) so leaves the engine as it was and the store unacknowledged.
   */
  private apply(resource: Id, plan: StorePlan): void {
    const hex = idToHex(resource);
    const held = this.state.get(hex);
    const next: ResourceState = { resource: held?.resource ?? idFromBytes(resource), kinds: new Map(held?.kinds) };
    let changed = false;
    let bytes = 0;
    let count = 0;
    for (const k of plan.kinds) {
      const old = next.kinds.get(k.kindId);
      if (!old && k.changes.size === 0 && k.generation === 0n) continue;
      const slot: KindSlot = { generation: k.generation, entries: new Map(old?.entries) };
      for (const [key, entry] of k.changes) {
        const replaced = slot.entries.get(key);
        if (replaced) {
          bytes -= replaced.bytes;
          count--;
        }
        slot.entries.set(key, entry);
        bytes += entry.bytes;
        count++;
      }
      next.kinds.set(k.kindId, slot);
      changed = true;
    }
    // Certificates first: a crash in between leaves an unused certificate (swept later), never a
    // value whose signer's certificate is missing.
    for (const [fingerprint, der] of plan.newCertificates) this.state.putCertificate(fingerprint, der);
    if (!changed) return;
    this.state.put(hex, next);
    this.bytes += bytes;
    this.count += count;
  }

  /** Takes an entry that is being removed or replaced off the totals. */
  private forget(entry: Entry | undefined): void {
    if (!entry) return;
    this.bytes -= entry.bytes;
    this.count--;
  }

  /**
   * Fetch (RFC 6940 §7.4.2): per specifier, the Kind's generation and the live values its selector
   * picks (array ranges inclusive, dictionary keys; an empty selector picks all), deep copies with
   * their remaining lifetime, plus the DER certificates of their signers. Tombstones come back as
   * exists = false values (signed deletions). A specifier whose generation is non-zero and equal
   * to the held one gets no values: the fetcher has them already. A single value never stored, or
   * expired, gives no values rather than the RFC's synthesised exists = false one: that one would
   * carry no signature, and every value a fetcher receives can then be verified the same way.
   * Throws ReloadError Unknown_Kind, or Invalid_Message `wrong_data_model` for a selector of
   * another model than the Kind's.
   */
  fetch(resource: Id, specs: readonly StoredDataSpecifier[]): FetchAnswer {
    const nowMs = this.clock.now();
    const selections = this.select(resource, specs, nowMs);
    const signers = new Set(selections.flatMap((s) => s.entries.map((e) => e.signer)));
    return {
      kinds: selections.map(({ kindId, generation, entries }) => ({
        kindId,
        generation,
        values: entries.map((e) => copyStoredData(e.data, remainingSec(e, nowMs))),
      })),
      certificates: this.certificatesOf(signers),
    };
  }

  /**
   * Stat (RFC 6940 §7.4.3): what fetch would return, as metadata — index or key, exists, length,
   * SHA-256 of the value bytes, storage time and remaining lifetime. Same errors as fetch.
   */
  stat(resource: Id, specs: readonly StoredDataSpecifier[]): StatKindAnswer[] {
    const nowMs = this.clock.now();
    return this.select(resource, specs, nowMs).map(({ kindId, generation, entries }) => ({
      kindId,
      generation,
      values: entries.map((e) => {
        const v = e.data.value;
        return {
          ...(v.model === 'array' ? { index: v.index } : v.model === 'dictionary' ? { key: Uint8Array.from(v.key) } : {}),
          exists: v.value.exists,
          length: v.value.value.length,
          hash: Uint8Array.from(createHash('sha256').update(v.value.value).digest()),
          storageTimeMs: e.data.storageTimeMs,
          lifetimeSec: remainingSec(e, nowMs),
        };
      }),
    }));
  }

  private select(resource: Id, specs: readonly StoredDataSpecifier[], nowMs: number): Selection[] {
    const held = this.state.get(idToHex(resource));
    return specs.map((spec) => {
      const kind = this.kinds.resolve(spec.kindId);
      if (spec.selector.model !== kind.dataModel) {
        throw invalidMessage(`kind ${kind.name} is ${kind.dataModel}, the selector is ${spec.selector.model}`, 'wrong_data_model');
      }
      const slot = held?.kinds.get(kind.id);
      const generation = slot?.generation ?? 0n;
      const unchanged = spec.generation !== 0n && spec.generation === generation;
      return { kindId: kind.id, generation, entries: unchanged ? [] : selectEntries(slot, spec.selector, nowMs) };
    });
  }

  /**
   * Find (RFC 6940 §7.4.4): per Kind, the Resource-ID with a live value (not only tombstones) of
   * that Kind that is closest to `target` going clockwise — `target` itself, else the first one
   * after it on the ring — or undefined. Clockwise, because that is the direction in which Chord
   * assigns responsibility, so the answer is the one a search continuing along the ring would
   * reach first. Throws ReloadError Unknown_Kind.
   */
  find(target: Id, kindIds: readonly number[]): FindKindAnswer[] {
    const nowMs = this.clock.now();
    return kindIds.map((kindId) => {
      const kind = this.kinds.resolve(kindId);
      let closest: Id | undefined;
      let best = 0n;
      for (const [, { resource, kinds }] of this.state.entries()) {
        const slot = kinds.get(kind.id);
        if (!slot || !hasLiveValue(slot, nowMs)) continue;
        const distance = ringDistance(target, resource);
        if (closest === undefined || distance < best) [closest, best] = [resource, distance];
      }
      return { kindId: kind.id, closest: closest && idFromBytes(closest) };
    });
  }

  /** Resources with live entries (values or tombstones): what replication walks. */
  resources(): Id[] {
    const nowMs = this.clock.now();
    return [...this.state.entries()].map(([, held]) => held)
      .filter((held) => [...held.kinds.values()].some((slot) => [...slot.entries.values()].some((e) => isLive(e, nowMs))))
      .map((held) => idFromBytes(held.resource));
  }

  /**
   * A StoreRequest that copies everything held at `resource` to a replica (RFC 6940 §7.4.1.3,
   * §10.4): every live value and tombstone with its remaining lifetime in whole seconds (the
   * lifetime of re-stored data is reduced by the time it was held; an entry with less than a
   * second left is not sent), each Kind's current generation, and the signers' certificates.
   * Stored into another engine at the same time, it gives that engine identical fetch answers.
   * Undefined when nothing live is held there.
   * @param replicaNumber 1, 2, ... for replicas; 0 would make the receiver check this peer against
   * the access policies as the request signer, which fails for values others stored
   */
  exportResource(resource: Id, replicaNumber: number): StoreRequest | undefined {
    const nowMs = this.clock.now();
    const held = this.state.get(idToHex(resource));
    const signers = new Set<string>();
    const kinds: StoreKindData[] = [];
    for (const [kindId, slot] of held?.kinds ?? []) {
      const entries = liveEntries(slot, nowMs).filter((e) => remainingSec(e, nowMs) > 0);
      if (entries.length === 0) continue;
      for (const e of entries) signers.add(e.signer);
      kinds.push({ kindId, generation: slot.generation, values: entries.map((e) => copyStoredData(e.data, remainingSec(e, nowMs))) });
    }
    if (kinds.length === 0) return undefined;
    return { resource: idFromBytes(resource), replicaNumber, kinds, certificates: this.certificatesOf(signers) };
  }

  /** Forgets everything held at `resource` (e.g. after handing it to the new responsible peer). */
  drop(resource: Id): boolean {
    const hex = idToHex(resource);
    const held = this.state.get(hex);
    if (!held) return false;
    this.state.delete(hex);
    for (const slot of held.kinds.values()) for (const e of slot.entries.values()) this.forget(e);
    return true;
  }

  /**
   * Removes expired entries, then Kinds and resources left empty (their generation counters go
   * with them), then certificates no held entry was signed with. Call it periodically.
   * @returns the number of entries removed
   */
  sweep(): number {
    const nowMs = this.clock.now();
    const needed = new Set<string>();
    let removed = 0;
    for (const [hex, held] of [...this.state.entries()]) {
      let changed = false;
      for (const [kindId, slot] of held.kinds) {
        for (const [key, e] of slot.entries) {
          if (isLive(e, nowMs)) {
            needed.add(e.signer);
            continue;
          }
          this.forget(e);
          slot.entries.delete(key);
          removed++;
          changed = true;
        }
        if (slot.entries.size === 0) held.kinds.delete(kindId);
      }
      if (held.kinds.size === 0) this.state.delete(hex);
      else if (changed) this.state.put(hex, held);
    }
    for (const fingerprint of [...this.state.certificateFingerprints()]) if (!needed.has(fingerprint)) this.state.deleteCertificate(fingerprint);
    return removed;
  }

  private certificatesOf(fingerprints: Iterable<string>): Uint8Array[] {
    return [...fingerprints].flatMap((f) => {
      const der = this.state.certificate(f);
      return der ? [Uint8Array.from(der)] : [];
    });
  }
}
