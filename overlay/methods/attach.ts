/**
 * Attach (RFC 6940 §6.5.1). RFC 6940 runs ICE here; we carry what ICE would decide with, in our
 * own encoding: the requester's listen addresses (host candidates) and, when it wants a link
 * through NATs, whether it can be dialled and the address it will punch from; the answerer's
 * listen addresses and its choice of how the link is made (overlay/nat/traversal.ts):
 * `direct` (the requester dials), `reverse` (the answerer dials), `punch` (both connect at once,
 * at the answerer's punch address), `spray` (a birthday punch, when one NAT picks new ports:
 * overlay/link/tcp-spray.ts), `relay` (the requester connects through the answerer's relay),
 * `none` (no way). A punch names the relay to fall back on when it misses. Whoever dials requires the
 * other's Node-ID in the TLS handshake, so a node cannot be impersonated by whoever answers on an
 * address.
 *
 *   AttachReq = [candidates ["host:port" ...], send_update bool, traversal?]
 *     traversal = [dialable bool / null, punch "ip:port" / null, spray "ip"?]
 *   AttachAns = [candidates, plan?]      plan = "direct" / "reverse" / "none" / ["relay", "ip:port"]
 *                                               / ["punch" / "spray", "ip:port", relay "ip:port" / null]
 *
 * A request without traversal (a lookup that wants only the address) gets a `direct` answer.
 */
import { isIP } from 'node:net';
import { parseHostPort, type BootstrapNode } from '../config.js';
import { invalidMessage } from '../errors.js';
import { MessageCode } from '../wire/codes.js';
import type { Id } from '../id.js';
import type { MethodHandler } from './dispatcher.js';

/** Candidates an Attach may list. */
export const MAX_CANDIDATES = 8;

export function formatCandidate(c: BootstrapNode): string {
  return c.host.includes(':') ? `[${c.host}]:${c.port}` : `${c.host}:${c.port}`;
}

export function parseCandidates(value: unknown): BootstrapNode[] {
  if (!Array.isArray(value) || value.length > MAX_CANDIDATES) throw invalidMessage(`candidates must be a list of at most ${MAX_CANDIDATES} "host:port" strings`);
  return value.map((v, i) => {
    if (typeof v !== 'string' || v.length > 300) throw invalidMessage(`candidate ${i} is not a "host:port" string`);
    try {
      return parseHostPort(v);
    } catch {
      throw invalidMessage(`candidate ${i} "${v.slice(0, 60)}" is not host:port`);
    }
  });
}

/** What a requester tells about itself for a link through NATs. */
export interface TraversalOffer {
  dialable: boolean | null;
  /** The public address and port it will punch from, when its NAT keeps ports. */
  punch: BootstrapNode | undefined;
  /** Its public address, when its NAT picks new ports (a birthday punch can still reach it). */
  spray?: string;
}

export interface AttachRequest {
  candidates: BootstrapNode[];
  traversal: TraversalOffer | undefined;
}

export type AttachPlan =
  | { kind: 'direct' }
  | { kind: 'reverse' }
  | { kind: 'none' }
  | { kind: 'relay'; at: BootstrapNode }
  /** A punch (simultaneous open, or a birthday punch) at the answerer's public address; `relay`: where to go if it misses. */
  | { kind: 'punch' | 'spray'; at: BootstrapNode; relay: BootstrapNode | undefined };

export interface AttachAnswer {
  candidates: BootstrapNode[];
  plan: AttachPlan;
}

export function attachRequestBody(candidates: BootstrapNode[], traversal?: TraversalOffer): unknown[] {
  const body: unknown[] = [candidates.map(formatCandidate), false];
  if (traversal) body.push(encodeTraversal(traversal));
  return body;
}

export function encodeTraversal(t: TraversalOffer): unknown[] {
  const body: unknown[] = [t.dialable, t.punch ? formatCandidate(t.punch) : null];
  if (t.spray) body.push(t.spray);
  return body;
}

function parseOneCandidate(value: unknown, what: string): BootstrapNode {
  if (typeof value !== 'string' || value.length > 300) throw invalidMessage(`${what} must be a "host:port" string`);
  try {
    return parseHostPort(value);
  } catch {
    throw invalidMessage(`${what} "${value.slice(0, 60)}" is not host:port`);
  }
}

export function parseTraversal(t: unknown, method: string): TraversalOffer {
  if (!Array.isArray(t) || t.length < 2 || t.length > 3 || !(t[0] === null || typeof t[0] === 'boolean')) throw invalidMessage(`${method} traversal must be [dialable bool / null, punch "ip:port" / null, spray "ip"?]`);
  const offer: TraversalOffer = { dialable: t[0] as boolean | null, punch: t[1] === null ? undefined : parseOneCandidate(t[1], `${method} punch address`) };
  if (t.length === 3) {
    if (typeof t[2] !== 'string' || isIP(t[2]) === 0) throw invalidMessage(`${method} spray address must be an IP address`);
    offer.spray = t[2];
  }
  return offer;
}

export function parseAttachRequest(body: unknown): AttachRequest {
  if (!Array.isArray(body) || body.length < 2 || body.length > 3 || typeof body[1] !== 'boolean') throw invalidMessage('AttachReq must be [candidates, send_update, traversal?]');
  return { candidates: parseCandidates(body[0]), traversal: body.length === 3 ? parseTraversal(body[2], 'AttachReq') : undefined };
}

export function encodePlan(plan: AttachPlan): unknown {
  if (plan.kind === 'spray' || plan.kind === 'punch') return [plan.kind, formatCandidate(plan.at), plan.relay ? formatCandidate(plan.relay) : null];
  return 'at' in plan ? [plan.kind, formatCandidate(plan.at)] : plan.kind;
}

/** A plan as it arrived; absent (an answerer that plans nothing) means direct. */
export function parsePlan(plan: unknown, method: string): AttachPlan {
  if (plan === undefined || plan === 'direct') return { kind: 'direct' };
  if (plan === 'reverse' || plan === 'none') return { kind: plan };
  if (Array.isArray(plan) && plan.length === 2 && plan[0] === 'relay') return { kind: 'relay', at: parseOneCandidate(plan[1], `${method} relay address`) };
  if (Array.isArray(plan) && plan.length === 3 && (plan[0] === 'punch' || plan[0] === 'spray')) {
    return { kind: plan[0], at: parseOneCandidate(plan[1], `${method} ${plan[0]} address`), relay: plan[2] === null ? undefined : parseOneCandidate(plan[2], `${method} ${plan[0]}'s relay address`) };
  }
  throw invalidMessage(`${method} plan must be "direct", "reverse", "none", ["relay", "ip:port"] or ["punch" / "spray", "ip:port", relay "ip:port" / null]`);
}

export function attachAnswerBody({ candidates, plan }: AttachAnswer): unknown[] {
  return [candidates.map(formatCandidate), encodePlan(plan)];
}

export function parseAttachAnswer(body: unknown): AttachAnswer {
  if (!Array.isArray(body) || body.length < 1 || body.length > 2) throw invalidMessage('AttachAns must be [candidates, plan?]');
  return { candidates: parseCandidates(body[0]), plan: parsePlan(body[1], 'AttachAns') };
}

/** @param answer this node's candidates and plan for a request (overlay/nat/traversal.ts) */
export function attachHandler(answer: (request: AttachRequest, requester: Id) => AttachAnswer | Promise<AttachAnswer>): MethodHandler {
  return {
    code: MessageCode.AttachReq,
    async handle(body, ctx) {
      return attachAnswerBody(await answer(parseAttachRequest(body), ctx.signer.identity.nodeId));
    },
  };
}
