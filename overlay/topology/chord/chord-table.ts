/**
 * The CHORD-RELOAD routing table (RFC 6940 §10.3): a successor list, a predecessor list and a finger
 * table with reversed indexing, as a pure data structure. Whom to Attach to, when to send Updates and
 * which finger to refresh (§10.5–§10.7) is decided by the Chord plugin around it.
 */
import { addToId, ID_BYTES, RING_SIZE, ringDistance, type Id } from '../../id.js';
import type { RoutingTable } from '../routing-table.js';

/** Successors kept, and as many predecessors, by default (RFC 6940 §10.3: at least 3). */
export const DEFAULT_NEIGHBOUR_COUNT = 3;
/** Finger slots by default (RFC 6940 §10.3: at least 16, able to grow to 128). */
export const DEFAULT_FINGER_COUNT = 16;
/** One finger per bit of the identifier: finger 128 targets self + 1. */
export const MAX_FINGER_COUNT = ID_BYTES * 8;

/** Settings of a ChordTable; every field has a default. */
export interface ChordTableOptions {
  /** Successors kept, and as many predecessors, closest first: an integer ≥ 1, default 3. */
  neighbourCount?: number;
  /**
   * Finger slots, reversed indexing (finger i targets self + 2^(128−i)): an integer in 0..128,
   * default 16. 0 leaves only the neighbour lists, which makes routing O(N); for comparisons.
   */
  fingerCount?: number;
}

/** A finger slot: its 1-based index, its target self + 2^(128−index), the peer filling it if any. */
export interface FingerSlot {
  index: number;
  target: Id;
  peer: Id | undefined;
}

/** A kept peer with the ring arithmetic it needs computed once, so lookups compare bigints only. */
interface Entry {
  readonly id: Id;
  /** Clockwise distance from self, in (0, 2^128). */
  readonly offset: bigint;
  /** The finger slot whose interval holds this peer, 1..fingerCount, or 0 when it lies in none. */
  readonly slot: number;
  /**
   * Believed to have no unknown node between it and self: it entered the neighbour lists and never
   * left them, or the peer itself said self is its nearest neighbour (confirm). A finger that moves
   * up when the neighbours before it leave is not: the ring between it and self is unknown.
   */
  adjacent: boolean;
}

/**
 * CHORD-RELOAD routing table (RFC 6940 §10.3).
 *
 * - successors(): the `neighbourCount` known peers following self clockwise, closest first;
 *   predecessors(): the `neighbourCount` known peers preceding self, closest first. With fewer than
 *   2·neighbourCount peers the two lists overlap — in a 3-node ring each peer is both a successor
 *   and a predecessor — which is what Chord means on a small ring.
 * - fingers(): finger i (1..fingerCount) targets self + 2^(128−i), so finger 1 is half a ring away;
 *   it holds the first known peer in [self + 2^(128−i), self + 2^(128−i+1)), or nothing. The
 *   intervals are disjoint, so each peer can fill at most one slot.
 *
 * Only peers that are a neighbour or a finger are kept: a peer that is neither is forgotten (add
 * returns false), which bounds the table at 2·neighbourCount + fingerCount entries, O(log N) work
 * per call whatever the overlay size. Fed only add()s, the table therefore equals the table built
 * from the set of every peer ever added, whatever the order.
 *
 * Like the RFC's separate successor list, the table remembers which neighbours are known to be
 * contiguous with self (see Entry.adjacent): routing trusts the neighbour lists only that far.
 */
export class ChordTable implements RoutingTable {
  /** Successors kept, and as many predecessors. */
  readonly neighbourCount: number;
  /** Finger slots, 0..128. */
  readonly fingerCount: number;
  /** Kept peers sorted by clockwise offset from self: successors at the front, predecessors at the back. */
  private ring: Entry[] = [];
  private readonly targets: readonly { index: number; target: Id }[];

  constructor(readonly self: Id, opts: ChordTableOptions = {}) {
    const neighbourCount = opts.neighbourCount ?? DEFAULT_NEIGHBOUR_COUNT;
    const fingerCount = opts.fingerCount ?? DEFAULT_FINGER_COUNT;
    if (!Number.isInteger(neighbourCount) || neighbourCount < 1) {
      throw new RangeError(`neighbourCount must be an integer ≥ 1, got ${neighbourCount}`);
    }
    if (!Number.isInteger(fingerCount) || fingerCount < 0 || fingerCount > MAX_FINGER_COUNT) {
      throw new RangeError(`fingerCount must be an integer in 0..${MAX_FINGER_COUNT}, got ${fingerCount}`);
    }
    this.neighbourCount = neighbourCount;
    this.fingerCount = fingerCount;
    this.targets = Array.from({ length: fingerCount }, (_, k) => ({
      index: k + 1,
      target: addToId(self, 1n << BigInt(MAX_FINGER_COUNT - (k + 1))),
    }));
  }

