/**
 * Who is in a simulated overlay right now: the peers whose node joined and has not stopped, and the
 * ground truth of the topology they form (the ring, or the XOR metric). An arrival or departure costs a binary search and one array
 * splice, so that a lookup at 10,000 nodes neither scans every peer to pick its origin nor
 * rebuilds the ring to check its answer.
 */
import type { Id } from '../../overlay/id.js';
import type { TopologyTruth } from '../topology-truth.js';

export class Membership<P extends { identity: { nodeId: Id } }> {
  private readonly list: P[] = [];
  private readonly position = new Map<P, number>();

  /** @param truth the topology's ground truth, empty: members join it as they join the overlay */
  constructor(readonly truth: TopologyTruth) {}

  get size(): number {
    return this.list.length;
  }

  add(peer: P): void {
    if (this.position.has(peer)) return;
    this.position.set(peer, this.list.length);
    this.list.push(peer);
    this.truth.add(peer.identity.nodeId);
  }

  remove(peer: P): void {
    const at = this.position.get(peer);
    if (at === undefined) return;
    // The last one fills the gap: O(1), and the order still depends only on the events.
    const last = this.list.pop()!;
    if (last !== peer) {
      this.list[at] = last;
      this.position.set(last, at);
    }
    this.position.delete(peer);
    this.truth.remove(peer.identity.nodeId);
  }

  /** The member at a uniformly drawn position, given a draw in [0, 1). */
  pick(draw: number): P | undefined {
    return this.list[Math.floor(draw * this.list.length)];
  }

  /** The members now, as a list that later changes leave alone. */
  snapshot(): P[] {
    return [...this.list];
  }
}
