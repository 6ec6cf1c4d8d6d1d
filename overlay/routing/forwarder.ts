/**
 * The forwarder (RFC 6940 §6.1, symmetric recursive routing §3.3): decides from the forwarding
 * header alone whether a message is for this node or goes on, and to which link. Contents and
 * signature are not looked at on the way; the destination verifies them.
 *
 * Every node that sends a message appends its own Node-ID to the via list, so via[0] is the origin
 * and the last entry is the previous hop, which must be the node the link authenticated.
 */
import { ErrorCode, ReloadError, isReloadError } from '../errors.js';
import { idEquals, idToHex, WILDCARD_ID, type Id } from '../id.js';
import type { Link } from '../link/link.js';
import { decodeContents, decodeMessage, encodeMessage } from '../wire/codec.js';
import { isRequestCode } from '../wire/codes.js';
import type { Destination, WireMessage } from '../wire/message.js';
import type { Logger } from '../log.js';
import type { RoutingMetrics } from './metrics.js';

/**
 * Where a destination entry leads: this node, a link, or nowhere known. `direct` says the link goes
 * to the destination itself (the last hop of a source route or of any response), as opposed to a
 * hop the topology chose towards it.
 */
export type HopDecision = { kind: 'local' } | { kind: 'link'; link: Link; direct: boolean } | { kind: 'none' };

/** The topology's part in forwarding; a Chord or Kademlia plugin provides it. */
export interface RoutingPolicy {
  /**
   * The next hop towards `dest`, which is not this node's own Node-ID. `forwarding` is true for a
   * message from another node, false for one this node originates (a client routes only its own).
   */
  nextHop(dest: Destination, forwarding: boolean): HopDecision;
}

export interface ForwarderOptions {
  self: Id;
  /** Expected header values (RFC 6940 §6.3.2). */
  overlayHash: number;
  configSequence: number;
  initialTtl: number;
  maxMessageSize: number;
  policy: RoutingPolicy;
  metrics: RoutingMetrics;
  log: Logger;
  /** A message whose destination list ends at this node. */
  deliver(msg: WireMessage, from: Link | undefined): void;
  /**
   * Answers a request with an error from this node: `to` is the reply path (reversed via list,
   * or just the previous hop when the via list cannot be trusted), `link` where to send it.
   */
  sendError(request: WireMessage, error: ReloadError, link: Link): void;
  /**
   * A throw that is not a ReloadError: a defect of this node, not bad input from the peer. It is
   * counted and logged as such; tests set this to see it, since the peer is still answered.
   */
  onFault?(error: unknown, stage: string): void;
}

/** Lists longer than this are checked for repeats through a set of keys, shorter ones pairwise. */
const PAIRWISE_UP_TO = 16;

/**
 * Whether a destination list names one entry twice. Most lists are one entry, or a response's
 * reversed via list of a few hops: comparing bytes pairwise allocates nothing, where a key per
 * entry made a string for each on every message.
 */
function namesOneTwice(list: readonly Destination[]): boolean {
  if (list.length > PAIRWISE_UP_TO) return new Set(list.map((d) => `${d.type}:${idToHex(d.id)}`)).size < list.length;
  for (let i = 1; i < list.length; i++) {
    for (let j = 0; j < i; j++) if (list[i]!.type === list[j]!.type && idEquals(list[i]!.id, list[j]!.id)) return true;
  }
  return false;
}

export class Forwarder {
  /** Links whose every request is answered with an error, not routed (see refuseLink). */
  private readonly refusals = new WeakMap<Link, ReloadError>();

  constructor(private readonly opts: ForwarderOptions) {}

  /**
   * From now on, every request arriving on `link` is answered with `error` and goes no further;
   * its answers are dropped. So a refused peer learns why from the answer to its next request.
   */
  refuseLink(link: Link, error: ReloadError): void {
    this.refusals.set(link, error);
  }

  /**
   * Entry point for bytes from a link. Never throws: bad input is counted, answered with an error
   * when it is a request whose header could be read, and otherwise dropped.
   */
  receive(bytes: Uint8Array, from: Link): void {
    const { metrics } = this.opts;
    metrics.count('frames_in');
    let msg: WireMessage;
    try {
      msg = decodeMessage(bytes, this.opts.maxMessageSize);
    } catch (e) {
      metrics.countError(isReloadError(e) ? e.code : ErrorCode.Invalid_Message, 'dropped');
      if (isReloadError(e) && e.code === ErrorCode.Message_Too_Large) from.close(e);
      return;
    }
    const refusal = this.refusals.get(from);
    if (refusal) return this.refuse(msg, refusal, from);
    try {
      this.check(msg, from);
      this.route(msg, from);
    } catch (e) {
      if (isReloadError(e)) return this.refuse(msg, e, from);
      this.fault(e, 'routing');
      // RELOAD has no code for a fault of the answering node; the reason tells it apart.
      this.refuse(msg, new ReloadError(ErrorCode.Invalid_Message, 'this node failed to handle the message (a fault of this node, not of the message)', 'internal_error'), from);
    }
  }

