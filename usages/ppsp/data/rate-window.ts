/**
 * A transfer rate over a sliding window: bytes are counted into fixed-width buckets and the rate
 * is the sum of the buckets inside the window divided by the window's length. A download that
 * stalls reads ~0 within one window, one that moves reads its real rate, whatever the caller's
 * polling period (a rate sampled once per tick showed 0 while moving and the last burst while
 * stalled). Memory is the bucket count, fixed at construction.
 */

/** Default window, ms: long enough to smooth bursts, short enough to show a stall within seconds. */
export const DEFAULT_RATE_WINDOW_MS = 5_000;
/** Default bucket width, ms (the window is 20 buckets). */
export const DEFAULT_RATE_BUCKET_MS = 250;

export class RateWindow {
  private readonly buckets: number[];
  /** Start time (ms) of the bucket each slot holds; a slot older than the window counts nothing. */
  private readonly starts: number[];
  private readonly windowMs: number;
  private readonly bucketMs: number;
  /** When the first bytes were counted: until a whole window has passed, divide by the time elapsed. */
  private firstMs: number | undefined;

  constructor(windowMs = DEFAULT_RATE_WINDOW_MS, bucketMs = DEFAULT_RATE_BUCKET_MS) {
    if (!(bucketMs > 0) || !(windowMs >= bucketMs)) throw new RangeError('the rate window needs bucketMs > 0 and windowMs >= bucketMs');
    this.windowMs = windowMs;
    this.bucketMs = bucketMs;
    const n = Math.ceil(windowMs / bucketMs);
    this.buckets = new Array<number>(n).fill(0);
    this.starts = new Array<number>(n).fill(-Infinity);
  }

  /** Counts `bytes` transferred at time `nowMs`. */
  add(bytes: number, nowMs: number): void {
    this.firstMs ??= nowMs;
    const start = Math.floor(nowMs / this.bucketMs) * this.bucketMs;
    const slot = (start / this.bucketMs) % this.buckets.length;
    if (this.starts[slot] !== start) {
      this.starts[slot] = start;
      this.buckets[slot] = 0;
    }
    this.buckets[slot]! += bytes;
  }

  /** Bytes per second over the window ending at `nowMs` (0 before anything was counted). */
  perSecond(nowMs: number): number {
    if (this.firstMs === undefined) return 0;
    const oldest = nowMs - this.windowMs;
    let sum = 0;
    for (let i = 0; i < this.buckets.length; i++) if (this.starts[i]! > oldest && this.starts[i]! <= nowMs) sum += this.buckets[i]!;
    // A young transfer is measured over the time it has run (at least one bucket), not the whole window.
    const span = Math.min(this.windowMs, Math.max(this.bucketMs, nowMs - this.firstMs));
    return (sum * 1000) / span;
  }
}
