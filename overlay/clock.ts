/**
 * The one place that reads wall-clock time or arms timers. Everything else takes a `Clock`, so a
 * virtual clock can drive fast, deterministic tests and simulations.
 */

export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds unless cancelled. */
  after(ms: number, fn: () => void): Timer;
  /** Runs `fn` every `ms` milliseconds until cancelled. */
  every(ms: number, fn: () => void): Timer;
}

/** Real time. Timers are unref'd so a forgotten one never keeps a process alive. */
export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
  every(ms, fn) {
    const t = setInterval(fn, ms);
    t.unref();
    return { cancel: () => clearInterval(t) };
  },
};

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
  periodMs?: number;
  cancelled: boolean;
}

/** Time that moves only when told to: `advance(ms)` fires due timers in order. */
export class VirtualClock implements Clock {
  private nowMs: number;
  private seq = 0;
  private pending: Pending[] = [];

  constructor(startMs = 1_700_000_000_000) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  after(ms: number, fn: () => void): Timer {
    return this.schedule(ms, fn, undefined);
  }

  every(ms: number, fn: () => void): Timer {
    return this.schedule(ms, fn, Math.max(1, ms));
  }

  /** Timers still armed. */
  get pendingCount(): number {
    return this.pending.filter((p) => !p.cancelled).length;
  }

  advance(ms: number): void {
    const until = this.nowMs + ms;
    for (;;) {
      this.pending = this.pending.filter((p) => !p.cancelled);
      this.pending.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.pending[0];
      if (!next || next.at > until) break;
      this.nowMs = next.at;
      if (next.periodMs === undefined) next.cancelled = true;
      else next.at += next.periodMs;
      next.fn();
    }
    this.nowMs = until;
  }

  private schedule(ms: number, fn: () => void, periodMs: number | undefined): Timer {
    const entry: Pending = { at: this.nowMs + Math.max(0, ms), seq: this.seq++, fn, periodMs, cancelled: false };
    this.pending.push(entry);
    return { cancel: () => void (entry.cancelled = true) };
  }
}
