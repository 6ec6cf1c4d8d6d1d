/**
 * CBOR bodies of Store, Fetch, Stat and Find (RFC 6940 §7.4), compact arrays in the RFC's field
 * order. Integers: Kind-ID u32, generation u64 (a bigint in memory), storage_time u64 (ms, held as
 * a number, so at most 2^53-1), lifetime u32 (s), replica_number u8; ids are 16-byte byte strings.
 *
 *   DataValue       = exists bool, value bstr                      (inlined below)
 *   StoredDataValue = [1, exists, value] | [2, index u32, exists, value] | [3, key bstr, exists, value]
 *                     (the leading data-model code: 1 single, 2 array, 3 dictionary)
 *   DataSignature   = [cert_hash bstr(32), signature bstr]        (RSA-SHA256 by the cert's key)
 *   StoredData      = [storage_time, lifetime, StoredDataValue, DataSignature]
 *   StoreReq        = [resource, replica_number, [[kind, generation, [StoredData*]]*], [certificate*]]
 *   StoreAns        = [[kind, generation, [replica Node-ID*]]*]
 *   Selector        = [1] | [2, [[first u32, last u32]*]] | [3, [key*]]   (empty list = all)
 *   FetchReq        = [resource, [[kind, generation, Selector]*]]  (StatReq is the same)
 *   FetchAns        = [[[kind, generation, [StoredData*]]*], [certificate*]]
 *   StatEntry       = [1, exists, length u32, sha256 bstr(32), storage_time, lifetime]
 *                   | [2, index, ...the same] | [3, key, ...the same]
 *   StatAns         = [[kind, generation, [StatEntry*]]*]
 *   FindReq         = [resource, [kind*]]
 *   FindAns         = [[kind, Resource-ID | null]*]
 *
 * Parsers check every field (type, range, length, list size, exact arity) and throw only
 * ReloadError(Invalid_Message) naming the field; encoders apply the same checks. Decoded ids are
 * copies; value bytes, keys, signatures and certificates are views into the input.
 */
import { decodeCbor, encodeCbor } from '../wire/cbor.js';
import { bool, bytes, fail, idField, list, MAX_U16, MAX_U32, tuple, u32, u64, u64Item, u64Number, u8 } from '../wire/fields.js';
import type {
  DataModel,
  DataSelector,
  DataSignature,
  FetchAnswer,
  FetchKindAnswer,
  FetchRequest,
  FindKindAnswer,
  FindRequest,
  StatEntry,
  StatKindAnswer,
  StatRequest,
  StoredData,
  StoredDataSpecifier,
  StoredDataValue,
  StoreKindAnswer,
  StoreKindData,
  StoreRequest,
} from './types.js';

/** Kinds in one request or answer at most. */
export const MAX_KINDS_PER_REQUEST = 64;
/** Values of one Kind in one body at most; KindRegistry refuses Kinds with a larger maxCount. */
export const MAX_VALUES_PER_KIND = 1024;
/** Array ranges or dictionary keys in one selector at most. */
export const MAX_SELECTOR_ENTRIES = 1024;
/**
 * Certificates in one body at most. One per distinct signer: a replicated dictionary (a swarm's
 * members) carries many, so this is far above the 16 of a message's security block.
 */
export const MAX_CERTIFICATES_PER_BODY = 1024;
/** Replica Node-IDs in one StoreAns entry at most. */
export const MAX_REPLICAS = 32;
/** SHA-256 digests: certificate hashes and Stat value hashes. */
export const SHA256_BYTES = 32;

const MODEL_CODES: Record<DataModel, number> = { single: 1, array: 2, dictionary: 3 };
const MODELS = new Map(Object.entries(MODEL_CODES).map(([model, code]) => [code, model as DataModel]));

/** Value bytes are bounded by the message they came in; encoders use the RFC's u32 bound. */
type ValueLimit = number;

// ---- values (RFC 6940 §7.2, §6.4.1) ------------------------------------------------------------

function modelCode(model: unknown, field: string): number {
  const code = MODEL_CODES[model as DataModel];
  if (code === undefined) fail(field, 'must be single, array or dictionary');
  return code;
}

/** The model named by the leading code of an item, and the item's length that model needs. */
function modelOf(value: unknown, field: string, arity: Record<DataModel, number>): { model: DataModel; items: unknown[] } {
  if (!Array.isArray(value) || value.length === 0) fail(field, 'must be an array starting with a data-model code');
  const model = MODELS.get(u8(value[0], `${field}.model`));
  if (!model) fail(`${field}.model`, `${String(value[0])} is not a data model (1 single, 2 array, 3 dictionary)`);
  return { model, items: tuple(value, field, arity[model]) };
}

