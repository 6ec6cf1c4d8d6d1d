/**
 * AppAttach (RFC 6940 §6.5.2): like Attach, for an application's own channel instead of an overlay
 * link. The answer carries the addresses where the node serves that Application-ID (mutual TLS
 * with the overlay's certificates) and, as Attach's does, how the channel is made through NATs
 * (attach.ts): the requester dials them requiring the answerer's Node-ID, or waits for the
 * answerer to dial, punches, or connects through the answerer's relay.
 *
 *   AppAttachReq = [application u16, candidates, traversal?]     AppAttachAns = [application, candidates, plan?]
 */
import type { BootstrapNode } from '../config.js';
import { ErrorCode, invalidMessage, ReloadError } from '../errors.js';
import { MessageCode } from '../wire/codes.js';
import type { Id } from '../id.js';
import { encodePlan, encodeTraversal, formatCandidate, parseCandidates, parsePlan, parseTraversal, type AttachAnswer, type AttachRequest, type TraversalOffer } from './attach.js';
import type { MethodHandler } from './dispatcher.js';

/** RFC 6940 §14.5: 61441-65534 is the private Application-ID range. */
export const PRIVATE_APPLICATION_MIN = 61441;
export const PRIVATE_APPLICATION_MAX = 65534;

function application(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffff) throw invalidMessage('application must be a u16');
  return value;
}

export function appAttachRequestBody(app: number, candidates: BootstrapNode[], traversal?: TraversalOffer): unknown[] {
  const body: unknown[] = [app, candidates.map(formatCandidate)];
  if (traversal) body.push(encodeTraversal(traversal));
  return body;
}

export function parseAppAttachAnswer(body: unknown, app: number): AttachAnswer {
  if (!Array.isArray(body) || body.length < 2 || body.length > 3 || application(body[0]) !== app) throw invalidMessage(`AppAttachAns must be [${app}, candidates, plan?]`);
  return { candidates: parseCandidates(body[1]), plan: parsePlan(body[2], 'AppAttachAns') };
}

/**
 * @param answer the candidates and plan for a channel of an Application-ID this node serves;
 *   undefined when it serves none
 */
export function appAttachHandler(answer: (app: number, request: AttachRequest, requester: Id) => Promise<AttachAnswer | undefined>): MethodHandler {
  return {
    code: MessageCode.AppAttachReq,
    async handle(body, ctx) {
      if (!Array.isArray(body) || body.length < 2 || body.length > 3) throw invalidMessage('AppAttachReq must be [application, candidates, traversal?]');
      const app = application(body[0]);
      const request = { candidates: parseCandidates(body[1]), traversal: body.length === 3 ? parseTraversal(body[2], 'AppAttachReq') : undefined };
      const answered = await answer(app, request, ctx.signer.identity.nodeId);
      if (!answered) throw new ReloadError(ErrorCode.Not_Found, `application ${app} is not served here`, 'unknown_application');
      return [app, answered.candidates.map(formatCandidate), encodePlan(answered.plan)];
    },
  };
}
