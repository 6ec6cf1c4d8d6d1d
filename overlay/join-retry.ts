/**
 * Joining again after a failed first join (`reload-ppsp node --retry-join`): a node started before
 * its bootstrap nodes (a whole overlay brought up at once, a bootstrap host rebooting) keeps
 * trying, with the reconnector's backoff, instead of giving up, as Consul's `-retry-join` does.
 * Only what waiting can cure is tried again: nothing answered, or nothing answered in time. A
 * refusal (a certificate the overlay does not accept, a Node-ID in use) ends the start at once.
 */
import type { Clock } from './clock.js';
import { ErrorCode, isReloadError } from './errors.js';
import type { Logger } from './log.js';
import { RECONNECT_INITIAL_MS, RECONNECT_MAX_MS } from './reconnector.js';
import { Backoff } from './util/backoff.js';

/** Could trying again later succeed? Nobody reached, or no answer in time. */
export function joinRetryable(e: unknown): boolean {
  return isReloadError(e) && (e.code === ErrorCode.Not_Found || e.code === ErrorCode.Request_Timeout);
}

/**
 * Runs `attempt` until it succeeds. With `retry` false, or for a failure waiting cannot cure, the
 * failure is thrown at once; otherwise it is logged with the wait before the next try. An abort of
 * `signal` ends the wait and throws its reason.
 */
export async function joinWithRetries(attempt: () => Promise<void>, opts: { retry: boolean; clock: Clock; log: Logger; random: () => number; signal?: AbortSignal }): Promise<void> {
  const backoff = new Backoff({ initialMs: RECONNECT_INITIAL_MS, maxMs: RECONNECT_MAX_MS, random: opts.random });
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (e) {
      if (!opts.retry || opts.signal?.aborted || !joinRetryable(e)) throw e;
      const waitMs = backoff.next();
      opts.log.warn(`join attempt ${tries} failed: ${(e as Error).message}; trying again in ${(waitMs / 1000).toFixed(1)} s`);
      await new Promise<void>((resolve) => {
        // The abort listener goes when the wait ends either way: a node retrying for hours must
        // not pile one up on its signal per try.
        const aborted = () => {
          timer.cancel();
          resolve();
        };
        const timer = opts.clock.after(waitMs, () => {
          opts.signal?.removeEventListener('abort', aborted);
          resolve();
        });
        opts.signal?.addEventListener('abort', aborted, { once: true });
      });
      opts.signal?.throwIfAborted();
    }
  }
}
