/**
 * AppAttach (RFC 6940 §6.5.2): like Attach, for an application's own channel instead of an overlay
 * link. The answer carries the addresses where the node serves that Application-ID (mutual TLS
 * with the overlay's certificates); the requester dials them requiring the answerer's Node-ID.
 *
 *   AppAttachReq = [application u16, candidates]     AppAttachAns = [application, candidates]
 */
import type { BootstrapNode } from '../config.js';
import { ErrorCode, invalidMessage, ReloadError } from '../errors.js';
import { MessageCode } from '../wire/codes.js';
import { formatCandidate, parseCandidates } from './attach.js';
import type { MethodHandler } from './dispatcher.js';

/** RFC 6940 §14.5: 61441-65534 is the private Application-ID range. */
export const PRIVATE_APPLICATION_MIN = 61441;
export const PRIVATE_APPLICATION_MAX = 65534;

function application(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffff) throw invalidMessage('application must be a u16');
  return value;
}

export function appAttachRequestBody(app: number, candidates: BootstrapNode[]): unknown[] {
  return [app, candidates.map(formatCandidate)];
}

export function parseAppAttachAnswer(body: unknown, app: number): BootstrapNode[] {
  if (!Array.isArray(body) || body.length !== 2 || application(body[0]) !== app) throw invalidMessage(`AppAttachAns must be [${app}, candidates]`);
  return parseCandidates(body[1]);
}

/** @param served where each Application-ID this node serves listens */
export function appAttachHandler(served: (app: number) => BootstrapNode[] | undefined): MethodHandler {
  return {
    code: MessageCode.AppAttachReq,
    handle(body) {
      if (!Array.isArray(body) || body.length !== 2) throw invalidMessage('AppAttachReq must be [application, candidates]');
      const app = application(body[0]);
      parseCandidates(body[1]);
      const candidates = served(app);
      if (!candidates) throw new ReloadError(ErrorCode.Not_Found, `application ${app} is not served here`, 'unknown_application');
      return [app, candidates.map(formatCandidate)];
    },
  };
}
