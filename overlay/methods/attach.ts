/**
 * Attach (RFC 6940 §6.5.1), without ICE: the request reaches a node through the overlay, and the
 * answer carries the addresses that node accepts TLS links on (its host candidates). The
 * requester then dials one of them, requiring the answerer's Node-ID in the TLS handshake, so a
 * node cannot be impersonated by whoever answers on the address.
 *
 *   AttachReq = [candidates ["host:port" ...], send_update bool]     AttachAns = [candidates]
 */
import { parseHostPort, type BootstrapNode } from '../config.js';
import { invalidMessage } from '../errors.js';
import { MessageCode } from '../wire/codes.js';
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

export function attachRequestBody(candidates: BootstrapNode[], sendUpdate = false): unknown[] {
  return [candidates.map(formatCandidate), sendUpdate];
}

export function parseAttachAnswer(body: unknown): BootstrapNode[] {
  if (!Array.isArray(body) || body.length !== 1) throw invalidMessage('AttachAns must be [candidates]');
  return parseCandidates(body[0]);
}

/** @param candidates this node's own listen addresses (empty for a node that only dials out) */
export function attachHandler(candidates: () => BootstrapNode[]): MethodHandler {
  return {
    code: MessageCode.AttachReq,
    handle(body) {
      if (!Array.isArray(body) || body.length !== 2 || typeof body[1] !== 'boolean') throw invalidMessage('AttachReq must be [candidates, send_update]');
      parseCandidates(body[0]);
      return [candidates().map(formatCandidate)];
    },
  };
}
