/**
 * Ping (RFC 6940 §6.4.2.5 / §6.5.3): a liveness and round-trip probe. The request may carry
 * padding (at most 65535 bytes, for path MTU probing); the answer is a random response id and
 * the responder's clock in ms. The response id is drawn once per node process (its instance id),
 * so that two processes running one Node-ID answer differently (routing/link-admission.ts).
 */
import type { Clock } from '../clock.js';
import { invalidMessage } from '../errors.js';
import { MessageCode } from '../wire/codes.js';
import type { MethodHandler } from './dispatcher.js';

export const MAX_PING_PADDING_BYTES = 65535;
/** Bytes of a PingAns response_id. */
export const PING_RESPONSE_ID_BYTES = 8;

/** PingReq body: `[padding]`. */
export function pingRequestBody(paddingBytes = 0): unknown[] {
  return [new Uint8Array(paddingBytes)];
}

export interface PingAnswer {
  responseId: Uint8Array;
  timeMs: number;
}

/** Reads a PingAns body `[response_id (8 bytes), time ms]`. */
export function parsePingAnswer(body: unknown): PingAnswer {
  if (!Array.isArray(body) || body.length !== 2) throw invalidMessage('PingAns must be [response_id, time]');
  const [responseId, timeMs] = body as [unknown, unknown];
  if (!(responseId instanceof Uint8Array) || responseId.length !== PING_RESPONSE_ID_BYTES) throw invalidMessage(`PingAns response_id must be ${PING_RESPONSE_ID_BYTES} bytes`);
  if (typeof timeMs !== 'number' || !Number.isSafeInteger(timeMs) || timeMs < 0) throw invalidMessage('PingAns time must be a non-negative integer');
  return { responseId, timeMs };
}

/** @param instanceId this node process's random response id (PING_RESPONSE_ID_BYTES) */
export function pingHandler(clock: Clock, instanceId: Uint8Array): MethodHandler {
  return {
    code: MessageCode.PingReq,
    handle(body) {
      if (!Array.isArray(body) || body.length !== 1 || !(body[0] instanceof Uint8Array)) throw invalidMessage('PingReq must be [padding]');
      if (body[0].length > MAX_PING_PADDING_BYTES) throw invalidMessage(`Ping padding above ${MAX_PING_PADDING_BYTES} bytes`);
      return [instanceId, clock.now()];
    },
  };
}
