/**
 * A forwarding header for a new message (RFC 6940 §6.3.2): this overlay's hash and configuration
 * sequence, protocol version 1.0, the initial TTL, a fresh random transaction id, no response size
 * limit, no options. Used by the message transport, and by benchmarks and tests that build
 * messages by hand.
 */
import type { Id } from '../id.js';
import { newTransactionId, overlayHash } from './codec.js';
import { PROTOCOL_VERSION, type Destination, type ForwardingHeader } from './message.js';

export interface HeaderContext {
  overlay: string;
  /** Configuration sequence (the config's `sequence`). */
  sequence: number;
  /** TTL of new messages (the config's `initialTtl`). */
  initialTtl: number;
}

/**
 * @param via the path so far: empty for a message this node sends (each sender appends itself),
 *   or [origin] for a message built by hand as if it had left its origin already
 */
export function newHeader(ctx: HeaderContext, destinations: Destination[], via: Destination[] = [], transactionId: bigint = newTransactionId()): ForwardingHeader {
  return {
    overlay: overlayHash(ctx.overlay),
    configSequence: ctx.sequence,
    version: PROTOCOL_VERSION,
    ttl: ctx.initialTtl,
    transactionId,
    maxResponseLength: 0,
    via,
    destinations,
    options: [],
  };
}

/** The header of a message `origin` sends to a Node-ID, as it looks on its first hop. */
export function headerFrom(ctx: HeaderContext, origin: Id, destination: Id): ForwardingHeader {
  return newHeader(ctx, [{ type: 'node', id: destination }], [{ type: 'node', id: origin }]);
}
