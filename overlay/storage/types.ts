/**
 * The storage data model (RFC 6940 §5.1, §7): what a Kind is, what a stored value looks like, and
 * the request/answer shapes of Store, Fetch, Stat and Find. Pure types; the codec lives in
 * `codec.ts`, the checks in `access-control.ts` and `data-signature.ts`, the state in
 * `storage-engine.ts`.
 */
import type { Id } from '../id.js';

export type DataModel = 'single' | 'array' | 'dictionary';
export type AccessPolicy = 'USER-MATCH' | 'NODE-MATCH' | 'USER-NODE-MATCH' | 'NODE-MULTIPLE' | 'NODE-ID-MATCH';

/** A Kind (RFC 6940 §7.4.1), from the overlay configuration or registered by a usage. */
export interface Kind {
  /** u32 Kind-ID; 0xF0000001-0xFFFFFFFE is the private range configurations use. */
  id: number;
  name: string;
  dataModel: DataModel;
  accessControl: AccessPolicy;
  /** Values per (resource, kind) at most: 1 for single, entries for array/dictionary. */
  maxCount: number;
  /** Bytes of one value at most. */
  maxSize: number;
  /** NODE-MULTIPLE: the largest i in H(Node-ID ‖ i). */
  maxNodeMultiple?: number;
}

/** RFC 6940 §7.2: a value, or a tombstone (`exists` false) that deletes what it replaces. */
export interface DataValue {
  exists: boolean;
  value: Uint8Array;
}

/** The value in its data model. Array index 0xFFFFFFFF appends (§7.2.2). */
export type StoredDataValue =
  | { model: 'single'; value: DataValue }
  | { model: 'array'; index: number; value: DataValue }
  | { model: 'dictionary'; key: Uint8Array; value: DataValue };

/** Array index meaning "append after the last entry". */
export const ARRAY_APPEND = 0xffffffff;

/**
 * Seconds a stored value may live (RFC 6940 §7.1: lifetime is a u32). 0 is refused everywhere (CLI,
 * API, StorageService.store and the storing peer): such a value would be gone on arrival, and the
 * storer's refresh would re-send it forever. A value is removed with a tombstone (exists=false).
 */
export const MIN_LIFETIME_SEC = 1;
export const MAX_LIFETIME_SEC = 0xffffffff;

/**
 * A value's signature (RFC 6940 §7.1) by the identity that stored it, over
 * resource ‖ kind ‖ storage_time ‖ StoredDataValue ‖ signer identity. The signer is named by the
 * SHA-256 hash of its certificate (cert_hash); certificates travel beside the values.
 */
export interface DataSignature {
  certHash: Uint8Array;
  value: Uint8Array;
}

/** RFC 6940 §6.4.1: one stored value with its metadata. */
export interface StoredData {
  /** Milliseconds since the epoch, chosen by the storer; newer replaces older (anti-rollback). */
  storageTimeMs: number;
  /** Seconds the value lives after it is received. */
  lifetimeSec: number;
  value: StoredDataValue;
  signature: DataSignature;
}

/** Store of one Kind (RFC 6940 §7.4.1.1). Generation 0 = "whatever is stored" (no check). */
export interface StoreKindData {
  kindId: number;
  generation: bigint;
  values: StoredData[];
}

export interface StoreRequest {
  resource: Id;
  /** 0 = the original store at the responsible peer; 1, 2.. = replicas. */
  replicaNumber: number;
  kinds: StoreKindData[];
  /** DER certificates of every value signer not already known to the receiver. */
  certificates: Uint8Array[];
}

export interface StoreKindAnswer {
  kindId: number;
  /** The generation after the store. */
  generation: bigint;
  /** The replicas the responsible peer stored to. */
  replicas: Id[];
}

/** Which values of a Kind to fetch (RFC 6940 §7.4.2.1). An empty selector means all. */
export type DataSelector =
  | { model: 'single' }
  | { model: 'array'; ranges: { first: number; last: number }[] }
  | { model: 'dictionary'; keys: Uint8Array[] };

export interface StoredDataSpecifier {
  kindId: number;
  /** 0 = fetch; else only if the stored generation differs (RFC 6940 §7.4.2.1). */
  generation: bigint;
  selector: DataSelector;
}

/** Fetch request (RFC 6940 §7.4.2.1): which values of which Kinds at one resource. */
export interface FetchRequest {
  resource: Id;
  specifiers: StoredDataSpecifier[];
}

/** Stat request (RFC 6940 §7.4.3.1): the same shape as Fetch; metadata comes back instead of values. */
export type StatRequest = FetchRequest;

export interface FetchKindAnswer {
  kindId: number;
  generation: bigint;
  values: StoredData[];
}

export interface FetchAnswer {
  kinds: FetchKindAnswer[];
  /** DER certificates of the values' signers, so the fetcher can verify each signature. */
  certificates: Uint8Array[];
}

/** Stat: metadata only (RFC 6940 §7.4.3). */
export interface StatEntry {
  /** Array index or dictionary key; absent for single values. */
  index?: number;
  key?: Uint8Array;
  exists: boolean;
  length: number;
  /** SHA-256 of the value bytes. */
  hash: Uint8Array;
  storageTimeMs: number;
  lifetimeSec: number;
}

export interface StatKindAnswer {
  kindId: number;
  generation: bigint;
  values: StatEntry[];
}

/** Find request (RFC 6940 §7.4.4.1): the Kinds to look for, near `target`. */
export interface FindRequest {
  target: Id;
  kindIds: number[];
}

/** Find (RFC 6940 §7.4.4): per Kind, the closest Resource-ID at or after the target this peer holds. */
export interface FindKindAnswer {
  kindId: number;
  closest: Id | undefined;
}
