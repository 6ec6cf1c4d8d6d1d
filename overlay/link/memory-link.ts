/**
 * In-process links for unit tests and the large simulation: a pair of MemoryLinks behaves like a
 * TLS link between two nodes (ordered, asynchronous, closes propagate) with optional latency, loss
 * and partitions, all on an injected Clock. No sockets, no TLS: the Node-IDs are taken as given.
 */
import { EventEmitter } from 'node:events';
import { LinkCounters } from './link-counters.js';
import type { Clock, Timer } from '../clock.js';
import { idToHex, type Id } from '../id.js';
import type { Link } from './link.js';
import { seededRandom } from '../random.js';

/** Messages one end may have in flight when `queueLimit` is not given. */
export const DEFAULT_MEMORY_QUEUE_LIMIT = 1024;

/** One end's identity, as its certificate would state it. */
export interface MemoryLinkEnd {
  nodeId: Id;
  user: string;
  /** Its certificate, when the other end is to learn it from the link (as from a TLS handshake). */
  certDer?: Uint8Array;
  /** Where it is ("host:port"); default memory:<Node-ID>. */
  address?: string;
}

/** Options of memoryLinkPair. */
export interface MemoryLinkPairOptions {
  /** Delivery timers run on this clock; with a VirtualClock nothing arrives until it advances. */
  clock: Clock;
  /** One-way delay, ms; default 0 (still asynchronous). */
  latencyMs?: number;
  /** Bits per second each way: a message takes its size over this to leave; default no limit. */
  bandwidthBps?: number;
  /** Probability in [0, 1] that a message is lost; default 0. Closes are never lost. */
  lossRate?: number;
  /** Draws for loss, uniform in [0, 1); default seededRandom(1), so runs repeat. Share one across links if wanted. */
  random?: () => number;
  /** Messages each end may have in flight; default DEFAULT_MEMORY_QUEUE_LIMIT. */
  queueLimit?: number;
}

/** What both ends share: the "network" between them. */
interface Wire {
  clock: Clock;
  latencyMs: number;
  bandwidthBps: number;
  lossRate: number;
  random: () => number;
  queueLimit: number;
  partitioned: boolean;
}

/** A message or the close of its sender, on its way; `at` is the delivery time on the clock. */
interface InFlight {
  at: number;
  bytes?: Uint8Array;
  /** Set on the close marker: how the remote end sees the close. */
  close?: { reset: boolean };
}

/** The error the remote end sees when this end closed with an error (like a TCP reset). */
function resetError(user: string): Error {
  return new Error(`link reset by ${user}`);
}

/**
 * One end of an in-memory link. Delivery is always asynchronous (through clock.after) and ordered.
 * The bytes sent are the bytes delivered, not a copy: like a socket's queue (and TlsLink's), the
 * link holds them until they are out, so a sender must not change them after send(). Messages
 * already sent are delivered even if their sender closes; the close reaches the other end after
 * them.
 */
export class MemoryLink extends EventEmitter implements Link {
  readonly remoteNodeId: Id;
  readonly remoteNodeIdHex: string;
  readonly remoteUser: string;
  readonly remoteAddress: string;
  readonly transport = 'memory';
  readonly peerCertificate: { readonly der: Uint8Array } | undefined;

  private peer: MemoryLink;
  /** Sent by this end, not yet delivered (data and the close marker), in delivery order. */
  private readonly outbound: InFlight[] = [];
  private outboundMessages = 0;
  private timer: Timer | undefined;
  /** When this end's sender is free again: messages leave one after another at the bandwidth. */
  private busyUntil = 0;
  private isOpen = true;
  /** Bytes and messages through this link. */
  readonly counters = new LinkCounters();

  /** Use memoryLinkPair. The second end of a pair is constructed with the first as `peer`. */
  constructor(
    remote: MemoryLinkEnd,
    private readonly wire: Wire,
    peer?: MemoryLink,
  ) {
    super();
    this.peer = peer ?? this;
    if (peer) peer.peer = this;
    this.remoteNodeId = remote.nodeId;
    this.remoteNodeIdHex = idToHex(remote.nodeId);
    this.remoteUser = remote.user;
    this.remoteAddress = remote.address ?? `memory:${this.remoteNodeIdHex}`;
    this.peerCertificate = remote.certDer ? { der: remote.certDer } : undefined;
  }

  get open(): boolean {
    return this.isOpen;
  }

  /** Messages sent by this end and not yet delivered (or dropped). */
  get queuedMessages(): number {
    return this.outboundMessages;
  }

