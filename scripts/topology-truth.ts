/**
 * Ground truth for either topology, from the Node-IDs alone: who owns a key, which nodes hold its
 * replicas, and what each node's neighbourhood should be. Multi-node tests, benches and the
 * simulator check the nodes' answers against it, never against what the nodes say of each other.
 * CHORD-RELOAD's is the ring (RingTruth); Kademlia's is the XOR metric (XorTruth).
 */
import type { OverlayConfig } from '../overlay/config.js';
import { idFromHex, idToHex, type Id } from '../overlay/id.js';
import { commonPrefixBits, compareXorDistance } from '../overlay/topology/kademlia/kademlia-table.js';

/** What a node says of its neighbourhood (the topology fields of GET /status, and its state). */
export interface NeighbourView {
  nodeId: string;
  state?: string;
  successors?: string[];
  predecessors?: string[];
  siblings?: string[];
  /** Kademlia: the contacts of each k-bucket (GET /status). */
  buckets?: { contacts: string[] }[];
}

export interface TopologyTruth {
  readonly size: number;
  /** The Node-IDs (hex), sorted. */
  ids(): string[];
  add(id: Id): void;
  remove(id: Id): void;
  /** The node that owns `key` (hex). */
  responsible(key: Id): string;
  /** The nodes that should hold `key`: the owner first, `count` in all (hex). */
  replicaSet(key: Id, count: number): string[];
  /** What `view` gets wrong about its `count` nearest neighbours each way, one line, or undefined. */
  neighbourhoodError(view: NeighbourView, count: number): string | undefined;
}

const short = (ids: readonly string[] | undefined) => (ids ?? []).map((x) => x.slice(0, 8)).join(',');

/**
 * The ring as ground truth: who follows whom, who owns what, from the Node-IDs alone. Members can
 * be added and removed as a simulated overlay churns; every query is a binary search.
 */
export class RingTruth implements TopologyTruth {
  /** Node-IDs as hex, sorted: fixed-length lowercase hex sorts as the numbers do. */
  private readonly sorted: string[];

  constructor(ids: Id[]) {
    this.sorted = ids.map(idToHex).sort();
  }

  /** The Node-IDs in ring order, from the smallest. */
  ids(): string[] {
    return [...this.sorted];
  }

  get size(): number {
    return this.sorted.length;
  }

  add(id: Id): void {
    const hex = idToHex(id);
    const at = this.lowerBound(hex);
    if (this.sorted[at] !== hex) this.sorted.splice(at, 0, hex);
  }

  remove(id: Id): void {
    const hex = idToHex(id);
    const at = this.lowerBound(hex);
    if (this.sorted[at] === hex) this.sorted.splice(at, 1);
  }

  /** The first position whose id is at or after `hex`. */
  private lowerBound(hex: string): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sorted[mid]! < hex) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private indexOf(id: Id): number {
    const hex = idToHex(id);
    const i = this.lowerBound(hex);
    if (this.sorted[i] !== hex) throw new RangeError(`${hex} is not in this ring`);
    return i;
  }

  /** The k nodes after `id` clockwise (hex), not counting itself. */
  successors(id: Id, k: number): string[] {
    const i = this.indexOf(id);
    const n = this.sorted.length;
    return Array.from({ length: Math.min(k, n - 1) }, (_, j) => this.sorted[(i + 1 + j) % n]!);
  }

  /** The k nodes before `id` counter-clockwise (hex), not counting itself. */
  predecessors(id: Id, k: number): string[] {
    const i = this.indexOf(id);
    const n = this.sorted.length;
    return Array.from({ length: Math.min(k, n - 1) }, (_, j) => this.sorted[(i - 1 - j + n * 2) % n]!);
  }

  /** The node responsible for a key: the first at or after it, round the ring (RFC 6940 §10.1). */
  responsible(key: Id): string {
    if (this.sorted.length === 0) throw new RangeError('an empty ring has no responsible node');
    return this.sorted[this.lowerBound(idToHex(key)) % this.sorted.length]!;
  }

  /** The replica set of a key (RFC 6940 §10.4): its responsible node and the next `count - 1` (hex). */
  replicaSet(key: Id, count: number): string[] {
    const owner = this.responsible(key);
    return [owner, ...this.successors(idFromHex(owner), count - 1)];
  }

  neighbourhoodError(view: NeighbourView, count: number): string | undefined {
    const id = idFromHex(view.nodeId);
    const succ = this.successors(id, count);
    const pred = this.predecessors(id, count);
    const ok = (view.state ?? 'joined') === 'joined' && (view.successors ?? []).join() === succ.join() && (view.predecessors ?? []).join() === pred.join();
    if (ok) return undefined;
    return `${view.nodeId.slice(0, 8)} ${view.state ?? ''}: successors ${short(view.successors)} (want ${short(succ)}), predecessors ${short(view.predecessors)} (want ${short(pred)})`;
  }
}

