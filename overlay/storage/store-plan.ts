/**
 * The verify half of Store (RFC 6940 §7.4.1.1): checks a whole StoreRequest against what the peer
 * holds and computes the changes, touching no state. The engine applies the plan only once every
 * check has passed, so a refused store changes nothing.
 */
import { fingerprintOf, type PeerCertificate, type TrustStore } from '../../certs/trust.js';
import { ErrorCode, invalidMessage, ReloadError } from '../errors.js';
import type { IdHash } from '../id.js';
import { checkAccess } from './access-control.js';
import { verifyStoredData } from './data-signature.js';
import { GenerationError } from './generation-error.js';
import { copyStoredData, entryBytes, entryKey, isLive, type Entry, type KindSlot } from './kind-slot.js';
import type { KindRegistry } from './kinds.js';
import { ARRAY_APPEND, MIN_LIFETIME_SEC, type Kind, type StoredData, type StoreKindData, type StoreRequest } from './types.js';

/** What the plan reads: collaborators and the current state at the request's resource. */
export interface PlanContext {
  kinds: KindRegistry;
  trust: TrustStore;
  hash: IdHash;
  nowMs: number;
  /** The held slot of a Kind at the request's resource. */
  slotOf(kindId: number): KindSlot | undefined;
  /** A held certificate (DER) by its SHA-256 fingerprint (hex). */
  heldCertificate(fingerprint: string): Uint8Array | undefined;
}

/** One Kind's outcome of a store: the entries it sets and the generation it leaves. */
export interface KindPlan {
  kindId: number;
  /** Entries to set, by entry key; each replaces whatever is held under that key. */
  changes: Map<string, Entry>;
  /** The Kind's generation after the store. */
  generation: bigint;
}

/** A verified store, ready to apply. */
export interface StorePlan {
  kinds: KindPlan[];
  /** Certificates of value signers that the engine does not hold yet, by fingerprint. */
  newCertificates: Map<string, Uint8Array>;
}

/** The value signers' certificates: from the engine's store, else from the request. */
class Signers {
  private offered: Map<string, Uint8Array> | undefined;
  readonly added = new Map<string, Uint8Array>();

  constructor(
    private readonly req: StoreRequest,
    private readonly ctx: PlanContext,
  ) {}

  /** The verified certificate named by `certHash`; Forbidden `unknown_signer` or a TrustStore reason. */
  get(certHash: Uint8Array, field: string): PeerCertificate {
    const fingerprint = Buffer.from(certHash).toString('hex');
    const held = this.ctx.heldCertificate(fingerprint);
    const der = held ?? (this.offered ??= new Map(this.req.certificates.map((c) => [fingerprintOf(c), c]))).get(fingerprint);
    if (!der) throw new ReloadError(ErrorCode.Forbidden, `${field}: no certificate with hash ${fingerprint} in the request or held`, 'unknown_signer');
    const signer = this.ctx.trust.verify(der, this.ctx.nowMs);
    if (!held) this.added.set(fingerprint, Uint8Array.from(der));
    return signer;
  }
}

/**
 * Verifies `req` and computes its changes. Throws the first refusal, checking per Kind in order:
 * Kind known (Unknown_Kind); then per value its data model (Invalid_Message `wrong_data_model`),
 * lifetime (Invalid_Message `bad_lifetime`, see MIN_LIFETIME_SEC),
 * size (Data_Too_Large), signer certificate (Forbidden `unknown_signer` or a TrustStore reason),
 * signature (Forbidden `bad_data_signature`), the access policy for the value's signer and, for an
 * original store (replica number 0), for the request's signer too (Forbidden `access_denied`,
 * RFC 6940 §7.3); then storage times (Data_Too_Old, original stores only), the generation (GenerationError) and the
 * value count (Data_Too_Large `too_many_values`).
 *
 * Replica stores (replica number > 0) skip the request-signer policy: the replication code has
 * already checked that the sender is a plausible replica source for the resource. They must
 * carry the primary's array indexes (no appends), and never bump the generation: they adopt the
 * primary's when it is higher. A replica value not newer than the one held is skipped, not refused.
 */
export function planStore(req: StoreRequest, requestSigner: PeerCertificate, ctx: PlanContext): StorePlan {
  const isReplica = req.replicaNumber > 0;
  const seen = new Set<number>();
  for (const k of req.kinds) {
    if (seen.has(k.kindId)) throw invalidMessage(`kind ${k.kindId} appears twice in one store`, 'duplicate_kind');
    seen.add(k.kindId);
  }
  const signers = new Signers(req, ctx);
  const kinds = req.kinds.map((kindData) => {
    const kind = ctx.kinds.resolve(kindData.kindId);
    const signerOf = kindData.values.map((data, i) => {
      const field = `kind ${kind.name} values[${i}]`;
      checkShape(kind, data, field, isReplica);
      const signer = signers.get(data.signature.certHash, field);
      verifyStoredData(req.resource, kind.id, data, signer, ctx.trust);
      checkAccess(kind, req.resource, data.value, signer, ctx.hash);
      if (!isReplica) checkAccess(kind, req.resource, data.value, requestSigner, ctx.hash);
      return signer.fingerprint;
    });
    return planKind(req, kind, kindData, signerOf, ctx);
  });
  return { kinds, newCertificates: signers.added };
}