  /** True while traffic between the two ends is dropped. */
  get partitioned(): boolean {
    return this.wire.partitioned;
  }

  /**
   * Cuts (true) or heals (false) the pair: while cut, messages sent and messages arriving are
   * dropped, as on a broken path; neither end notices. Applies to both ends. A close still gets
   * through, so that a test or simulation that closes a link is never left with a half-open one.
   */
  partition(on: boolean): void {
    this.wire.partitioned = on;
  }

  send(bytes: Uint8Array): boolean {
    if (!this.isOpen || this.outboundMessages >= this.wire.queueLimit) return false;
    this.counters.messagesOut++;
    this.counters.bytesOut += bytes.length;
    if (this.wire.partitioned || (this.wire.lossRate > 0 && this.wire.random() < this.wire.lossRate)) return true;
    this.outboundMessages++;
    let sent = this.wire.clock.now();
    if (Number.isFinite(this.wire.bandwidthBps)) {
      sent = Math.max(sent, this.busyUntil) + (bytes.length * 8 * 1000) / this.wire.bandwidthBps;
      this.busyUntil = sent;
    }
    this.enqueue({ at: sent + this.wire.latencyMs, bytes });
    return true;
  }

  /**
   * Closes this end at once ('close' fires now); the other end closes after the latency, behind
   * the messages already sent, with no error for a clean close and a reset error otherwise.
   */
  close(error?: Error): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.enqueue({ at: Math.max(this.wire.clock.now(), this.busyUntil) + this.wire.latencyMs, close: { reset: error !== undefined } });
    this.emit('close', error);
  }

  private enqueue(item: InFlight): void {
    this.outbound.push(item);
    // Latency is constant per pair and messages leave in order, so items are due in the order they
    // were queued: one timer, for the head, is enough.
    this.timer ??= this.wire.clock.after(item.at - this.wire.clock.now(), () => this.deliverDue());
  }

  private deliverDue(): void {
    this.timer = undefined;
    const now = this.wire.clock.now();
    while (this.outbound.length > 0 && this.outbound[0]!.at <= now) {
      const item = this.outbound.shift()!;
      if (item.close) {
        this.peer.remoteClosed(item.close.reset ? resetError(this.peer.remoteUser) : undefined);
      } else {
        this.outboundMessages--;
        if (!this.wire.partitioned) this.peer.receive(item.bytes!);
      }
    }
    const head = this.outbound[0];
    // A listener may have closed this end meanwhile, which already armed the timer.
    if (head) this.timer ??= this.wire.clock.after(head.at - now, () => this.deliverDue());
    // Emptied by shift(), the queue keeps its storage (152 bytes on each of the tens of links a
    // simulated node holds); setting the length frees it.
    else this.outbound.length = 0;
  }

  private receive(bytes: Uint8Array): void {
    if (!this.isOpen) return;
    this.counters.messagesIn++;
    this.counters.bytesIn += bytes.length;
    this.emit('message', bytes);
  }

  /** The other end closed; what this end still had in flight has nobody to receive it. */
  private remoteClosed(error: Error | undefined): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.outbound.length = 0;
    this.outboundMessages = 0;
    if (!this.isOpen) return;
    this.isOpen = false;
    this.emit('close', error);
  }
}

/**
 * Two connected MemoryLinks: the first is `a`'s end (its remote is `b`), the second is `b`'s end.
 * Options apply to both directions.
 */
export function memoryLinkPair(a: MemoryLinkEnd, b: MemoryLinkEnd, opts: MemoryLinkPairOptions): [MemoryLink, MemoryLink] {
  const lossRate = opts.lossRate ?? 0;
  const latencyMs = opts.latencyMs ?? 0;
  if (!(lossRate >= 0 && lossRate <= 1)) throw new RangeError(`lossRate must be in [0, 1], got ${lossRate}`);
  if (!(latencyMs >= 0 && Number.isFinite(latencyMs))) throw new RangeError(`latencyMs must be >= 0, got ${latencyMs}`);
  const bandwidthBps = opts.bandwidthBps ?? Infinity;
  if (!(bandwidthBps > 0)) throw new RangeError(`bandwidthBps must be > 0, got ${bandwidthBps}`);
  const wire: Wire = {
    clock: opts.clock,
    latencyMs,
    bandwidthBps,
    lossRate,
    random: opts.random ?? seededRandom(1).next,
    queueLimit: opts.queueLimit ?? DEFAULT_MEMORY_QUEUE_LIMIT,
    partitioned: false,
  };
  const atA = new MemoryLink(b, wire);
  return [atA, new MemoryLink(a, wire, atA)];
}