/**
 * Kademlia's ground truth: the owner of a key is the XOR-closest node, its replicas the next
 * closest, a node's siblings the `count` nodes XOR-closest to it. The owner is found by walking the
 * sorted ids bit by bit (the ids sharing a prefix are one run of the sorted list), so a lookup at
 * 10,000 nodes costs a few hundred comparisons, not a scan.
 */
export class XorTruth implements TopologyTruth {
  private readonly sorted: string[];

  constructor(ids: Id[]) {
    this.sorted = ids.map(idToHex).sort();
  }

  get size(): number {
    return this.sorted.length;
  }

  ids(): string[] {
    return [...this.sorted];
  }

  add(id: Id): void {
    const hex = idToHex(id);
    const at = this.lowerBound(hex, 0, this.sorted.length);
    if (this.sorted[at] !== hex) this.sorted.splice(at, 0, hex);
  }

  remove(id: Id): void {
    const hex = idToHex(id);
    const at = this.lowerBound(hex, 0, this.sorted.length);
    if (this.sorted[at] === hex) this.sorted.splice(at, 1);
  }

  responsible(key: Id): string {
    if (this.sorted.length === 0) throw new RangeError('an empty overlay has no responsible node');
    let lo = 0;
    let hi = this.sorted.length;
    // Within [lo, hi) every id shares the key's first `bit` bits where it could; at each bit take
    // the half that matches the key when there is one.
    for (let bit = 0; bit < 128 && hi - lo > 1; bit++) {
      const split = this.firstWithBit(lo, hi, bit);
      const keyHasBit = (key[bit >> 3]! & (0x80 >> (bit & 7))) !== 0;
      if (keyHasBit ? split < hi : split === lo) lo = split;
      else hi = split;
    }
    return this.sorted[lo]!;
  }

  replicaSet(key: Id, count: number): string[] {
    return this.closest(key, count, undefined);
  }

  /** The `count` nodes XOR-closest to `id`, `id` itself left out when given as `except`. */
  closest(id: Id, count: number, except: string | undefined): string[] {
    return this.sorted
      .filter((h) => h !== except)
      .map(idFromHex)
      .sort((a, b) => compareXorDistance(a, b, id))
      .slice(0, count)
      .map(idToHex);
  }

  neighbourhoodError(view: NeighbourView, count: number): string | undefined {
    const want = this.closest(idFromHex(view.nodeId), count, view.nodeId);
    const ok = (view.state ?? 'joined') === 'joined' && (view.siblings ?? []).join() === want.join();
    if (!ok) return `${view.nodeId.slice(0, 8)} ${view.state ?? ''}: siblings ${short(view.siblings)} (want ${short(want)})`;
    const empty = view.buckets ? this.rangesUnknown(view.nodeId, [...(view.siblings ?? []), ...view.buckets.flatMap((b) => b.contacts)]) : [];
    return empty.length === 0 ? undefined : `${view.nodeId.slice(0, 8)}: knows nobody in the range(s) at prefix length ${empty.join(', ')}, where nodes are`;
  }

  /**
   * The ranges of the id space (the nodes sharing exactly d bits of prefix with `self`) that hold
   * nodes while `contacts` names none of them. Greedy XOR routing reaches every node only when
   * there are none: a node that knows nobody in a key's range takes itself for the closest.
   */
  private rangesUnknown(self: string, contacts: string[]): number[] {
    const shared = (other: string) => commonPrefixBits(idFromHex(self), idFromHex(other));
    const known = new Set(contacts.map(shared));
    const held = new Set(this.sorted.filter((h) => h !== self).map(shared));
    return [...held].filter((d) => !known.has(d)).sort((a, b) => a - b);
  }

  /** The first index in [lo, hi) whose id has `bit` set (ids there share every earlier bit). */
  private firstWithBit(lo: number, hi: number, bit: number): number {
    const hexDigit = bit >> 2;
    const mask = 8 >> (bit & 3);
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((parseInt(this.sorted[mid]![hexDigit]!, 16) & mask) === 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private lowerBound(hex: string, lo: number, hi: number): number {
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sorted[mid]! < hex) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** The ground truth of the topology `config` names, over `ids`. */
export function topologyTruth(config: Pick<OverlayConfig, 'topology'>, ids: Id[]): TopologyTruth {
  return config.topology === 'KADEMLIA' ? new XorTruth(ids) : new RingTruth(ids);
}

/** How many neighbours each way a node keeps exactly: Chord's successors, Kademlia's siblings. */
export function neighbourCount(config: Pick<OverlayConfig, 'topology' | 'chord' | 'kademlia'>): number {
  return config.topology === 'KADEMLIA' ? config.kademlia.siblingCount : config.chord.neighbourCount;
}
