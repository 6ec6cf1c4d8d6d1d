/**
 * RouteQuery (RFC 6940 §6.4.2.4): "where would you send this?". Routed to a destination, it is
 * answered by the node the overlay delivers it to, which names itself: so a RouteQuery to a
 * Resource-ID finds its responsible node, and the answer's via list counts the hops.
 *
 *   RouteQueryReq = [send_update bool, destination [type, id]]     RouteQueryAns = [next_peer]
 */
import { invalidMessage } from '../errors.js';
import { idFromBytes, type Id } from '../id.js';
import { MessageCode } from '../wire/codes.js';
import type { MethodHandler } from './dispatcher.js';

export function parseRouteQueryAnswer(body: unknown): Id {
  if (!Array.isArray(body) || body.length !== 1 || !(body[0] instanceof Uint8Array) || body[0].length !== 16) throw invalidMessage('RouteQueryAns must be [next_peer]');
  return idFromBytes(body[0]);
}

/** @param nextPeer the node this one would forward `id` to, or itself when it is responsible */
export function routeQueryHandler(nextPeer: (id: Id) => Id): MethodHandler {
  return {
    code: MessageCode.RouteQueryReq,
    handle(body) {
      if (!Array.isArray(body) || body.length !== 2 || typeof body[0] !== 'boolean') throw invalidMessage('RouteQueryReq must be [send_update, destination]');
      const dest = body[1];
      if (!Array.isArray(dest) || dest.length !== 2 || (dest[0] !== 1 && dest[0] !== 2) || !(dest[1] instanceof Uint8Array) || dest[1].length !== 16) {
        throw invalidMessage('RouteQueryReq destination must be [1 or 2, 16-byte id]');
      }
      return [nextPeer(idFromBytes(dest[1]))];
    },
  };
}
