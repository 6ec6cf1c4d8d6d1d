/**
 * The storage endpoints of the node API: POST /store, /fetch, /stat, /find with JSON bodies.
 * Resources are names (hashed with the overlay's hash) or 32 hex digits; kinds are names or ids;
 * values are UTF-8 text or {"base64": ...}. Fetched values come back verified, with their signer.
 */
import { ErrorCode, ReloadError } from '../errors.js';
import { idFromHex, idToHex, isHexId, resourceIdOf, type Id, type IdHash } from '../id.js';
import type { Node } from '../node.js';
import type { VerifiedValue } from '../storage/storage-service.js';
import { ARRAY_APPEND, MAX_LIFETIME_SEC, MIN_LIFETIME_SEC, type DataSelector, type Kind, type StoredDataValue } from '../storage/types.js';

type Json = Record<string, unknown>;

function bad(message: string): ReloadError {
  return new ReloadError(ErrorCode.Invalid_Message, message, 'bad_request');
}

/** A Resource-ID given as 32 hex digits, or a name hashed with the overlay's hash. */
export function resourceIdFromText(text: unknown, hash: IdHash): Id {
  if (typeof text !== 'string' || text === '') throw bad('"resource" must be a name or a Resource-ID (32 hex digits)');
  return isHexId(text) ? idFromHex(text) : resourceIdOf(text, hash);
}

/** UTF-8 text, or {"base64": "..."} for bytes. */
function bytesFrom(value: unknown, field: string): Uint8Array {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (value && typeof value === 'object' && typeof (value as Json).base64 === 'string') {
    const text = (value as Json).base64 as string;
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw bad(`"${field}.base64" is not base64`);
    return Buffer.from(text, 'base64');
  }
  throw bad(`"${field}" must be text or {"base64": "..."}`);
}

/** Text when the bytes are valid UTF-8 without control characters, else {"base64"}. */
function bytesTo(bytes: Uint8Array): string | { base64: string } {
  const text = Buffer.from(bytes).toString('utf8');
  return Buffer.from(text, 'utf8').equals(Buffer.from(bytes)) && !/[\u0000-\u0008\u000e-\u001f]/.test(text) ? text : { base64: Buffer.from(bytes).toString('base64') };
}

function indexFrom(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= ARRAY_APPEND) throw bad(`"${field}" must be an integer from 0 to ${ARRAY_APPEND - 1}`);
  return value;
}

function lifetimeFrom(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < MIN_LIFETIME_SEC || value > MAX_LIFETIME_SEC) throw bad(`"lifetime" must be a number of seconds from ${MIN_LIFETIME_SEC} to ${MAX_LIFETIME_SEC}`);
  return value;
}

/** The value a /store body describes, in the kind's data model. */
function storedValue(kind: Readonly<Kind>, body: Json): StoredDataValue {
  if (body.delete !== undefined && typeof body.delete !== 'boolean') throw bad('"delete" must be true or false');
  const exists = body.delete !== true;
  const value = { exists, value: exists ? bytesFrom(body.value, 'value') : new Uint8Array(0) };
  switch (kind.dataModel) {
    case 'single':
      if (body.index !== undefined || body.key !== undefined) throw bad(`kind ${kind.name} holds a single value: no "index" or "key"`);
      return { model: 'single', value };
    case 'array':
      if (body.key !== undefined) throw bad(`kind ${kind.name} is an array: use "index", not "key"`);
      return { model: 'array', index: body.index === undefined ? ARRAY_APPEND : indexFrom(body.index, 'index'), value };
    case 'dictionary':
      if (body.key === undefined) throw bad(`kind ${kind.name} is a dictionary: "key" is required`);
      return { model: 'dictionary', key: bytesFrom(body.key, 'key'), value };
  }
}

function selectorFrom(kind: Readonly<Kind>, body: Json): DataSelector {
  switch (kind.dataModel) {
    case 'single':
      if (body.index !== undefined || body.key !== undefined || body.range !== undefined) throw bad(`kind ${kind.name} holds a single value: no "index", "range" or "key"`);
      return { model: 'single' };
    case 'array': {
      if (body.key !== undefined) throw bad(`kind ${kind.name} is an array: use "index" or "range", not "key"`);
      if (body.index !== undefined) {
        const i = indexFrom(body.index, 'index');
        return { model: 'array', ranges: [{ first: i, last: i }] };
      }
      if (body.range === undefined) return { model: 'array', ranges: [] };
      if (!Array.isArray(body.range) || body.range.length !== 2) throw bad('"range" must be [first, last]');
      const [first, last] = [indexFrom(body.range[0], 'range[0]'), indexFrom(body.range[1], 'range[1]')];
      if (first > last) throw bad('"range" must have first <= last');
      return { model: 'array', ranges: [{ first, last }] };
    }
    case 'dictionary':
      if (body.index !== undefined || body.range !== undefined) throw bad(`kind ${kind.name} is a dictionary: use "key"`);
      return { model: 'dictionary', keys: body.key === undefined ? [] : [bytesFrom(body.key, 'key')] };
  }
}