function storedDataValueItem(v: StoredDataValue, field: string, max: ValueLimit): unknown[] {
  const code = modelCode(v.model, `${field}.model`);
  const tail = [bool(v.value.exists, `${field}.exists`), bytes(v.value.value, `${field}.value`, 0, max)];
  if (v.model === 'single') return [code, ...tail];
  if (v.model === 'array') return [code, u32(v.index, `${field}.index`), ...tail];
  return [code, bytes(v.key, `${field}.key`, 0, MAX_U16), ...tail];
}

function storedDataValueFrom(item: unknown, field: string, max: ValueLimit): StoredDataValue {
  const { model, items } = modelOf(item, field, { single: 3, array: 4, dictionary: 4 });
  const [exists, value] = items.slice(-2);
  const dataValue = { exists: bool(exists, `${field}.exists`), value: bytes(value, `${field}.value`, 0, max) };
  if (model === 'single') return { model, value: dataValue };
  if (model === 'array') return { model, index: u32(items[1], `${field}.index`), value: dataValue };
  return { model, key: bytes(items[1], `${field}.key`, 0, MAX_U16), value: dataValue };
}

/** The CBOR of one StoredDataValue: the form the data signature covers (RFC 6940 §7.1). */
export function encodeStoredDataValue(value: StoredDataValue): Uint8Array {
  return encodeCbor(storedDataValueItem(value, 'value', MAX_U32));
}

function signatureItem(s: DataSignature, field: string): unknown[] {
  return [bytes(s.certHash, `${field}.certHash`, SHA256_BYTES, SHA256_BYTES), bytes(s.value, `${field}.value`, 0, MAX_U16)];
}

function signatureFrom(item: unknown, field: string): DataSignature {
  const [certHash, value] = tuple(item, field, 2);
  return { certHash: bytes(certHash, `${field}.certHash`, SHA256_BYTES, SHA256_BYTES), value: bytes(value, `${field}.value`, 0, MAX_U16) };
}

function storedDataItem(d: StoredData, field: string, max: ValueLimit): unknown[] {
  return [
    u64Item(d.storageTimeMs, `${field}.storageTimeMs`),
    u32(d.lifetimeSec, `${field}.lifetimeSec`),
    storedDataValueItem(d.value, `${field}.value`, max),
    signatureItem(d.signature, `${field}.signature`),
  ];
}

function storedDataFrom(item: unknown, field: string, max: ValueLimit): StoredData {
  const [time, lifetime, value, signature] = tuple(item, field, 4);
  return {
    storageTimeMs: u64Number(time, `${field}.storageTimeMs`),
    lifetimeSec: u32(lifetime, `${field}.lifetimeSec`),
    value: storedDataValueFrom(value, `${field}.value`, max),
    signature: signatureFrom(signature, `${field}.signature`),
  };
}

/**
 * One StoredData on its own, for a node's database: the same checks as in a body, so a record read
 * back is held to what a peer's Store is held to. Values may be as long as a u32 allows.
 */
export function encodeStoredData(d: StoredData): Uint8Array {
  return encodeCbor(storedDataItem(d, 'storedData', MAX_U32));
}

/** Parses one StoredData; throws ReloadError(Invalid_Message) naming the bad field. */
export function decodeStoredData(bytes: Uint8Array): StoredData {
  return storedDataFrom(decodeCbor(bytes), 'storedData', MAX_U32);
}

function storedDataListItem(values: readonly StoredData[], field: string, max: ValueLimit): unknown[] {
  return list<StoredData>(values, field, MAX_VALUES_PER_KIND).map((d, i) => storedDataItem(d, `${field}[${i}]`, max));
}

function storedDataListFrom(item: unknown, field: string, max: ValueLimit): StoredData[] {
  return list(item, field, MAX_VALUES_PER_KIND).map((d, i) => storedDataFrom(d, `${field}[${i}]`, max));
}

/** Certificates (DER, 1..65535 bytes each), checked the same way going out and coming in. */
function certificateList(value: unknown, field: string): Uint8Array[] {
  return list(value, field, MAX_CERTIFICATES_PER_BODY).map((c, i) => bytes(c, `${field}[${i}]`, 1, MAX_U16));
}

