/**
 * Reachability: may other nodes dial this one, and what address do they see it from? A node asks
 * peers it dialled (STUN's reflexive address; libp2p's identify and AutoNAT): each answers with
 * the address the link comes from, and dials the asker back at that address's IP and the asker's
 * listening port. Only that IP is ever dialled, so the method cannot aim a node at a third party,
 * and a dial-back counts only when the far end authenticates as the asker.
 *
 *   ReachabilityReq = [listen_port uint / null]
 *   ReachabilityAns = [observed "ip:port", dialled_back bool / null (not tried)]
 *
 * Comparing the observed port with the link's own local port tells a NAT that keeps ports (a hole
 * punched from an announced port can be aimed at) from one that picks new ones (it cannot).
 */
import { parseHostPort, type BootstrapNode } from '../config.js';
import { invalidMessage } from '../errors.js';
import type { Id } from '../id.js';
import type { Link } from '../link/link.js';
import { requireAdjacent, type MethodHandler } from '../methods/dispatcher.js';
import { formatCandidate } from '../methods/attach.js';
import { MessageCode } from '../wire/codes.js';

/**
 * - `none`: the peers see the node at its own address;
 * - `port-preserving`: a NAT maps it to another address but keeps its ports (Linux masquerade when
 *   it can): a port announced before a punch is the port the peer sees;
 * - `port-changing`: a NAT picks new ports (per destination, at worst): a punch cannot be aimed.
 */
export type NatMapping = 'none' | 'port-preserving' | 'port-changing';

export interface ReachabilityStatus {
  /** The address the first peer asked saw this node from. */
  observed: string | null;
  /** true: a peer dialled it back; false: every dial-back failed; null: not known. */
  dialable: boolean | null;
  mapping: NatMapping | null;
}

export const UNKNOWN_REACHABILITY: ReachabilityStatus = { observed: null, dialable: null, mapping: null };

/** One peer's answer. */
export interface ReachabilityAnswer {
  observed: BootstrapNode;
  dialledBack: boolean | null;
}

export function reachabilityRequestBody(listenPort: number | undefined): unknown[] {
  return [listenPort ?? null];
}

export function parseReachabilityAnswer(body: unknown): ReachabilityAnswer {
  if (!Array.isArray(body) || body.length !== 2 || typeof body[0] !== 'string' || body[0].length > 100 || (body[1] !== null && typeof body[1] !== 'boolean')) {
    throw invalidMessage('ReachabilityAns must be ["ip:port", dialled_back bool / null]');
  }
  try {
    return { observed: parseHostPort(body[0]), dialledBack: body[1] };
  } catch {
    throw invalidMessage(`ReachabilityAns: "${body[0].slice(0, 60)}" is not ip:port`);
  }
}

/**
 * Serves ReachabilityReq. Only a request that came straight over the asker's own link is
 * answered: on any other path the link's remote address is some forwarder's.
 *
 * @param dialBack dials host:port requiring `nodeId`, resolves true when it authenticated; null
 *   when this node runs too many dial-backs already
 */
export function reachabilityHandler(dialBack: (target: BootstrapNode, nodeId: Id) => Promise<boolean | null>): MethodHandler {
  return {
    code: MessageCode.ReachabilityReq,
    async handle(body, ctx) {
      if (!Array.isArray(body) || body.length !== 1 || !(body[0] === null || (Number.isInteger(body[0]) && body[0] >= 1 && body[0] <= 65535))) {
        throw invalidMessage('ReachabilityReq must be [listen_port 1-65535 / null]');
      }
      const asker = ctx.signer.identity.nodeId;
      const observed = parseHostPort(requireAdjacent(ctx, 'Reachability').remoteAddress);
      const port = body[0] as number | null;
      const dialledBack = port === null ? null : await dialBack({ host: observed.host, port }, asker);
      return [formatCandidate(observed), dialledBack];
    },
  };
}

/**
 * What the answers say together: dialable when any peer got through (one success proves the
 * address works), not dialable when every peer tried and failed.
 */
export function judgeReachability(answers: { answer: ReachabilityAnswer; link: Link }[]): ReachabilityStatus {
  if (answers.length === 0) return UNKNOWN_REACHABILITY;
  const tried = answers.map((a) => a.answer.dialledBack).filter((d): d is boolean => d !== null);
  const dialable = tried.length === 0 ? null : tried.some((d) => d);
  let mapping: NatMapping | null = 'none';
  for (const { answer, link } of answers) {
    if (!link.localAddress) return { observed: formatCandidate(answers[0]!.answer.observed), dialable, mapping: null };
    const local = parseHostPort(link.localAddress);
    if (sameHost(local.host, answer.observed.host) && local.port === answer.observed.port) continue;
    if (local.port !== answer.observed.port) {
      mapping = 'port-changing';
      break;
    }
    mapping = 'port-preserving';
  }
  return { observed: formatCandidate(answers[0]!.answer.observed), dialable, mapping };
}

/** Compares IPv4 addresses also when one is written IPv4-mapped ("::ffff:10.0.0.1"). */
function sameHost(a: string, b: string): boolean {
  const plain = (h: string) => h.toLowerCase().replace(/^::ffff:/, '');
  return plain(a) === plain(b);
}
