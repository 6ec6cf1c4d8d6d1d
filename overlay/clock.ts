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

function earlier(a: Pending, b: Pending): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** Timers by due time, then by arming order: a binary heap, so firing one costs log n, not a sort. */
class TimerHeap {
  private readonly items: Pending[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): Pending | undefined {
    return this.items[0];
  }

  // push and pop move the hole instead of swapping pairs: a destructuring swap allocated an array
  // per level, and the simulator fires a timer per message.
  push(p: Pending): void {
    const a = this.items;
    let i = a.length;
    a.push(p);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!earlier(p, a[parent]!)) break;
      a[i] = a[parent]!;
      i = parent;
    }
    a[i] = p;
  }

  /** Keeps only the timers `keep` says, in heap order again. */
  retain(keep: (p: Pending) => boolean): void {
    const kept = this.items.filter(keep);
    this.items.length = 0;
    for (const p of kept) this.push(p);
  }

  pop(): Pending | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const c = l + 1 < a.length && earlier(a[l + 1]!, a[l]!) ? l + 1 : l;
        if (!earlier(a[c]!, last)) break;
        a[i] = a[c]!;
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}

const noop = () => {};
/** Cancelled timers the heap may hold before it is compacted (when they also outnumber the live ones). */
const COMPACT_AT = 1024;

/** Resolves after every promise continuation queued so far has run (a turn of the event loop). */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Resolves once the microtask queue is empty, without a turn of the event loop: the microtask
 * queued here runs after those queued before it, and its nextTick only after every microtask they
 * chain (Node runs ticks once the queue has drained). About 40 times cheaper than a turn; it does
 * not wait for setImmediate callbacks, I/O or nextTicks queued from within the chain.
 */
function microtasksDrained(): Promise<void> {
  return new Promise((resolve) => queueMicrotask(() => process.nextTick(resolve)));
}

export interface VirtualClockOptions {
  /**
   * run() takes a full turn of the event loop after every `turnEvery`-th timer and only lets the
   * microtask queue drain after the others. 1 (the default) is a turn after each timer, for code
   * that uses setImmediate or I/O; the simulator, whose nodes await only promises, takes a turn
   * every few hundred timers, which saves a tenth to a sixth of its time and still lets its
   * output and signals through.
   */
  turnEvery?: number;
}

/**
 * Time that moves only when told to. `advance(ms)` fires due timers in order, synchronously;
 * `run(ms)` does the same but lets promise continuations run after each timer, as the real event
 * loop would, so that code which awaits between timers behaves as it does on the system clock.
 */
export class VirtualClock implements Clock {
  private nowMs: number;
  private seq = 0;
  private readonly heap = new TimerHeap();
  private live = 0;
  /** Cancelled timers still in the heap (they leave it when due, or at a compaction). */
  private dead = 0;

  private readonly turnEvery: number;
  private fired = 0;

  constructor(startMs = 1_700_000_000_000, opts: VirtualClockOptions = {}) {
    this.nowMs = startMs;
    this.turnEvery = opts.turnEvery ?? 1;
    if (!Number.isInteger(this.turnEvery) || this.turnEvery < 1) throw new RangeError(`turnEvery must be an integer ≥ 1, got ${opts.turnEvery}`);
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
    return this.live;
  }

  advance(ms: number): void {
    const until = this.nowMs + ms;
    while (this.fireNext(until));
    this.nowMs = until;
  }

  /** Like advance, with a turn of the event loop before the first timer and after each one (see VirtualClockOptions). */
  async run(ms: number): Promise<void> {
    const until = this.nowMs + ms;
    await turn();
    while (this.fireNext(until)) await (++this.fired % this.turnEvery === 0 ? turn() : microtasksDrained());
    this.nowMs = until;
  }

  /**
   * Runs time forward in steps of `stepMs` until `work` settles, and settles as it did; rejects if
   * it has not settled after `limitMs` of virtual time. For awaiting, in a test or a simulation,
   * anything whose progress hangs on this clock's timers.
   */
  async until<T>(work: Promise<T>, limitMs: number, stepMs = 10): Promise<T> {
    let settled = false;
    const watched = work.finally(() => (settled = true));
    watched.catch(() => {});
    const end = this.nowMs + limitMs;
    while (!settled && this.nowMs < end) await this.run(Math.min(stepMs, end - this.nowMs));
    await turn();
    if (!settled) throw new Error(`not settled within ${limitMs} ms of virtual time`);
    return watched;
  }

  /** Fires the next timer due by `until`; false if there is none. */
  private fireNext(until: number): boolean {
    for (;;) {
      const next = this.heap.peek();
      if (!next || next.at > until) return false;
      this.heap.pop();
      if (next.cancelled) {
        this.dead--;
        continue;
      }
      this.nowMs = next.at;
      if (next.periodMs === undefined) {
        next.cancelled = true;
        this.live--;
      } else {
        next.at += next.periodMs;
        this.heap.push(next);
      }
      next.fn();
      return true;
    }
  }

  private schedule(ms: number, fn: () => void, periodMs: number | undefined): Timer {
    const entry: Pending = { at: this.nowMs + Math.max(0, ms), seq: this.seq++, fn, periodMs, cancelled: false };
    this.heap.push(entry);
    this.live++;
    return {
      cancel: () => {
        if (entry.cancelled) return;
        entry.cancelled = true;
        // A cancelled timer due far ahead must not keep what its callback holds (a stopped node, say).
        entry.fn = noop;
        this.live--;
        this.dead++;
        if (this.dead > COMPACT_AT && this.dead > this.live) {
          this.heap.retain((p) => !p.cancelled);
          this.dead = 0;
        }
      },
    };
  }
}
