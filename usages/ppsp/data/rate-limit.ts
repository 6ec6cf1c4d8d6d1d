/**
 * Upload and download rate limits (bytes per second), per swarm and per node, as token buckets.
 * A send is charged when it is made and may drive a bucket into debt; the sender then waits until
 * every bucket it went through is out of debt. So a node-wide limit shared by many sessions holds
 * without any of them having to know of the others, and a bucket needs no timer of its own.
 *
 * A bucket fills at its rate up to BURST_SECONDS of it (at least MIN_BURST_BYTES, one chunk), so an
 * idle link cannot save up for a long burst. Rate 0 means unlimited.
 */
import type { Clock } from '../../../overlay/index.js';

/** Seconds of rate a bucket can hold. */
export const BURST_SECONDS = 0.25;
/** Least bucket size, bytes: one default chunk. */
export const MIN_BURST_BYTES = 16 * 1024;
/** Largest rate limit, bytes/s (10 GB/s): beyond that, say unlimited. */
export const MAX_RATE_LIMIT = 10_000_000_000;

/** Whether `value` is a rate limit: bytes per second, an integer 0 (unlimited) .. MAX_RATE_LIMIT. */
export function isRateLimit(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= MAX_RATE_LIMIT;
}

export class TokenBucket {
  private tokens = 0;
  private lastMs: number;

  constructor(
    private limit: number,
    private readonly clock: Clock,
  ) {
    this.lastMs = clock.now();
    this.tokens = this.burst;
  }

  /** Bytes per second; 0 when unlimited. */
  get rate(): number {
    return this.limit;
  }

  set rate(bytesPerSec: number) {
    this.refill();
    this.limit = bytesPerSec;
    this.tokens = Math.min(this.tokens, this.burst);
  }

  /** Takes `bytes`; returns the wait (ms) before the next send. */
  charge(bytes: number): number {
    if (this.limit === 0) return 0;
    this.refill();
    this.tokens -= bytes;
    return this.delay();
  }

  /** Ms until the bucket is out of debt (0 if it is). */
  delay(): number {
    if (this.limit === 0) return 0;
    this.refill();
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.limit);
  }

  private get burst(): number {
    return Math.max(MIN_BURST_BYTES, this.limit * BURST_SECONDS);
  }

  private refill(): void {
    const now = this.clock.now();
    if (this.limit > 0) this.tokens = Math.min(this.burst, this.tokens + ((now - this.lastMs) * this.limit) / 1000);
    this.lastMs = now;
  }
}

/** Several buckets a transfer goes through (its swarm's and the node's): the longest wait wins. */
export class RateLimit {
  constructor(private readonly buckets: readonly TokenBucket[]) {}

  // Plain loops: these run for every request batch and upload run, and allocate nothing.
  charge(bytes: number): number {
    let wait = 0;
    for (const b of this.buckets) wait = Math.max(wait, b.charge(bytes));
    return wait;
  }

  delay(): number {
    let wait = 0;
    for (const b of this.buckets) wait = Math.max(wait, b.delay());
    return wait;
  }

  /** The tightest rate, bytes/s; 0 when none is limited. */
  get rate(): number {
    let tightest = 0;
    for (const b of this.buckets) if (b.rate > 0 && (tightest === 0 || b.rate < tightest)) tightest = b.rate;
    return tightest;
  }
}

/** The node's own buckets, shared by all its swarms. */
export interface NodeRateLimits {
  upload: TokenBucket;
  download: TokenBucket;
}

const UNITS: Record<string, number> = { '': 1, k: 1000, m: 1_000_000, g: 1_000_000_000 };

/**
 * A rate as users write it: bytes per second with an optional SI prefix (`500k` = 500,000 B/s,
 * `2M`, `1.5G`, optionally ending in `B` or `B/s`), or bits per second ending in `bit` (`20Mbit`,
 * `800kbit`, optionally `/s`); `0` is unlimited. A lone `b` is refused as ambiguous. Undefined if `text` is none of these.
 */
export function parseRate(text: string): number | undefined {
  // "b" alone is left out: people write it for bits and for bytes.
  const m = /^(\d+(?:\.\d+)?)\s*([kKmMgG]?)(bit|Bit|B)?(?:\/s)?$/.exec(text.trim());
  if (!m) return undefined;
  const bits = m[3]?.toLowerCase() === 'bit';
  const value = Math.round((Number(m[1]) * UNITS[m[2]!.toLowerCase()]!) / (bits ? 8 : 1));
  return isRateLimit(value) ? value : undefined;
}
