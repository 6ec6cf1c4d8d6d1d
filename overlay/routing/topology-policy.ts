/**
 * Next-hop decisions from a topology plugin's routing table and the connection table
 * (RFC 6940 §6.1.1 / §10.3): a directly linked destination gets the message straight away; a
 * Resource-ID this node is responsible for is delivered here; a Node-ID inside our own range that
 * is not linked does not exist (Not_Found); anything else goes to the table's next hop.
 */
import { ErrorCode, ReloadError } from '../errors.js';
import { idEquals, type Id } from '../id.js';
import type { Destination } from '../wire/message.js';
import type { RoutingTable } from '../topology/routing-table.js';
import type { HopDecision, RoutingPolicy } from './forwarder.js';
import type { LinkTable } from './link-table.js';

/** Stale table entries skipped per decision before giving up (each one is also removed). */
const MAX_STALE_HOPS = 8;

export interface TopologyPolicyOptions {
  /**
   * False for a client (RFC 6940 §3.2): it forwards nothing but its own messages, and is reached
   * by others only through the peer it is attached to.
   */
  routesForOthers: boolean;
  /**
   * False while the node is not in the overlay (joining through bootstrap nodes, or getting back
   * in): its table is still empty or partial and makes it look responsible for Resource-IDs that
   * belong to others. A bootstrap node that is itself joining would otherwise admit a newcomer
   * into a second ring of its own.
   */
  inOverlay(): boolean;
}

export function topologyPolicy(table: RoutingTable, links: LinkTable, opts: TopologyPolicyOptions): RoutingPolicy {
  const local = (dest: Destination, forwarding: boolean): HopDecision => {
    if (dest.type !== 'resource') return { kind: 'none' };
    if (forwarding && !opts.inOverlay()) throw new ReloadError(ErrorCode.Not_Found, 'this node is not in the overlay yet: it answers for no Resource-ID of others', 'not_in_overlay');
    return { kind: 'local' };
  };
  return {
    nextHop(dest, forwarding): HopDecision {
      if (dest.type === 'opaque') return { kind: 'none' };
      const id = dest.id as Id;
      // A client passes nothing on, not even to a node it happens to have a link to.
      if (forwarding && !opts.routesForOthers) return { kind: 'none' };
      if (dest.type === 'node') {
        const direct = links.get(id);
        if (direct) return { kind: 'link', link: direct, direct: true };
      }
      if (table.isResponsible(id)) return local(dest, forwarding);
      for (let tries = 0; tries < MAX_STALE_HOPS; tries++) {
        const hop = table.nextHop(id);
        if (!hop) return { kind: 'none' };
        const link = links.get(hop);
        if (link) return { kind: 'link', link, direct: false };
        // The table names a peer whose link is gone (its close is still on its way): skip it.
        table.remove(hop);
        if (table.isResponsible(id) && !idEquals(id, table.self)) return local(dest, forwarding);
      }
      return { kind: 'none' };
    },
  };
}
