/**
 * What a peer holds of one Kind at one resource: its generation counter and its entries (values
 * and tombstones), each with the time it expires. Helpers to address, select and copy entries out
 * with their remaining lifetime. Internal to the storage engine.
 */
import type { DataSelector, StatEntry, StoredData, StoredDataValue } from './types.js';

/** A held value or tombstone (exists = false). */
export interface Entry {
  /** A private copy, with the array index the responsible peer assigned. */
  data: StoredData;
  /** Clock time from which the entry is gone, ms. */
  expiresAtMs: number;
  /** Bytes counted against the engine's maxBytes (entryBytes). */
  bytes: number;
  /** SHA-256 fingerprint (hex) of the signer's certificate, kept while the entry is held. */
  signer: string;
}

/** One Kind at one resource. */
export interface KindSlot {
  /** RFC 6940 §7.4.1: 0 until the first store, then bumped by each original store that changes data. */
  generation: bigint;
  /** By entryKey. */
  entries: Map<string, Entry>;
}

/** Where a value goes in its Kind: the single slot, an array index or a dictionary key. */
export function entryKey(value: StoredDataValue): string {
  if (value.model === 'single') return 's';
  if (value.model === 'array') return `a${value.index}`;
  return dictionaryEntryKey(value.key);
}

/** entryKey of the value a Stat answer describes. */
function statEntryKey(entry: StatEntry): string {
  if (entry.key) return dictionaryEntryKey(entry.key);
  return entry.index === undefined ? 's' : `a${entry.index}`;
}

/**
 * Does a peer whose Stat answer is `stat` hold each of `values`, or something newer in its place?
 * Entry by entry: generation counters are each peer's own, so a higher one says nothing about them.
 */
export function statCovers(stat: StatEntry[], values: StoredData[]): boolean {
  const held = new Map(stat.map((e) => [statEntryKey(e), e.storageTimeMs]));
  return values.every((v) => (held.get(entryKey(v.value)) ?? -Infinity) >= v.storageTimeMs);
}

function dictionaryEntryKey(key: Uint8Array): string {
  return `d${Buffer.from(key).toString('hex')}`;
}

/** What an entry costs: value, dictionary key and signature bytes. */
export function entryBytes(data: StoredData): number {
  const key = data.value.model === 'dictionary' ? data.value.key.length : 0;
  return data.value.value.value.length + key + data.signature.value.length + data.signature.certHash.length;
}

/** Expired entries are invisible at once, though they stay in memory until the next sweep. */
export function isLive(entry: Entry | undefined, nowMs: number): entry is Entry {
  return entry !== undefined && nowMs < entry.expiresAtMs;
}

/** Whole seconds left, rounded down so a copy never outlives the original. */
export function remainingSec(entry: Entry, nowMs: number): number {
  return Math.max(0, Math.floor((entry.expiresAtMs - nowMs) / 1000));
}

const copy = (b: Uint8Array) => Uint8Array.from(b);

function copyValue(v: StoredDataValue): StoredDataValue {
  const value = { exists: v.value.exists, value: copy(v.value.value) };
  if (v.model === 'single') return { model: v.model, value };
  if (v.model === 'array') return { model: v.model, index: v.index, value };
  return { model: v.model, key: copy(v.key), value };
}

/** A deep copy: what goes in is not shared with the caller's (or the frame's) buffers, nor what goes out. */
export function copyStoredData(d: StoredData, lifetimeSec = d.lifetimeSec): StoredData {
  return {
    storageTimeMs: d.storageTimeMs,
    lifetimeSec,
    value: copyValue(d.value),
    signature: { certHash: copy(d.signature.certHash), value: copy(d.signature.value) },
  };
}

/** Entries in a stable order: array by index, dictionary by key bytes. */
function ordered(entries: Entry[]): Entry[] {
  const index = (e: Entry) => (e.data.value.model === 'array' ? e.data.value.index : 0);
  const key = (e: Entry) => (e.data.value.model === 'dictionary' ? Buffer.from(e.data.value.key) : Buffer.alloc(0));
  return entries.sort((a, b) => index(a) - index(b) || Buffer.compare(key(a), key(b)));
}

/** Every live entry (values and tombstones), in stable order. */
export function liveEntries(slot: KindSlot, nowMs: number): Entry[] {
  return ordered([...slot.entries.values()].filter((e) => isLive(e, nowMs)));
}

/** True when the slot holds a live value, not only tombstones. */
export function hasLiveValue(slot: KindSlot, nowMs: number): boolean {
  for (const e of slot.entries.values()) if (isLive(e, nowMs) && e.data.value.value.exists) return true;
  return false;
}

/**
 * The live entries a selector picks (RFC 6940 §7.4.2.1), in stable order: array ranges are
 * inclusive, an empty range or key list means every entry. The selector's model is the Kind's.
 */
export function selectEntries(slot: KindSlot | undefined, selector: DataSelector, nowMs: number): Entry[] {
  if (!slot) return [];
  const live = (e: Entry | undefined): e is Entry => isLive(e, nowMs);
  if (selector.model === 'dictionary' && selector.keys.length > 0) {
    const keys = new Set(selector.keys.map(dictionaryEntryKey));
    return ordered([...keys].map((k) => slot.entries.get(k)).filter(live));
  }
  const all = liveEntries(slot, nowMs);
  if (selector.model === 'array' && selector.ranges.length > 0) {
    return all.filter((e) => e.data.value.model === 'array' && inRanges(e.data.value.index, selector.ranges));
  }
  return all;
}

function inRanges(index: number, ranges: readonly { first: number; last: number }[]): boolean {
  return ranges.some((r) => r.first <= index && index <= r.last);
}
