/**
 * The Kademlia routing table (issue 15): the XOR metric over the 128-bit Node-ID space, peers kept
 * in k-buckets by the k-bucket package, which stores and splits them, plus a sibling list
 * (S/Kademlia): the `siblingCount` XOR-closest peers are kept even when their bucket is full, so
 * that responsibility and replica sets near this node are exact. Every RoutingTable answer
 * compares XOR distances byte by byte: k-bucket's own `closest()` sorts by a JS number that folds
 * the bytes and ties beyond about 53 bits, so it is never used here.
 *
 * Liveness is the plugin's: a full bucket that cannot split refuses a newcomer and emits `ping`
 * with its oldest contacts, which `onFullBucket` passes on (ping-before-evict, bounded there).
 */
import KBucket from 'k-bucket';
import { ID_BYTES, idEquals, idFromBytes, idToHex, type Id } from '../../id.js';
import type { RoutingTable } from '../routing-table.js';

export interface KademliaTableOptions {
  /** Contacts per bucket (Kademlia's k). */
  k: number;
  /** Oldest contacts a full bucket names when a newcomer is refused. */
  pingCount: number;
  /** XOR-closest peers kept whatever their bucket holds (0: buckets only). */
  siblingCount?: number;
  /** A full bucket refused `newcomer`; `oldest` should be pinged and replaced if they fail. */
  onFullBucket?(oldest: Id[], newcomer: Id): void;
}

/** One k-bucket: the ids whose first `depth` bits equal `prefix`'s, and the contacts it holds. */
export interface Bucket {
  depth: number;
  /** An id with the bucket's prefix (bits past `depth` are zero). */
  prefix: Id;
  contacts: Id[];
  /** The bucket holding this node's own id (it splits when full; the others refuse). */
  own: boolean;
}

/**
 * Orders `a` and `b` by XOR distance to `target`: negative when `a` is closer. Exact over all
 * 128 bits; two distinct ids are never at the same distance from one target.
 */
export function compareXorDistance(a: Uint8Array, b: Uint8Array, target: Uint8Array): number {
  for (let i = 0; i < ID_BYTES; i++) {
    const da = a[i]! ^ target[i]!;
    const db = b[i]! ^ target[i]!;
    if (da !== db) return da - db;
  }
  return 0;
}

/**
 * The `count` of `ids` XOR-closest to `target`, closest first. One pass that keeps the best so far
 * in order: the callers ask for a few of a table of a hundred or more, for every held resource at
 * each table change and for every Update; sorting a copy of the table each time took 14 % of the
 * CPU in a 3,000-node simulation.
 */
export function nearest(ids: readonly Id[], target: Uint8Array, count: number): Id[] {
  const out: Id[] = [];
  if (count < 1) return out;
  for (const id of ids) {
    if (out.length === count && compareXorDistance(id, out[count - 1]!, target) >= 0) continue;
    let at = Math.min(out.length, count - 1);
    while (at > 0 && compareXorDistance(id, out[at - 1]!, target) < 0) at--;
    if (out.length === count) out.pop();
    out.splice(at, 0, id);
  }
  return out;
}

/** How many leading bits `a` and `b` share. */
export function commonPrefixBits(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < ID_BYTES; i++) {
    const x = a[i]! ^ b[i]!;
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return ID_BYTES * 8;
}

/** Bit `bit` of `id`, counted from the most significant: k-bucket's left (0) or right (1) branch. */
function bitAt(id: Uint8Array, bit: number): number {
  return (id[bit >> 3]! >> (7 - (bit & 7))) & 1;
}

/** An id whose first `depth` bits are `prefix`'s and the rest from `randomBytes`: a point in that bucket. */
export function idInBucket(prefix: Uint8Array, depth: number, randomBytes: Uint8Array): Id {
  const out = Uint8Array.from(randomBytes.subarray(0, ID_BYTES));
  for (let bit = 0; bit < depth; bit++) {
    const mask = 0x80 >> (bit & 7);
    out[bit >> 3] = (out[bit >> 3]! & ~mask) | (prefix[bit >> 3]! & mask);
  }
  return idFromBytes(out);
}

/** k-bucket's tree (its type declarations get the inner nodes wrong): a leaf has contacts, an inner node none. */
interface Tree {
  contacts: { id: Uint8Array }[] | null;
  dontSplit: boolean;
  left: Tree | null;
  right: Tree | null;
}

export class KademliaTable implements RoutingTable {
  private readonly buckets: KBucket;
  private readonly siblingCount: number;
  /** Siblings their full bucket refused, by hex: kept for being among the closest. */
  private readonly extra = new Map<string, Id>();
  /** Every peer, rebuilt after a change: the forwarder asks for each message. */
  private all: Id[] | undefined;
  /** The siblings, rebuilt with `all`: every Update and every newcomer asks for them. */
  private siblingList: Id[] | undefined;
  /** True while adding a sibling: its bucket being full is no reason to ping anyone. */
  private addingSibling = false;

