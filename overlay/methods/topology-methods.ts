/**
 * Join, Leave and Update (RFC 6940 §6.4.2.1-3): the node checks who sent them, the topology plugin
 * decides what they mean. Join and Leave must come straight over a link bound to the signer
 * (adjacency), never relayed: a relayed Join could place an impostor in the ring.
 */
import type { Id } from '../id.js';
import type { Topology, TopologySender } from '../topology/topology.js';
import { MessageCode } from '../wire/codes.js';
import { adjacentLink, requireAdjacent, type MethodHandler, type RequestContext } from './dispatcher.js';

function sender(ctx: RequestContext): TopologySender {
  return { signer: ctx.signer, adjacent: adjacentLink(ctx) !== undefined };
}

function adjacentOnly(ctx: RequestContext, method: string): TopologySender {
  requireAdjacent(ctx, method);
  return { signer: ctx.signer, adjacent: true };
}

/** @param left told of each peer whose Leave was accepted (so its link's close is not a failure) */
export function topologyHandlers(topology: () => Topology, left: (peer: Id) => void = () => {}): MethodHandler[] {
  return [
    { code: MessageCode.UpdateReq, handle: (body, ctx) => topology().onUpdate(body, sender(ctx)) },
    { code: MessageCode.JoinReq, handle: (body, ctx) => topology().onJoin(body, adjacentOnly(ctx, 'Join')) },
    {
      code: MessageCode.LeaveReq,
      handle: (body, ctx) => {
        const answer = topology().onLeave(body, adjacentOnly(ctx, 'Leave'));
        left(ctx.signer.identity.nodeId);
        return answer;
      },
    },
  ];
}