/** The per-Kind list of a body: at most MAX_KINDS_PER_REQUEST entries. */
function kindList<T>(item: unknown, field: string, each: (entry: unknown, field: string) => T): T[] {
  return list(item, field, MAX_KINDS_PER_REQUEST).map((entry, i) => each(entry, `${field}[${i}]`));
}

// ---- Store (RFC 6940 §7.4.1) -------------------------------------------------------------------

/** Encodes a StoreReq body. Throws ReloadError(Invalid_Message) naming a field out of range. */
export function encodeStoreReq(req: StoreRequest): Uint8Array {
  return encodeCbor([
    idField(req.resource, 'store.resource'),
    u8(req.replicaNumber, 'store.replicaNumber'),
    list<StoreKindData>(req.kinds, 'store.kinds', MAX_KINDS_PER_REQUEST).map((k, i) => [
      u32(k.kindId, `store.kinds[${i}].kindId`),
      u64Item(k.generation, `store.kinds[${i}].generation`),
      storedDataListItem(k.values, `store.kinds[${i}].values`, MAX_U32),
    ]),
    certificateList(req.certificates, 'store.certificates'),
  ]);
}

/**
 * Parses a StoreReq body; throws ReloadError(Invalid_Message) naming the bad field.
 * @param maxMessageSize the overlay's max-message-size in bytes: no value may be longer
 */
export function decodeStoreReq(body: Uint8Array, maxMessageSize: number): StoreRequest {
  const [resource, replicaNumber, kinds, certificates] = tuple(decodeCbor(body), 'store', 4);
  return {
    resource: idField(resource, 'store.resource'),
    replicaNumber: u8(replicaNumber, 'store.replicaNumber'),
    kinds: kindList(kinds, 'store.kinds', (entry, field) => {
      const [kindId, generation, values] = tuple(entry, field, 3);
      return { kindId: u32(kindId, `${field}.kindId`), generation: u64(generation, `${field}.generation`), values: storedDataListFrom(values, `${field}.values`, maxMessageSize) };
    }),
    certificates: certificateList(certificates, 'store.certificates'),
  };
}

/** Encodes a StoreAns body (one entry per Kind stored). */
export function encodeStoreAns(kinds: readonly StoreKindAnswer[]): Uint8Array {
  return encodeCbor(
    list<StoreKindAnswer>(kinds, 'storeAns', MAX_KINDS_PER_REQUEST).map((k, i) => [
      u32(k.kindId, `storeAns[${i}].kindId`),
      u64Item(k.generation, `storeAns[${i}].generation`),
      list<Uint8Array>(k.replicas, `storeAns[${i}].replicas`, MAX_REPLICAS).map((r, j) => idField(r, `storeAns[${i}].replicas[${j}]`)),
    ]),
  );
}

/** Parses a StoreAns body; throws ReloadError(Invalid_Message) naming the bad field. */
export function decodeStoreAns(body: Uint8Array): StoreKindAnswer[] {
  return kindList(decodeCbor(body), 'storeAns', (entry, field) => {
    const [kindId, generation, replicas] = tuple(entry, field, 3);
    return {
      kindId: u32(kindId, `${field}.kindId`),
      generation: u64(generation, `${field}.generation`),
      replicas: list(replicas, `${field}.replicas`, MAX_REPLICAS).map((r, j) => idField(r, `${field}.replicas[${j}]`)),
    };
  });
}

// ---- Fetch and Stat requests (RFC 6940 §7.4.2.1, §7.4.3.1) --------------------------------------

/** An inclusive range of array indexes, as [first, last]. */
function rangeItem(value: unknown, field: string): { first: number; last: number } {
  const [f, l] = tuple(value, field, 2);
  const first = u32(f, `${field}.first`);
  const last = u32(l, `${field}.last`);
  if (first > last) fail(field, `must have first <= last, got ${first} > ${last}`);
  return { first, last };
}

/** Dictionary keys of a selector, the same check both ways. */
function keyList(value: unknown, field: string): Uint8Array[] {
  return list(value, field, MAX_SELECTOR_ENTRIES).map((k, i) => bytes(k, `${field}[${i}]`, 0, MAX_U16));
}

function selectorItem(s: DataSelector, field: string): unknown[] {
  const code = modelCode(s.model, `${field}.model`);
  if (s.model === 'single') return [code];
  if (s.model === 'array') {
    return [code, list<{ first: number; last: number }>(s.ranges, `${field}.ranges`, MAX_SELECTOR_ENTRIES).map((r, i) => {
      const { first, last } = rangeItem([r.first, r.last], `${field}.ranges[${i}]`);
      return [first, last];
    })];
  }
  return [code, keyList(s.keys, `${field}.keys`)];
}

