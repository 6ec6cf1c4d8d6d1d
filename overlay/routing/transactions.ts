/**
 * The transaction table: matches responses to outstanding requests by transaction id
 * (RFC 6940 §6.2), fails a request with Request_Timeout when its end-to-end timer runs out, and
 * bounds how many requests may be outstanding at once.
 */
import type { Clock, Timer } from '../clock.js';
import { ErrorCode, ReloadError } from '../errors.js';

export interface TransactionLimits {
  /** End-to-end timeout of one request, ms (config `requestTimeoutMs`). */
  timeoutMs: number;
  /** Outstanding requests at most (config `maxOutstandingRequests`); more fail at once. */
  maxOutstanding: number;
}

interface Pending<T> {
  resolve(value: T): void;
  reject(error: Error): void;
  timer: Timer;
}

export class TransactionTable<T> {
  private readonly pending = new Map<bigint, Pending<T>>();

  constructor(
    private readonly clock: Clock,
    private readonly limits: TransactionLimits,
  ) {}

  get outstanding(): number {
    return this.pending.size;
  }

  has(id: bigint): boolean {
    return this.pending.has(id);
  }

  /**
   * Registers a request before it is sent. The promise settles with the response, or rejects with
   * Request_Timeout after `timeoutMs` (default from the limits), or with the error given to `fail`.
   */
  begin(id: bigint, timeoutMs = this.limits.timeoutMs): Promise<T> {
    if (this.pending.size >= this.limits.maxOutstanding) {
      return Promise.reject(new ReloadError(ErrorCode.Request_Timeout, `${this.pending.size} requests already outstanding`, 'too_many_outstanding'));
    }
    if (this.pending.has(id)) return Promise.reject(new ReloadError(ErrorCode.Invalid_Message, 'transaction id already in use', 'duplicate_transaction'));
    return new Promise<T>((resolve, reject) => {
      const timer = this.clock.after(timeoutMs, () => {
        this.pending.delete(id);
        reject(new ReloadError(ErrorCode.Request_Timeout, `no response within ${timeoutMs} ms`));
      });
      this.pending.set(id, { resolve, reject, timer });
    });
  }

  /** Delivers a response; false when no request is waiting for it (late or unsolicited). */
  complete(id: bigint, value: T): boolean {
    const p = this.take(id);
    p?.resolve(value);
    return p !== undefined;
  }

  fail(id: bigint, error: Error): boolean {
    const p = this.take(id);
    p?.reject(error);
    return p !== undefined;
  }

  /** Fails every outstanding request (node shutting down). */
  failAll(error: Error): void {
    for (const id of [...this.pending.keys()]) this.fail(id, error);
  }

  private take(id: bigint): Pending<T> | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    this.pending.delete(id);
    p.timer.cancel();
    return p;
  }
}
