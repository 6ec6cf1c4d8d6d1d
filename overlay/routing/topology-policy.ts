/**
 * Next-hop decisions from a topology plugin's routing table and the connection table
 * (RFC 6940 §6.1.1 / §10.3): a directly linked destination gets the message straight away; a
 * Resource-ID this node is responsible for is delivered here; a Node-ID inside our own range that
 * is not linked does not exist (Not_Found); anything else goes to the table's next hop.
 */
import { idEquals, type Id } from '../id.js';
import type { RoutingTable } from '../topology/routing-table.js';
import type { HopDecision, RoutingPolicy } from './forwarder.js';
import type { LinkTable } from './link-table.js';

/** Stale table entries skipped per decision before giving up (each one is also removed). */
const MAX_STALE_HOPS = 8;

/**
 * @param routesForOthers false for a client (RFC 6940 §3.2): it forwards nothing but its own
 *   messages, and is reached by others only through the peer it is attached to.
 */
export function topologyPolicy(table: RoutingTable, links: LinkTable, routesForOthers = true): RoutingPolicy {
  return {
    nextHop(dest, forwarding): HopDecision {
      if (dest.type === 'opaque') return { kind: 'none' };
      const id = dest.id as Id;
      // A client passes nothing on, not even to a node it happens to have a link to.
      if (forwarding && !routesForOthers) return { kind: 'none' };
      if (dest.type === 'node') {
        const direct = links.get(id);
        if (direct) return { kind: 'link', link: direct, direct: true };
      }
      if (table.isResponsible(id)) return dest.type === 'resource' ? { kind: 'local' } : { kind: 'none' };
      for (let tries = 0; tries < MAX_STALE_HOPS; tries++) {
        const hop = table.nextHop(id);
        if (!hop) return { kind: 'none' };
        const link = links.get(hop);
        if (link) return { kind: 'link', link, direct: false };
        // The table names a peer whose link is gone (its close is still on its way): skip it.
        table.remove(hop);
        if (table.isResponsible(id) && !idEquals(id, table.self)) return dest.type === 'resource' ? { kind: 'local' } : { kind: 'none' };
      }
      return { kind: 'none' };
    },
  };
}