function checkShape(kind: Kind, data: StoredData, field: string, isReplica: boolean): void {
  if (data.value.model !== kind.dataModel) {
    throw invalidMessage(`${field} is a ${data.value.model} value, but the kind's data model is ${kind.dataModel}`, 'wrong_data_model');
  }
  if (data.lifetimeSec < MIN_LIFETIME_SEC) throw invalidMessage(`${field} has a lifetime of ${data.lifetimeSec} s: it would be gone on arrival`, 'bad_lifetime');
  const size = data.value.value.value.length;
  if (size > kind.maxSize) throw new ReloadError(ErrorCode.Data_Too_Large, `${field} has ${size} bytes, more than the kind's max-size of ${kind.maxSize}`);
  if (isReplica && data.value.model === 'array' && data.value.index === ARRAY_APPEND) {
    throw invalidMessage(`${field}: a replica store must carry the primary's array index, not append`, 'append_in_replica');
  }
}

/** Applies one Kind's values, in order, to a staged view of the slot; the slot itself is untouched. */
function planKind(req: StoreRequest, kind: Kind, kindData: StoreKindData, signerOf: string[], ctx: PlanContext): KindPlan {
  const slot = ctx.slotOf(kind.id);
  const changes = new Map<string, Entry>();
  const held = (key: string) => (changes.has(key) ? changes.get(key) : slot?.entries.get(key));
  let nextIndex = kind.dataModel === 'array' ? nextArrayIndex(slot, ctx.nowMs) : 0;
  let changed = false;
  kindData.values.forEach((incoming, i) => {
    const data = copyStoredData(incoming);
    if (data.value.model === 'array') {
      // The copy is ours: the responsible peer writes the index it assigns to an append into it.
      const index = data.value.index === ARRAY_APPEND ? nextIndex : data.value.index;
      if (index >= ARRAY_APPEND) throw tooMany(kind, 'its array has no index left to append at');
      data.value.index = index;
      nextIndex = Math.max(nextIndex, index + 1);
    }
    const key = entryKey(data.value);
    const old = held(key);
    const current = isLive(old, ctx.nowMs) ? old : undefined;
    const refresh = current !== undefined && sameValue(current.data, data);
    if (current && !refresh && data.storageTimeMs <= current.data.storageTimeMs) {
      // A replica merges: a copy that is behind on one key still brings the keys this peer lacks
      // (refusing all of it lost a dictionary's other entries when responsibility moved).
      if (req.replicaNumber > 0) return;
      throw new ReloadError(
        ErrorCode.Data_Too_Old,
        `kind ${kind.name} values[${i}] has storage time ${data.storageTimeMs}, not newer than the held ${current.data.storageTimeMs}`,
      );
    }
    let expiresAtMs = ctx.nowMs + data.lifetimeSec * 1000;
    // A tombstone outlives what it deletes, so a late copy of the old value cannot resurrect it.
    if (!data.value.value.exists && current) expiresAtMs = Math.max(expiresAtMs, current.expiresAtMs);
    changes.set(key, { data, expiresAtMs, bytes: entryBytes(data), signer: signerOf[i]! });
    changed ||= !refresh;
  });
  const generation = slot?.generation ?? 0n;
  if (req.replicaNumber === 0 && kindData.generation !== 0n && kindData.generation !== generation) throw staleGenerations(req, ctx);
  const live = liveValueCount(slot, changes, ctx.nowMs);
  if (live > kind.maxCount) throw tooMany(kind, `the store would leave ${live} values, more than its max-count of ${kind.maxCount}`);
  return { kindId: kind.id, changes, generation: generationAfter(req.replicaNumber, kindData.generation, generation, changed) };
}

/** RFC 6940 §7.4.1: an original store that changes data bumps the counter; a replica adopts the primary's if higher. */
function generationAfter(replicaNumber: number, carried: bigint, held: bigint, changed: boolean): bigint {
  if (replicaNumber > 0) return carried > held ? carried : held;
  return changed ? held + 1n : held;
}

function tooMany(kind: Kind, why: string): ReloadError {
  return new ReloadError(ErrorCode.Data_Too_Large, `kind ${kind.name}: ${why}`, 'too_many_values');
}

/** ARRAY_APPEND stores at one past the highest index held (RFC 6940 §7.2.2). */
function nextArrayIndex(slot: KindSlot | undefined, nowMs: number): number {
  let next = 0;
  for (const e of slot?.entries.values() ?? []) {
    if (isLive(e, nowMs) && e.data.value.model === 'array') next = Math.max(next, e.data.value.index + 1);
  }
  return next;
}

/** Values (not tombstones) live after the changes: what max-count limits. */
function liveValueCount(slot: KindSlot | undefined, changes: Map<string, Entry>, nowMs: number): number {
  let n = 0;
  for (const e of changes.values()) if (e.data.value.value.exists) n++;
  for (const [key, e] of slot?.entries ?? []) if (!changes.has(key) && isLive(e, nowMs) && e.data.value.value.exists) n++;
  return n;
}

/**
 * The same signed value again (a refresh): equal storage time, value and signature. The two sit
 * under the same entry key, so model, index and key are equal already.
 */
function sameValue(a: StoredData, b: StoredData): boolean {
  const eq = (x: Uint8Array, y: Uint8Array) => Buffer.compare(x, y) === 0;
  return (
    a.storageTimeMs === b.storageTimeMs &&
    a.value.value.exists === b.value.value.exists &&
    eq(a.value.value.value, b.value.value.value) &&
    eq(a.signature.certHash, b.signature.certHash) &&
    eq(a.signature.value, b.signature.value)
  );
}

/** Every Kind of the request whose conditional generation does not match, with the held one. */
function staleGenerations(req: StoreRequest, ctx: PlanContext): GenerationError {
  return new GenerationError(
    req.kinds
      .map((k) => ({ kindId: k.kindId, expected: k.generation, generation: ctx.slotOf(k.kindId)?.generation ?? 0n }))
      .filter((k) => k.expected !== 0n && k.expected !== k.generation)
      .map(({ kindId, generation }) => ({ kindId, generation })),
  );
}
