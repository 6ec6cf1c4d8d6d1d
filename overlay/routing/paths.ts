/**
 * Lookups along several routes (RFC 6940 §13.5 asks for resistance to peers that drop or misroute
 * messages; S/Kademlia sends lookups along disjoint paths): the same request goes out through up to
 * `lookupPaths` different first hops, and the caller picks among the answers that verified. With
 * recursive routing only the first hop is ours to choose; the routes may meet again nearer the
 * target, so this defeats peers on the way, not a target that lies.
 */
import { ErrorCode, ReloadError } from '../errors.js';
import type { Id } from '../id.js';
import type { RoutingTable } from '../topology/routing-table.js';
import type { Holder } from '../topology/topology.js';
import type { Destination } from '../wire/message.js';

/**
 * Destination lists towards Resource-ID `target`: one plain route when `paths` is 1 or this node
 * owns the target, else one source-routed through each of up to `paths` linked first hops.
 */
export function routesTowards(table: RoutingTable, linked: (peer: Id) => boolean, target: Id, paths: number): Destination[][] {
  const plain: Destination[][] = [[{ type: 'resource', id: target }]];
  if (paths <= 1 || table.isResponsible(target)) return plain;
  const hops = table.nextHops(target, paths).filter(linked);
  return hops.length > 1 ? hops.map((id) => [{ type: 'node', id }, { type: 'resource', id: target }]) : plain;
}

/** Destination lists to a node the topology found, one through each chain of nodes that led to it, then `onward`. */
export function holderRoutes(holder: Holder, ...onward: Destination[]): Destination[][] {
  return holder.ways.map((way) => [...way, holder.id].map((id): Destination => ({ type: 'node', id })).concat(onward));
}

/**
 * The answers of the routed requests and of the others sent beside them (to nodes the topology
 * found), together; the routes' error when neither brought any.
 */
export async function withAnswersBeside<T>(routed: Promise<T[]>, beside: Promise<T[]>): Promise<T[]> {
  const [a, b] = await Promise.allSettled([routed, beside]);
  const answers = [...(a.status === 'fulfilled' ? a.value : []), ...(b.status === 'fulfilled' ? b.value : [])];
  if (a.status === 'rejected' && answers.length === 0) throw a.reason;
  return answers;
}

/** Sends on every route at once; resolves with the answers that came back, or throws the first route's error if none did. */
export async function answersOnEveryRoute<T>(routes: Destination[][], send: (destinations: Destination[]) => Promise<T>): Promise<T[]> {
  const settled = await Promise.allSettled(routes.map(send));
  const answers = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  if (answers.length > 0) return answers;
  const first = settled[0];
  throw first?.status === 'rejected' ? first.reason : new ReloadError(ErrorCode.Not_Found, 'no route to send on', 'no_route');
}