function valueJson({ data, signer }: VerifiedValue) {
  const v = data.value;
  return {
    ...(v.model === 'array' ? { index: v.index } : v.model === 'dictionary' ? { key: bytesTo(v.key) } : {}),
    exists: v.value.exists,
    value: bytesTo(v.value.value),
    signer: { nodeId: signer.identity.nodeIdHex, user: signer.identity.user },
    storageTime: new Date(data.storageTimeMs).toISOString(),
    storageTimeMs: data.storageTimeMs,
    lifetimeSec: data.lifetimeSec,
  };
}

export const STORAGE_ROUTES: Record<string, (node: Node, body: Json) => Promise<unknown>> = {
  '/store': async (node, body) => {
    const kind = node.kinds.resolve(kindRef(body));
    const resource = resourceIdFromText(body.resource, node.config.hash);
    const generation = body.generation === undefined ? undefined : generationFrom(body.generation);
    const r = await node.storage.store(kind.id, resource, storedValue(kind, body), { lifetimeSec: lifetimeFrom(body.lifetime), generation });
    // What the acknowledgement promises: the responsible peer holds the value (on disk), and
    // `replicas` are the peers that accepted a copy before it answered. A member of the replica
    // set that has none yet gets one from the responsible peer's next sync (`syncIntervalMs`).
    return {
      resource: idToHex(resource),
      kind: kind.name,
      generation: Number(r.generation),
      responsible: r.responsible,
      replicas: r.replicas.map(idToHex),
      replicasConfigured: node.config.storage.replicas - 1,
      syncIntervalMs: node.config.storage.syncIntervalMs,
    };
  },
  '/fetch': async (node, body) => {
    const kind = node.kinds.resolve(kindRef(body));
    const resource = resourceIdFromText(body.resource, node.config.hash);
    const r = await node.storage.fetch(kind.id, resource, selectorFrom(kind, body));
    const values = r.values.filter((v) => v.data.value.value.exists);
    if (values.length === 0) throw new ReloadError(ErrorCode.Not_Found, `no ${kind.name} value at ${idToHex(resource)}`);
    return { resource: idToHex(resource), kind: kind.name, generation: Number(r.generation), from: r.from, rejected: r.rejected, values: values.map(valueJson) };
  },
  '/stat': async (node, body) => {
    const kind = node.kinds.resolve(kindRef(body));
    const resource = resourceIdFromText(body.resource, node.config.hash);
    const r = await node.storage.stat(kind.id, resource, selectorFrom(kind, body));
    if (r.values.length === 0) throw new ReloadError(ErrorCode.Not_Found, `no ${kind.name} value at ${idToHex(resource)}`);
    return {
      resource: idToHex(resource),
      kind: kind.name,
      generation: Number(r.generation),
      from: r.from,
      values: r.values.map((v) => ({
        ...(v.index !== undefined ? { index: v.index } : {}),
        ...(v.key !== undefined ? { key: bytesTo(v.key) } : {}),
        exists: v.exists,
        length: v.length,
        sha256: Buffer.from(v.hash).toString('hex'),
        storageTime: new Date(v.storageTimeMs).toISOString(),
        lifetimeSec: v.lifetimeSec,
      })),
    };
  },
  '/find': async (node, body) => {
    const kinds = body.kinds ?? (body.kind === undefined ? undefined : [body.kind]);
    if (!Array.isArray(kinds) || kinds.length === 0) throw bad('"kinds" must list kind names or ids');
    const resource = resourceIdFromText(body.resource, node.config.hash);
    const found = await node.storage.find(kinds.map((k, i) => kindRefOf(k, `kinds[${i}]`)), resource);
    return { resource: idToHex(resource), results: found.map((f) => ({ kind: node.kinds.byId(f.kindId)?.name ?? f.kindId, closest: f.closest ? idToHex(f.closest) : null })) };
  },
};

function kindRefOf(k: unknown, field = 'kind'): string | number {
  if (typeof k === 'string' || (typeof k === 'number' && Number.isInteger(k))) return k;
  throw bad(`"${field}" must be a kind name or an integer id`);
}

/** A u64 generation counter, as a JSON number or a decimal string (beyond 2^53). */
function generationFrom(value: unknown): bigint {
  const text = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
  if (typeof text !== 'string' || !/^\d{1,20}$/.test(text) || BigInt(text) >= 1n << 64n) throw bad('"generation" must be an integer from 0 to 2^64-1 (a decimal string above 2^53)');
  return BigInt(text);
}

function kindRef(body: Json): string | number {
  if (body.kind === undefined) throw bad('"kind" is required (a kind name such as "user-value", or its id)');
  return kindRefOf(body.kind);
}
