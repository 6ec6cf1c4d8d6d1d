import type { VirtualClock } from '../../overlay/clock.js';

/** Polls `cond` every 10 ms until it holds; fails after `timeoutMs` with `what` in the message. */
export async function waitFor(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Like waitFor, for a condition that must ask something asynchronously (a node's API); `everyMs`
 * spaces out asks that cost (one that starts processes).
 */
export async function waitForAsync(cond: () => Promise<boolean>, timeoutMs = 5000, what = 'condition', everyMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Like waitFor on a virtual clock: moves its time 50 ms at a time until `cond` holds; fails after `limitMs` of it. */
export async function waitForVirtual(clock: VirtualClock, cond: () => boolean, limitMs: number, what = 'condition'): Promise<void> {
  const end = clock.now() + limitMs;
  while (!cond()) {
    if (clock.now() >= end) throw new Error(`${what}: not within ${limitMs} ms of virtual time`);
    await clock.run(50);
  }
}