function selectorFrom(item: unknown, field: string): DataSelector {
  const { model, items } = modelOf(item, field, { single: 1, array: 2, dictionary: 2 });
  if (model === 'single') return { model };
  if (model === 'array') {
    return { model, ranges: list(items[1], `${field}.ranges`, MAX_SELECTOR_ENTRIES).map((r, i) => rangeItem(r, `${field}.ranges[${i}]`)) };
  }
  return { model, keys: keyList(items[1], `${field}.keys`) };
}

function specifiersRequest(req: FetchRequest, name: string): Uint8Array {
  return encodeCbor([
    idField(req.resource, `${name}.resource`),
    list<StoredDataSpecifier>(req.specifiers, `${name}.specifiers`, MAX_KINDS_PER_REQUEST).map((s, i) => [
      u32(s.kindId, `${name}.specifiers[${i}].kindId`),
      u64Item(s.generation, `${name}.specifiers[${i}].generation`),
      selectorItem(s.selector, `${name}.specifiers[${i}].selector`),
    ]),
  ]);
}

function specifiersRequestFrom(body: Uint8Array, name: string): FetchRequest {
  const [resource, specifiers] = tuple(decodeCbor(body), name, 2);
  return {
    resource: idField(resource, `${name}.resource`),
    specifiers: kindList(specifiers, `${name}.specifiers`, (entry, field) => {
      const [kindId, generation, selector] = tuple(entry, field, 3);
      return { kindId: u32(kindId, `${field}.kindId`), generation: u64(generation, `${field}.generation`), selector: selectorFrom(selector, `${field}.selector`) };
    }),
  };
}

/** Encodes a FetchReq body. */
export const encodeFetchReq = (req: FetchRequest): Uint8Array => specifiersRequest(req, 'fetch');
/** Parses a FetchReq body; throws ReloadError(Invalid_Message) naming the bad field. */
export const decodeFetchReq = (body: Uint8Array): FetchRequest => specifiersRequestFrom(body, 'fetch');
/** Encodes a StatReq body (the FetchReq layout). */
export const encodeStatReq = (req: StatRequest): Uint8Array => specifiersRequest(req, 'stat');
/** Parses a StatReq body; throws ReloadError(Invalid_Message) naming the bad field. */
export const decodeStatReq = (body: Uint8Array): StatRequest => specifiersRequestFrom(body, 'stat');

// ---- Fetch answer (RFC 6940 §7.4.2.2) ----------------------------------------------------------

/** Encodes a FetchAns body. */
export function encodeFetchAns(ans: FetchAnswer): Uint8Array {
  return encodeCbor([
    list<FetchKindAnswer>(ans.kinds, 'fetchAns.kinds', MAX_KINDS_PER_REQUEST).map((k, i) => [
      u32(k.kindId, `fetchAns.kinds[${i}].kindId`),
      u64Item(k.generation, `fetchAns.kinds[${i}].generation`),
      storedDataListItem(k.values, `fetchAns.kinds[${i}].values`, MAX_U32),
    ]),
    certificateList(ans.certificates, 'fetchAns.certificates'),
  ]);
}

/**
 * Parses a FetchAns body; throws ReloadError(Invalid_Message) naming the bad field. Signatures are
 * not checked here: the fetcher verifies each value (verifyStoredData).
 * @param maxMessageSize the overlay's max-message-size in bytes: no value may be longer
 */
export function decodeFetchAns(body: Uint8Array, maxMessageSize: number): FetchAnswer {
  const [kinds, certificates] = tuple(decodeCbor(body), 'fetchAns', 2);
  return {
    kinds: kindList(kinds, 'fetchAns.kinds', (entry, field) => {
      const [kindId, generation, values] = tuple(entry, field, 3);
      return { kindId: u32(kindId, `${field}.kindId`), generation: u64(generation, `${field}.generation`), values: storedDataListFrom(values, `${field}.values`, maxMessageSize) };
    }),
    certificates: certificateList(certificates, 'fetchAns.certificates'),
  };
}

// ---- Stat answer (RFC 6940 §7.4.3.2) -----------------------------------------------------------