  constructor(
    readonly self: Id,
    opts: KademliaTableOptions,
  ) {
    this.siblingCount = opts.siblingCount ?? 0;
    this.buckets = new KBucket({ localNodeId: self, numberOfNodesPerKBucket: opts.k, numberOfNodesToPing: opts.pingCount });
    const onFull = opts.onFullBucket;
    if (onFull) {
      this.buckets.on('ping', (oldest, newcomer) => {
        if (!this.addingSibling) onFull(oldest.map((c) => idFromBytes(c.id)), idFromBytes(newcomer.id));
      });
    }
  }

  /** True when the peer is new and its bucket had room (or split to make some), or it is a sibling. */
  add(peer: Id): boolean {
    if (idEquals(peer, this.self) || this.has(peer)) return false;
    const sibling = this.isSiblingCandidate(peer);
    this.addingSibling = sibling;
    try {
      this.buckets.add({ id: idFromBytes(peer), vectorClock: 0 });
    } finally {
      this.addingSibling = false;
    }
    if (this.buckets.get(peer) === null) {
      if (!sibling) return false;
      this.extra.set(idToHex(peer), peer);
    }
    this.changed();
    this.pruneSiblings();
    return true;
  }

  /** A contact was heard from: it moves to the end of its bucket (the last to be pinged). */
  touch(peer: Id): void {
    if (this.buckets.get(peer) !== null) this.buckets.add({ id: idFromBytes(peer), vectorClock: 0 });
  }

  /**
   * Would add() keep `peer`: a sibling, or its bucket has room, or splitting the own bucket (as
   * often as k-bucket would) leaves `peer` in a half with room. A split can leave all k contacts in
   * the far half `peer` falls in, which then refuses it.
   */
  wouldKeep(peer: Id): boolean {
    if (idEquals(peer, this.self) || this.has(peer)) return false;
    if (this.isSiblingCandidate(peer)) return true;
    const { leaf, depth } = this.leafOf(peer);
    const k = this.buckets.numberOfNodesPerKBucket;
    if (leaf.contacts!.length < k) return true;
    if (leaf.dontSplit) return false;
    // The own bucket splits at each bit until `peer` and self part: then `peer` lands in a far
    // half holding the contacts that share its bit; while they agree, everything stays together.
    let inHalf = leaf.contacts!.map((c) => c.id);
    for (let bit = depth; bit < ID_BYTES * 8; bit++) {
      const side = bitAt(peer, bit);
      inHalf = inHalf.filter((id) => bitAt(id, bit) === side);
      if (side !== bitAt(this.self, bit)) return inHalf.length < k;
      if (inHalf.length < k) return true;
    }
    return false;
  }

  remove(peer: Id): boolean {
    if (!this.has(peer)) return false;
    this.buckets.remove(peer);
    this.extra.delete(idToHex(peer));
    this.changed();
    return true;
  }

  has(peer: Id): boolean {
    return this.buckets.get(peer) !== null || this.extra.has(idToHex(peer));
  }

  /** Self is XOR-closest to `id` among the nodes it knows. */
  isResponsible(id: Id): boolean {
    return this.peers().every((p) => compareXorDistance(this.self, p, id) < 0);
  }

  /**
   * The known peer XOR-closest to `dest`. Greedy forwarding reaches the closest node overall: a
   * node that is not the closest keeps some contact in the bucket where the closest one falls, and
   * that contact is closer to `dest` than itself.
   */
  nextHop(dest: Id): Id | undefined {
    let best: Id | undefined;
    for (const p of this.peers()) if (!best || compareXorDistance(p, best, dest) < 0) best = p;
    return best;
  }

  nextHops(dest: Id, count: number): Id[] {
    return this.closest(dest, count);
  }

  compareOwners(a: Id, b: Id, key: Id): number {
    return compareXorDistance(a, b, key);
  }

  /** The `count` known nodes XOR-closest to `id`, self included; the closest (responsible) first. */
  replicaSet(id: Id, count: number): Id[] {
    return this.closest(id, count, true);
  }

  /** The `count` known peers XOR-closest to `id`, closest first; self too when `withSelf`. */
  closest(id: Id, count: number, withSelf = false): Id[] {
    const out = nearest(this.peers(), id, count);
    return withSelf ? nearest([this.self, ...out], id, count) : out;
  }

