/**
 * The overlay side of relaying (relay-server.ts), both asked only over the link between the two
 * nodes themselves:
 *
 *   RelayReserveReq  = []                          RelayReserveAns  = [relay "ip:port"]
 *   RelayIncomingReq = [circuit hex, source hex, application u16 / null]   RelayIncomingAns = []
 *
 * Reserve: a node nobody can dial asks a peer to relay for it. Incoming: the relay tells the
 * reserved node that `source` waits on circuit `circuit`, for an overlay link (null) or an
 * application's channel; the node connects to the relay with ACCEPT and runs TLS as the server,
 * requiring `source`'s certificate.
 */
import { parseHostPort, type BootstrapNode } from '../config.js';
import { invalidMessage } from '../errors.js';
import { isHexId } from '../id.js';
import type { Link } from '../link/link.js';
import { requireAdjacent, type MethodHandler } from '../methods/dispatcher.js';
import { formatCandidate } from '../methods/attach.js';
import { MessageCode } from '../wire/codes.js';

/** @param reserve reserves for the link's node and returns the relay's address; throws to refuse */
export function relayReserveHandler(reserve: (link: Link) => BootstrapNode): MethodHandler {
  return {
    code: MessageCode.RelayReserveReq,
    handle(body, ctx) {
      if (!Array.isArray(body) || body.length !== 0) throw invalidMessage('RelayReserveReq must be []');
      return [formatCandidate(reserve(requireAdjacent(ctx, 'RelayReserve')))];
    },
  };
}

export function parseRelayReserveAnswer(body: unknown): BootstrapNode {
  if (!Array.isArray(body) || body.length !== 1 || typeof body[0] !== 'string' || body[0].length > 100) throw invalidMessage('RelayReserveAns must be ["ip:port"]');
  try {
    return parseHostPort(body[0]);
  } catch {
    throw invalidMessage(`RelayReserveAns: "${body[0].slice(0, 60)}" is not ip:port`);
  }
}

export function relayIncomingBody(circuit: string, source: string, app: number | undefined): unknown[] {
  return [circuit, source, app ?? null];
}

/** @param incoming starts the ACCEPT for a circuit announced over `link` (the relay's) */
export function relayIncomingHandler(incoming: (link: Link, circuit: string, source: string, app: number | undefined) => void): MethodHandler {
  return {
    code: MessageCode.RelayIncomingReq,
    handle(body, ctx) {
      if (
        !Array.isArray(body) ||
        body.length !== 3 ||
        typeof body[0] !== 'string' ||
        !/^[0-9a-f]{16}$/.test(body[0]) ||
        typeof body[1] !== 'string' ||
        !isHexId(body[1]) ||
        !(body[2] === null || (Number.isInteger(body[2]) && body[2] >= 0 && body[2] <= 0xffff))
      ) {
        throw invalidMessage('RelayIncomingReq must be [circuit (16 hex digits), source Node-ID (32 hex digits), application u16 / null]');
      }
      incoming(requireAdjacent(ctx, 'RelayIncoming'), body[0], body[1].toLowerCase(), body[2] ?? undefined);
      return [];
    },
  };
}