function statEntryItem(e: StatEntry, field: string): unknown[] {
  if (e.index !== undefined && e.key !== undefined) fail(field, 'has both an index and a key');
  const tail = [
    bool(e.exists, `${field}.exists`),
    u32(e.length, `${field}.length`),
    bytes(e.hash, `${field}.hash`, SHA256_BYTES, SHA256_BYTES),
    u64Item(e.storageTimeMs, `${field}.storageTimeMs`),
    u32(e.lifetimeSec, `${field}.lifetimeSec`),
  ];
  if (e.index !== undefined) return [MODEL_CODES.array, u32(e.index, `${field}.index`), ...tail];
  if (e.key !== undefined) return [MODEL_CODES.dictionary, bytes(e.key, `${field}.key`, 0, MAX_U16), ...tail];
  return [MODEL_CODES.single, ...tail];
}

function statEntryFrom(item: unknown, field: string): StatEntry {
  const { model, items } = modelOf(item, field, { single: 6, array: 7, dictionary: 7 });
  const [exists, length, hash, time, lifetime] = items.slice(-5);
  const entry: StatEntry = {
    exists: bool(exists, `${field}.exists`),
    length: u32(length, `${field}.length`),
    hash: bytes(hash, `${field}.hash`, SHA256_BYTES, SHA256_BYTES),
    storageTimeMs: u64Number(time, `${field}.storageTimeMs`),
    lifetimeSec: u32(lifetime, `${field}.lifetimeSec`),
  };
  if (model === 'array') entry.index = u32(items[1], `${field}.index`);
  if (model === 'dictionary') entry.key = bytes(items[1], `${field}.key`, 0, MAX_U16);
  return entry;
}

/** Encodes a StatAns body. */
export function encodeStatAns(kinds: readonly StatKindAnswer[]): Uint8Array {
  return encodeCbor(
    list<StatKindAnswer>(kinds, 'statAns', MAX_KINDS_PER_REQUEST).map((k, i) => [
      u32(k.kindId, `statAns[${i}].kindId`),
      u64Item(k.generation, `statAns[${i}].generation`),
      list<StatEntry>(k.values, `statAns[${i}].values`, MAX_VALUES_PER_KIND).map((e, j) => statEntryItem(e, `statAns[${i}].values[${j}]`)),
    ]),
  );
}

/** Parses a StatAns body; throws ReloadError(Invalid_Message) naming the bad field. */
export function decodeStatAns(body: Uint8Array): StatKindAnswer[] {
  return kindList(decodeCbor(body), 'statAns', (entry, field) => {
    const [kindId, generation, values] = tuple(entry, field, 3);
    return {
      kindId: u32(kindId, `${field}.kindId`),
      generation: u64(generation, `${field}.generation`),
      values: list(values, `${field}.values`, MAX_VALUES_PER_KIND).map((e, j) => statEntryFrom(e, `${field}.values[${j}]`)),
    };
  });
}

// ---- Find (RFC 6940 §7.4.4) --------------------------------------------------------------------

/** Encodes a FindReq body. */
export function encodeFindReq(req: FindRequest): Uint8Array {
  return encodeCbor([
    idField(req.target, 'find.target'),
    list<number>(req.kindIds, 'find.kindIds', MAX_KINDS_PER_REQUEST).map((k, i) => u32(k, `find.kindIds[${i}]`)),
  ]);
}

/** Parses a FindReq body; throws ReloadError(Invalid_Message) naming the bad field. */
export function decodeFindReq(body: Uint8Array): FindRequest {
  const [target, kindIds] = tuple(decodeCbor(body), 'find', 2);
  return { target: idField(target, 'find.target'), kindIds: kindList(kindIds, 'find.kindIds', u32) };
}

/** Encodes a FindAns body; a Kind with no Resource-ID held goes out as null. */
export function encodeFindAns(kinds: readonly FindKindAnswer[]): Uint8Array {
  return encodeCbor(
    list<FindKindAnswer>(kinds, 'findAns', MAX_KINDS_PER_REQUEST).map((k, i) => [
      u32(k.kindId, `findAns[${i}].kindId`),
      k.closest === undefined ? null : idField(k.closest, `findAns[${i}].closest`),
    ]),
  );
}

/** Parses a FindAns body; throws ReloadError(Invalid_Message) naming the bad field. */
export function decodeFindAns(body: Uint8Array): FindKindAnswer[] {
  return kindList(decodeCbor(body), 'findAns', (entry, field) => {
    const [kindId, closest] = tuple(entry, field, 2);
    return { kindId: u32(kindId, `${field}.kindId`), closest: closest === null ? undefined : idField(closest, `${field}.closest`) };
  });
}