  /**
   * Of `named`, those that rank among the `count` nodes XOR-closest to self of all we know and all
   * named, self included, each node counted once: a teller's answer names mostly nodes we know, and
   * counted twice they would push the one new node worth having out of the ranking.
   */
  rankedAmongClosest(named: Id[], count: number): Id[] {
    const all = new Map<string, Id>();
    for (const id of [...this.closest(this.self, count, true), ...named]) all.set(idToHex(id), id);
    const told = new Set(named.map(idToHex));
    return [...all.values()]
      .sort((a, b) => compareXorDistance(a, b, this.self))
      .slice(0, count)
      .filter((id) => told.has(idToHex(id)));
  }

  /** The `siblingCount` XOR-closest peers, closest first. */
  siblings(): readonly Id[] {
    if (!this.siblingList) this.siblingList = nearest(this.peers(), this.self, this.siblingCount);
    return this.siblingList;
  }

  peers(): Id[] {
    // The contacts' ids are the copies add() gave k-bucket; nothing writes to an Id.
    if (!this.all) this.all = [...this.buckets.toArray().map((c) => c.id as Id), ...this.extra.values()];
    return this.all;
  }

  /** The k-buckets from the farthest (depth 0) to this node's own. */
  bucketList(): Bucket[] {
    const out: Bucket[] = [];
    const walk = (node: Tree, depth: number, prefix: Uint8Array): void => {
      if (node.contacts !== null) {
        out.push({ depth, prefix: idFromBytes(prefix), contacts: node.contacts.map((c) => idFromBytes(c.id)), own: !node.dontSplit });
        return;
      }
      const bit = 0x80 >> (depth & 7);
      const high = Uint8Array.from(prefix);
      high[depth >> 3]! |= bit;
      walk(node.left!, depth + 1, prefix);
      walk(node.right!, depth + 1, high);
    };
    walk(this.buckets.root as unknown as Tree, 0, new Uint8Array(ID_BYTES));
    return out.sort((a, b) => a.depth - b.depth);
  }

  /**
   * The ranges a node must know a contact in for greedy routing to reach every node: for each
   * depth d from 1 to one past the bits self shares with its closest peer, the ids that share
   * self's first d-1 bits and differ in the next. Kept apart from bucketList(): k-bucket splits only
   * a full bucket, so a node with fewer than k contacts has one bucket for the whole space, and a
   * half of it it never heard of would stay unknown.
   */
  ranges(): { prefix: Id; depth: number }[] {
    const closest = this.closest(this.self, 1)[0];
    const deepest = closest ? Math.min(ID_BYTES * 8, commonPrefixBits(this.self, closest) + 1) : 1;
    return Array.from({ length: deepest }, (_, i) => {
      const prefix = Uint8Array.from(this.self);
      prefix[i >> 3]! ^= 0x80 >> (i & 7);
      return { prefix: idFromBytes(prefix), depth: i + 1 };
    });
  }

  /**
   * Peers that are the only contact this node has in their range (ranges()). Such a peer is often
   * the only node there at all, and then every node near this one lacks it too: a newcomer alone
   * in its half of a neighbourhood is known to few. Advertised in Updates, so it spreads.
   */
  soleContacts(): Id[] {
    const byDepth = new Map<number, Id[]>();
    for (const p of this.peers()) {
      const depth = commonPrefixBits(this.self, p) + 1;
      byDepth.set(depth, [...(byDepth.get(depth) ?? []), p]);
    }
    return [...byDepth.values()].filter((inRange) => inRange.length === 1).map((inRange) => inRange[0]!);
  }

  /** True when `peer` is the only contact in its range (see soleContacts). */
  isSoleContact(peer: Id): boolean {
    const depth = commonPrefixBits(this.self, peer);
    return this.has(peer) && this.peers().every((p) => idEquals(p, peer) || commonPrefixBits(this.self, p) !== depth);
  }

  /** The peers changed: the lists built from them are stale. */
  private changed(): void {
    this.all = undefined;
    this.siblingList = undefined;
  }

  /** The leaf bucket `id` falls in (as k-bucket walks its tree) and its depth. */
  private leafOf(id: Id): { leaf: Tree; depth: number } {
    let node = this.buckets.root as unknown as Tree;
    let depth = 0;
    for (; node.contacts === null; depth++) node = bitAt(id, depth) ? node.right! : node.left!;
    return { leaf: node, depth };
  }

  /** Fewer than `siblingCount` known peers are closer to self than `peer`. */
  private isSiblingCandidate(peer: Id): boolean {
    if (this.siblingCount === 0) return false;
    const siblings = this.siblings();
    return siblings.length < this.siblingCount || compareXorDistance(peer, siblings[siblings.length - 1]!, this.self) <= 0;
  }

  /** Siblings kept outside their bucket that a closer newcomer has pushed out of the list. */
  private pruneSiblings(): void {
    for (const [hex, id] of [...this.extra]) {
      if (this.isSiblingCandidate(id)) continue;
      this.extra.delete(hex);
      this.changed();
    }
  }
}
