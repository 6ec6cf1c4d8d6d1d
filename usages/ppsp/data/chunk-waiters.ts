/**
 * Readers waiting for chunks that are not stored yet: each wait ends when the chunk is stored, after
 * its timeout, or when the swarm stops, whichever comes first. One timer per wait, cancelled when it
 * ends; the number of waits is bounded by the caller (one per open reader).
 */
import { ErrorCode, ReloadError, type Clock, type Timer } from '../../../overlay/index.js';

interface Wait {
  resolve(): void;
  reject(e: Error): void;
  timer: Timer;
}

export class ChunkWaiters {
  private readonly waits = new Map<number, Set<Wait>>();

  constructor(private readonly clock: Clock) {}

  /** Resolves once `notify(chunk)`; rejects with Request_Timeout after `timeoutMs`, or with the abort reason. */
  wait(chunk: number, timeoutMs: number, why: () => string, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason as Error);
      let set = this.waits.get(chunk);
      if (!set) this.waits.set(chunk, (set = new Set()));
      const onAbort = () => {
        wait.timer.cancel();
        this.remove(chunk, wait);
        reject(signal!.reason as Error);
      };
      const done = () => signal?.removeEventListener('abort', onAbort);
      const wait: Wait = {
        resolve: () => {
          done();
          resolve();
        },
        reject: (e) => {
          done();
          reject(e);
        },
        timer: this.clock.after(timeoutMs, () => {
          done();
          this.remove(chunk, wait);
          reject(new ReloadError(ErrorCode.Request_Timeout, `chunk ${chunk} did not arrive within ${Math.round(timeoutMs / 1000)} s: ${why()}`, 'chunk_timeout'));
        }),
      };
      set.add(wait);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Chunk `chunk` is stored: every wait for it ends. */
  notify(chunk: number): void {
    const set = this.waits.get(chunk);
    if (!set) return;
    this.waits.delete(chunk);
    for (const w of set) {
      w.timer.cancel();
      w.resolve();
    }
  }

  /** Ends every wait with `e` (the swarm stopped). */
  failAll(e: Error): void {
    const all = [...this.waits.values()].flatMap((s) => [...s]);
    this.waits.clear();
    for (const w of all) {
      w.timer.cancel();
      w.reject(e);
    }
  }

  private remove(chunk: number, wait: Wait): void {
    const set = this.waits.get(chunk);
    set?.delete(wait);
    if (set?.size === 0) this.waits.delete(chunk);
  }
}
