/**
 * Bounded exponential backoff with jitter: the first delay is about `initialMs`, each failure
 * doubles it up to `maxMs`, and each delay is drawn from [d/2, d] ("equal jitter"), so that nodes
 * that lost the same peer at the same moment do not all come back at the same instant.
 * No timers here: the caller asks for the next delay and arms its own.
 */

export interface BackoffOptions {
  /** First delay before jitter, ms. */
  initialMs: number;
  /** Largest delay before jitter, ms. */
  maxMs: number;
  /** Uniform in [0, 1); Math.random unless a test or the simulator passes its own. */
  random?: () => number;
}

export class Backoff {
  private nextBaseMs: number;
  private readonly random: () => number;

  constructor(private readonly opts: BackoffOptions) {
    if (!(opts.initialMs > 0 && opts.maxMs >= opts.initialMs)) throw new RangeError('Backoff needs 0 < initialMs <= maxMs');
    this.nextBaseMs = opts.initialMs;
    this.random = opts.random ?? Math.random;
  }

  /** The delay before the next attempt, ms; each call counts one more failure. */
  next(): number {
    const base = this.nextBaseMs;
    this.nextBaseMs = Math.min(this.opts.maxMs, base * 2);
    return Math.round(base / 2 + (this.random() * base) / 2);
  }

  /** Back to the first delay (after a success). */
  reset(): void {
    this.nextBaseMs = this.opts.initialMs;
  }
}
