/**
 * The explicit dispatch table: one handler per request code (RFC 6940 §6.4, one file per method
 * under overlay/methods/). Usages register their own codes here through the node's public API.
 */
import type { PeerCertificate } from '../../certs/trust.js';
import { ErrorCode, ReloadError } from '../errors.js';
import { idEquals } from '../id.js';
import type { Link } from '../link/link.js';
import { isRequestCode, messageCodeName } from '../wire/codes.js';
import type { ForwardingHeader } from '../wire/message.js';

export interface RequestContext {
  header: ForwardingHeader;
  /** The verified certificate that signed the request. */
  signer: PeerCertificate;
  /** The link the request arrived on; undefined when this node sent it to itself. */
  link: Link | undefined;
  /** The body as it arrived (CBOR), for methods with a codec of their own. */
  raw: Uint8Array;
  /** The request's message code. */
  code: number;
}

/**
 * The link a request came straight over from the node that signed it (adjacency, RFC 6940
 * §6.4.2.1): only then is the link's remote address the signer's, and no forwarder can have
 * relayed it. Undefined for a request that was forwarded or that this node sent itself.
 */
export function adjacentLink(ctx: RequestContext): Link | undefined {
  return ctx.link !== undefined && idEquals(ctx.link.remoteNodeId, ctx.signer.identity.nodeId) && ctx.header.via.length === 1 ? ctx.link : undefined;
}

/** The adjacent link (adjacentLink), or Forbidden `not_adjacent` naming the method. */
export function requireAdjacent(ctx: RequestContext, method: string): Link {
  const link = adjacentLink(ctx);
  if (!link) throw new ReloadError(ErrorCode.Forbidden, `${method} must come directly from the peer that signed it`, 'not_adjacent');
  return link;
}

export interface MethodHandler {
  /** The request code; the answer is code + 1. */
  code: number;
  /** True when the handler decodes `ctx.raw` itself; `body` is then undefined. */
  raw?: boolean;
  /**
   * Validates the decoded CBOR body and returns the answer body (a value to encode, or an
   * EncodedBody). Throws ReloadError to refuse; the node answers with that error.
   */
  handle(body: unknown, ctx: RequestContext): unknown | Promise<unknown>;
}

export class Dispatcher {
  private readonly handlers = new Map<number, MethodHandler>();

  register(handler: MethodHandler): void {
    if (!isRequestCode(handler.code)) throw new RangeError(`0x${handler.code.toString(16)} is not a request code (requests are odd)`);
    if (this.handlers.has(handler.code)) throw new Error(`a handler for ${messageCodeName(handler.code)} is registered already`);
    this.handlers.set(handler.code, handler);
  }

  /** The handler for a code, or Invalid_Message naming the method nobody here implements. */
  handlerFor(code: number): MethodHandler {
    const handler = this.handlers.get(code);
    if (!handler) throw new ReloadError(ErrorCode.Invalid_Message, `no handler for ${messageCodeName(code)} at this node`, 'unknown_method');
    return handler;
  }
}
