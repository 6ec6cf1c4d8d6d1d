/**
 * Gets a node back into its overlay after it lost every link: runs an attempt (dial the bootstrap
 * nodes and cached peers, join again) after each backoff delay until one succeeds or stop() is
 * called. One attempt at a time; stop() leaves no timer behind and no attempt is started after it.
 */
import type { Clock, Timer } from './clock.js';
import type { Logger } from './log.js';
import { Backoff } from './util/backoff.js';

/** First delay between attempts to get back into the overlay, ms (before jitter). */
export const RECONNECT_INITIAL_MS = 1_000;
/** Largest delay between attempts, ms (before jitter). */
export const RECONNECT_MAX_MS = 30_000;

export interface ReconnectorOptions {
  clock: Clock;
  log: Logger;
  /** One try; resolves once the node is back, rejects to be tried again later. */
  attempt: () => Promise<void>;
  initialMs?: number;
  maxMs?: number;
  random?: () => number;
}

export class Reconnector {
  private readonly backoff: Backoff;
  private timer: Timer | undefined;
  private active = false;
  private running = false;
  private attempts = 0;

  constructor(private readonly opts: ReconnectorOptions) {
    this.backoff = new Backoff({ initialMs: opts.initialMs ?? RECONNECT_INITIAL_MS, maxMs: opts.maxMs ?? RECONNECT_MAX_MS, random: opts.random });
  }

  /** True from start() until an attempt succeeds or stop(). */
  get retrying(): boolean {
    return this.active;
  }

  /** Starts trying (no-op while already trying). */
  start(): void {
    if (this.active) return;
    this.active = true;
    this.attempts = 0;
    this.backoff.reset();
    this.schedule(this.backoff.next());
  }

  /** Tries at once instead of waiting out the delay (a peer has just linked to us). */
  soon(): void {
    if (!this.active || this.running) return;
    this.timer?.cancel();
    this.schedule(0);
  }

  stop(): void {
    this.active = false;
    this.timer?.cancel();
    this.timer = undefined;
  }

  private schedule(ms: number): void {
    this.timer = this.opts.clock.after(ms, () => void this.run());
  }

  private async run(): Promise<void> {
    this.timer = undefined;
    if (!this.active || this.running) return;
    this.running = true;
    this.attempts++;
    let failure = '';
    try {
      await this.opts.attempt();
      this.active = false;
    } catch (e) {
      failure = (e as Error).message;
    } finally {
      this.running = false;
    }
    if (this.active) {
      const ms = this.backoff.next();
      this.opts.log.info(`not back in the overlay after ${this.attempts} attempt(s) (${failure}); next in ${ms} ms`);
      this.schedule(ms);
    }
  }
}