  add(peer: Id): boolean {
    const offset = this.offsetOf(peer);
    const at = this.lowerBound(offset);
    const slot = this.slotOf(offset);
    if (!this.admits(offset, at, slot)) return false;
    this.ring.splice(at, 0, { id: peer, offset, slot, adjacent: true });
    // The newcomer may push out the last successor, the last predecessor or the finger of its slot;
    // a neighbour pushed out that stays as a finger is no longer known to be contiguous.
    this.ring = this.ring.filter((e, j) => this.keeps(j, e.slot, this.ring.length));
    this.ring.forEach((e, j) => {
      if (!this.isNeighbour(j)) e.adjacent = false;
    });
    return true;
  }

  /**
   * `peer` says self is its nearest predecessor or successor: when it is among our neighbours, the
   * ring between us holds no node either of us knows, so routing may trust it again.
   */
  confirm(peer: Id): void {
    const at = this.indexOf(peer);
    if (at >= 0 && this.isNeighbour(at)) this.ring[at]!.adjacent = true;
  }

  /**
   * Would add(peer) keep it (a new neighbour or a better finger)? Changes nothing: lets the plugin
   * decide whether an Attach to a peer it has heard of is worth making before making it (§10.6).
   */
  wouldKeep(peer: Id): boolean {
    const offset = this.offsetOf(peer);
    return this.admits(offset, this.lowerBound(offset), this.slotOf(offset));
  }

  remove(peer: Id): boolean {
    const at = this.indexOf(peer);
    if (at < 0) return false;
    // Nothing else needs dropping: with one peer fewer, every kept peer is still a neighbour or the
    // first of its slot. The next successor simply moves up; the plugin refills the lists by Update.
    this.ring.splice(at, 1);
    return true;
  }

  has(peer: Id): boolean {
    return this.indexOf(peer) >= 0;
  }

  /** id ∈ (predecessor[0], self] (RFC 6940 §10); with no predecessor a lone node owns the ring. */
  isResponsible(id: Id): boolean {
    const predecessor = this.ring.at(-1);
    if (!predecessor) return true;
    const offset = this.offsetOf(id);
    return offset === 0n || offset > predecessor.offset;
  }

  /**
   * RFC 6940 §10.3, over neighbours and fingers (binary search, O(log log N)):
   * 1. `dest` is a known peer: send it there, the shortest path.
   * 2. `dest` lies within the stretch our neighbour lists are known to cover without gaps (from the
   *    farthest adjacent predecessor to the farthest adjacent successor, see Entry.adjacent): the
   *    first peer at or after `dest` is the responsible node. Sending it there directly, instead of
   *    to a peer before `dest`, keeps a message from going round in a loop while a newcomer is known
   *    to us but not yet to the peer before it. Beyond that stretch the same jump could overshoot
   *    unknown nodes (a finger that moved up when neighbours left) and send the message round again.
   * 3. Otherwise the known peer with the largest position in (self, dest): it never overshoots dest,
   *    so the responsible node is not skipped, and with fingers it at least halves the remaining
   *    distance, hence O(log N) hops.
   * `dest` == self counts as a full turn round the ring; callers check isResponsible first.
   */
  nextHop(dest: Id): Id | undefined {
    if (this.ring.length === 0) return undefined;
    const offset = this.offsetOf(dest) || RING_SIZE;
    const at = this.lowerBound(offset);
    const exact = this.ring[at];
    if (exact?.offset === offset) return exact.id;
    const { lastSuccessor, lastPredecessor } = this.adjacentStretch();
    if (at < this.ring.length && (offset <= lastSuccessor || offset > lastPredecessor)) return this.ring[at]!.id;
    return this.ring[at === 0 ? 0 : at - 1]!.id;
  }

  /** nextHop's answer, then the peers going counter-clockwise from `dest`: the next-closest preceding ones. */
  nextHops(dest: Id, count: number): Id[] {
    const first = this.nextHop(dest);
    if (!first || count < 1) return [];
    const out = [first];
    const n = this.ring.length;
    const before = this.lowerBound(this.offsetOf(dest) || RING_SIZE) - 1;
    for (let step = 0; step < n && out.length < count; step++) {
      const peer = this.ring[(before - step + n) % n]!.id;
      if (peer !== first) out.push(peer);
    }
    return out;
  }

  /** The owner of a key is the first node at or after it: the smaller clockwise distance wins. */
  compareOwners(a: Id, b: Id, key: Id): number {
    const da = ringDistance(key, a);
    const db = ringDistance(key, b);
    return da < db ? -1 : da > db ? 1 : 0;
  }

