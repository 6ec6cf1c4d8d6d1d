/**
 * The routing table every topology plugin keeps (RFC 6940 §6.4.1 lists what a plugin must define:
 * responsibility, next hop, replication). A pure data structure: no I/O, no timers. Liveness, Attach,
 * Update and refresh policies live in the plugin around it, which feeds it with add() and remove().
 * CHORD-RELOAD implements it in `chord/chord-table.ts`; each implementation must pass
 * `test/overlay/topology/routing-table-compliance.ts`.
 */
import type { Id } from '../id.js';

export interface RoutingTable {
  /** This node's own Node-ID; never one of its peers. */
  readonly self: Id;
  /** Adds a routable peer; returns true if any table (neighbours or fingers) changed. */
  add(peer: Id): boolean;
  /** Removes a peer (failed or left); returns true if anything changed. */
  remove(peer: Id): boolean;
  /** Is `peer` currently kept in the table? */
  has(peer: Id): boolean;
  /** Is this node responsible for `id` (a Node-ID or Resource-ID), as far as it knows? */
  isResponsible(id: Id): boolean;
  /**
   * The peer to forward to for `dest` (never self), or undefined when the table is empty.
   * Callers check isResponsible(dest) first: the answer for an id this node owns is unspecified.
   */
  nextHop(dest: Id): Id | undefined;
  /**
   * Up to `count` distinct peers to forward to for `dest`, best first (nextHop's answer first): the
   * first hops of routes that should differ, for lookups sent along several paths (RFC 6940 §13.5).
   */
  nextHops(dest: Id, count: number): Id[];
  /** Negative when node `a` has the better claim to own `key` than node `b` (the topology's metric). */
  compareOwners(a: Id, b: Id, key: Id): number;
  /**
   * This node's view of the nodes that should hold `id`: responsible node first, then replicas
   * (`count` in total, self included when it is one; fewer when fewer nodes are known).
   */
  replicaSet(id: Id, count: number): Id[];
  /** Every routable peer (neighbours and fingers), no duplicates. */
  peers(): Id[];
}
