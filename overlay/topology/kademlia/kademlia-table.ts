/**
 * The Kademlia routing table (issue 15; the plugin around it comes next): the XOR metric over the
 * 128-bit Node-ID space, peers kept in k-buckets by the k-bucket package, which stores and splits
 * them. Every RoutingTable answer (responsibility, next hop, replica set) compares XOR distances
 * byte by byte: k-bucket's own `closest()` sorts by a JS number that folds the bytes and ties
 * beyond about 53 bits, so it is never used here.
 *
 * Liveness is the plugin's: a full bucket that cannot split refuses a newcomer and emits `ping`
 * with its oldest contacts, which `onFullBucket` passes on (ping-before-evict, bounded there).
 */
import KBucket from 'k-bucket';
import { ID_BYTES, idEquals, idFromBytes, type Id } from '../../id.js';
import type { RoutingTable } from '../routing-table.js';

export interface KademliaTableOptions {
  /** Contacts per bucket (Kademlia's k). */
  k: number;
  /** Oldest contacts a full bucket names when a newcomer is refused. */
  pingCount: number;
  /** A full bucket refused `newcomer`; `oldest` should be pinged and replaced if they fail. */
  onFullBucket?(oldest: Id[], newcomer: Id): void;
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

export class KademliaTable implements RoutingTable {
  private readonly buckets: KBucket;

  constructor(
    readonly self: Id,
    opts: KademliaTableOptions,
  ) {
    this.buckets = new KBucket({ localNodeId: self, numberOfNodesPerKBucket: opts.k, numberOfNodesToPing: opts.pingCount });
    const onFull = opts.onFullBucket;
    if (onFull) this.buckets.on('ping', (oldest, newcomer) => onFull(oldest.map((c) => idFromBytes(c.id)), idFromBytes(newcomer.id)));
  }

  /** True when the peer is new and its bucket had room (or split to make some). */
  add(peer: Id): boolean {
    if (idEquals(peer, this.self) || this.has(peer)) return false;
    this.buckets.add({ id: idFromBytes(peer), vectorClock: 0 });
    return this.has(peer);
  }

  remove(peer: Id): boolean {
    if (!this.has(peer)) return false;
    this.buckets.remove(peer);
    return true;
  }

  has(peer: Id): boolean {
    return this.buckets.get(peer) !== null;
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

  /** The `count` known nodes XOR-closest to `id`, self included; the closest (responsible) first. */
  replicaSet(id: Id, count: number): Id[] {
    return [this.self, ...this.peers()].sort((a, b) => compareXorDistance(a, b, id)).slice(0, count);
  }

  peers(): Id[] {
    return this.buckets.toArray().map((c) => idFromBytes(c.id));
  }
}
