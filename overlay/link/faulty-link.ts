/**
 * A Link that delivers what it receives late, unevenly and not always: each incoming message is
 * dropped with probability `loss`, else delivered `delayMs` ± `jitterMs` (uniform) after it came, and
 * never before the one before it (a stream's head-of-line blocking: what jitter and loss look like
 * on our TLS links). Wrapped on the receiving side of a link, it puts a bad path between two
 * in-process nodes; simulations and benchmarks use it (`PpspDataUsageOptions.wrapLink`), the real
 * TLS path gets `tc netem` instead (scripts/netem-hosts.sh).
 */
import { type Clock, systemClock, type Timer } from '../clock.js';
import { LinkDecorator } from './link-decorator.js';
import type { Link } from './link.js';

export interface LinkFaults {
  delayMs: number;
  jitterMs: number;
  /** Share of messages dropped, 0..1. */
  loss: number;
  /** Uniform in [0, 1); default Math.random (tests pass a seeded one). */
  random?: () => number;
  clock?: Clock;
  /** Messages held at most; more are dropped and counted (default 4096). */
  maxPending?: number;
}

export const DEFAULT_MAX_PENDING = 4096;

export class FaultyLink extends LinkDecorator {
  readonly counts = { delivered: 0, dropped: 0, overflowed: 0 };
  private readonly queue: { at: number; bytes: Uint8Array }[] = [];
  private timer: Timer | undefined;
  private lastAt = 0;
  private readonly clock: Clock;
  private readonly random: () => number;

  constructor(
    inner: Link,
    private readonly faults: LinkFaults,
  ) {
    super(inner);
    this.clock = faults.clock ?? systemClock;
    this.random = faults.random ?? Math.random;
    inner.on('message', (bytes) => this.arrive(bytes));
    inner.on('close', () => this.clear());
  }

  /** Messages waiting to be delivered. */
  get pending(): number {
    return this.queue.length;
  }

  override close(error?: Error): void {
    this.clear();
    super.close(error);
  }

  private arrive(bytes: Uint8Array): void {
    if (this.random() < this.faults.loss) {
      this.counts.dropped++;
      return;
    }
    if (this.queue.length >= (this.faults.maxPending ?? DEFAULT_MAX_PENDING)) {
      this.counts.overflowed++;
      return;
    }
    const jitter = (this.random() * 2 - 1) * this.faults.jitterMs;
    const at = Math.max(this.lastAt, this.clock.now() + Math.max(0, this.faults.delayMs + jitter));
    this.lastAt = at;
    this.queue.push({ at, bytes });
    if (this.queue.length === 1) this.arm();
  }

  private arm(): void {
    const next = this.queue[0];
    if (!next) return;
    this.timer = this.clock.after(Math.max(0, next.at - this.clock.now()), () => {
      this.timer = undefined;
      const now = this.clock.now();
      while (this.queue.length > 0 && this.queue[0]!.at <= now) {
        this.counts.delivered++;
        this.emit('message', this.queue.shift()!.bytes);
      }
      this.arm();
    });
  }

  private clear(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.queue.length = 0;
  }
}