  /**
   * Walks clockwise from `id` over self and the kept peers: the first node at or after `id` is the
   * responsible one (RFC 6940 §10), the following ones its replicas (§10.4). Exact for ids in this
   * node's neighbourhood; further away the kept peers are sparse fingers, so it is only this node's view.
   */
  replicaSet(id: Id, count: number): Id[] {
    // Positions 0..length−1 are the kept peers, position `length` is self (offset 2^128 ≡ 0).
    const length = this.ring.length;
    const offset = this.offsetOf(id);
    const start = offset === 0n ? length : this.lowerBound(offset);
    const out: Id[] = [];
    for (let k = 0; k < Math.min(count, length + 1); k++) {
      const position = (start + k) % (length + 1);
      out.push(position === length ? this.self : this.ring[position]!.id);
    }
    return out;
  }

  /** Every kept peer, clockwise from self. */
  peers(): Id[] {
    return this.ring.map((e) => e.id);
  }

  /** Up to neighbourCount peers following self, closest first. */
  successors(): Id[] {
    return this.ring.slice(0, this.neighbourCount).map((e) => e.id);
  }

  /** Up to neighbourCount peers preceding self, closest first. */
  predecessors(): Id[] {
    return this.ring.slice(-this.neighbourCount).reverse().map((e) => e.id);
  }

  /** Successors and predecessors without duplicates, clockwise from self. */
  neighbourIds(): Id[] {
    return this.ring.filter((_, j) => this.isNeighbour(j)).map((e) => e.id);
  }

  /** Every finger slot, index 1 (half a ring away) first; `peer` undefined for an empty slot. */
  fingers(): FingerSlot[] {
    const first = new Map<number, Id>();
    for (const e of this.ring) if (e.slot > 0 && !first.has(e.slot)) first.set(e.slot, e.id);
    return this.targets.map(({ index, target }) => ({ index, target, peer: first.get(index) }));
  }

  /**
   * Every finger slot's target, index 1 first: where to look (RouteQuery or Attach) to fill or refresh
   * a slot (§10.7.4). Any id in [target, target + 2^(128−index)) fills the same slot, so the plugin may
   * aim at a random point of that interval instead, as §10.3 suggests against churn.
   */
  fingerTargets(): { index: number; target: Id }[] {
    return this.targets.map(({ index, target }) => ({ index, target }));
  }

  /**
   * Offsets of the farthest successor and predecessor reached from self over adjacent neighbours
   * only; 0 and 2^128 when the nearest one is not adjacent, so the stretch is empty on that side.
   */
  private adjacentStretch(): { lastSuccessor: bigint; lastPredecessor: bigint } {
    const n = Math.min(this.neighbourCount, this.ring.length);
    let lastSuccessor = 0n;
    for (let j = 0; j < n && this.ring[j]!.adjacent; j++) lastSuccessor = this.ring[j]!.offset;
    let lastPredecessor = RING_SIZE;
    for (let j = this.ring.length - 1; j >= this.ring.length - n && this.ring[j]!.adjacent; j--) lastPredecessor = this.ring[j]!.offset;
    return { lastSuccessor, lastPredecessor };
  }

  /** Clockwise distance from self to `id`, in [0, 2^128). */
  private offsetOf(id: Id): bigint {
    return ringDistance(this.self, id);
  }

  /** Finger slot i holds offsets in [2^(128−i), 2^(129−i)), i.e. offsets of bit length 129 − i. */
  private slotOf(offset: bigint): number {
    const slot = MAX_FINGER_COUNT + 1 - offset.toString(2).length;
    return slot <= this.fingerCount ? slot : 0;
  }

  /** Is position j among the first or last neighbourCount of `length` kept peers? */
  private isNeighbour(j: number, length = this.ring.length): boolean {
    return j < this.neighbourCount || j >= length - this.neighbourCount;
  }

  /** Is a peer in finger slot `slot` at position j of `length` kept peers a neighbour, or the first (so the finger) of its slot? */
  private keeps(j: number, slot: number, length: number): boolean {
    return this.isNeighbour(j, length) || (slot > 0 && this.ring[j - 1]?.slot !== slot);
  }

  /** Would a peer at `offset`, inserted at position `at`, be kept? Not self, not already kept, and useful. */
  private admits(offset: bigint, at: number, slot: number): boolean {
    return offset !== 0n && this.ring[at]?.offset !== offset && this.keeps(at, slot, this.ring.length + 1);
  }

  /** The first position whose offset is ≥ `offset` (ring.length when none). */
  private lowerBound(offset: bigint): number {
    let lo = 0;
    let hi = this.ring.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ring[mid]!.offset < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private indexOf(peer: Id): number {
    const offset = this.offsetOf(peer);
    const at = this.lowerBound(offset);
    return offset !== 0n && this.ring[at]?.offset === offset ? at : -1;
  }
}