  /** Sends a message this node originates or answers; errors are thrown to the caller. */
  originate(msg: WireMessage): void {
    this.route(msg, undefined);
  }

  /** Appends this node to the via list and puts the message on `link`. */
  sendOn(link: Link, msg: WireMessage): void {
    const header = { ...msg.header, via: [...msg.header.via, { type: 'node' as const, id: this.opts.self }] };
    const bytes = encodeMessage({ ...msg, header });
    if (bytes.length > this.opts.maxMessageSize) throw new ReloadError(ErrorCode.Message_Too_Large, `message of ${bytes.length} bytes exceeds ${this.opts.maxMessageSize}`);
    if (!link.send(bytes)) throw new ReloadError(ErrorCode.Request_Timeout, `link to ${link.remoteNodeIdHex} is closed or its queue is full`, 'link_unavailable');
    this.opts.metrics.count('frames_out');
  }

  private check(msg: WireMessage, from: Link): void {
    const h = msg.header;
    // First, so that every later error can be sent back along the via list.
    const last = h.via[h.via.length - 1];
    if (!last || last.type !== 'node' || !idEquals(last.id, from.remoteNodeId)) {
      throw new ReloadError(ErrorCode.Forbidden, `last via entry is not ${from.remoteNodeIdHex}, the node this link authenticated`, 'forged_via');
    }
    if (h.overlay !== this.opts.overlayHash) throw new ReloadError(ErrorCode.Incompatible_with_Overlay, 'message is for another overlay');
    if (h.configSequence !== this.opts.configSequence) {
      const older = ((h.configSequence - this.opts.configSequence) & 0xffff) > 0x7fff;
      throw new ReloadError(older ? ErrorCode.Config_Too_Old : ErrorCode.Config_Too_New, `configuration sequence ${h.configSequence}, ours is ${this.opts.configSequence}`);
    }
    if (h.ttl > this.opts.initialTtl) throw new ReloadError(ErrorCode.TTL_Exceeded, `TTL ${h.ttl} above the overlay's initial TTL ${this.opts.initialTtl}`);
    if (namesOneTwice(h.destinations)) throw new ReloadError(ErrorCode.Invalid_Message, 'destination list names a node twice', 'duplicate_destination');
    if (h.destinations.slice(0, -1).some((d) => d.type === 'resource')) {
      throw new ReloadError(ErrorCode.Invalid_Message, 'a Resource-ID may only be the last destination', 'resource_not_last');
    }
  }

  private route(msg: WireMessage, from: Link | undefined): void {
    const { self, metrics } = this.opts;
    const dests = msg.header.destinations;
    let head = dests[0];
    // Pop our own entries (we are a hop of a source route, or the destination).
    let popped = 0;
    while (head && head.type === 'node' && idEquals(head.id, self)) head = dests[++popped];
    if (!head || (head.type === 'node' && idEquals(head.id, WILDCARD_ID))) {
      metrics.count('delivered');
      this.opts.deliver(msg, from);
      return;
    }
    const decision = this.opts.policy.nextHop(head, from !== undefined);
    if (decision.kind === 'local') {
      metrics.count('delivered');
      this.opts.deliver(msg, from);
      return;
    }
    if (from) {
      // A loop is a routing decision repeating itself; explicit hops (responses retracing a path,
      // source routes) may pass a node twice by design and are bounded by the TTL.
      const routed = decision.kind === 'none' || !decision.direct;
      if (routed && msg.header.via.some((v) => v.type === 'node' && idEquals(v.id, self))) {
        throw new ReloadError(ErrorCode.Invalid_Message, 'this node is already on the via list', 'routing_loop');
      }
      if (msg.header.ttl === 0) throw new ReloadError(ErrorCode.TTL_Exceeded, 'TTL reached 0 before the destination');
    }
    if (decision.kind === 'none') {
      throw new ReloadError(ErrorCode.Not_Found, `no route towards ${head.type} ${idToHex(head.id)}`, 'no_route');
    }
    const header = { ...msg.header, destinations: dests.slice(popped), ttl: from ? msg.header.ttl - 1 : msg.header.ttl };
    this.sendOn(decision.link, { ...msg, header });
    if (from) metrics.count('forwarded');
  }

  /** Answers a refused request with its error; refused responses are only counted. */
  private refuse(msg: WireMessage, error: ReloadError, from: Link): void {
    this.opts.metrics.countError(error.code, 'refused');
    let isRequest = false;
    try {
      isRequest = isRequestCode(decodeContents(msg.contentsBytes).code);
    } catch {
      return;
    }
    this.opts.log.debug(`refused a ${isRequest ? 'request' : 'response'} from ${from.remoteNodeIdHex}: ${error.message}`);
    if (!isRequest) return;
    try {
      this.opts.sendError(msg, error, from);
    } catch (e) {
      if (isReloadError(e)) this.opts.metrics.countError(e.code, 'unanswerable');
      else this.fault(e, 'answering');
    }
  }

  private fault(e: unknown, stage: string): void {
    this.opts.metrics.countFault(stage);
    this.opts.log.error(`internal fault while ${stage}: ${(e as Error)?.stack ?? String(e)}`);
    this.opts.onFault?.(e, stage);
  }
}
