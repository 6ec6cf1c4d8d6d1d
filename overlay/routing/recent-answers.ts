/**
 * Duplicate requests (RFC 6940 §6.2.1): an origin retransmits with the same transaction id until it
 * gets an answer, so a destination remembers what it answered for a while and sends the same answer
 * again instead of running the method twice (a second Store must not bump a generation counter).
 * Bounded in entries and in time.
 */
import type { Clock } from '../clock.js';
import { LruCache } from '../util/lru.js';
import { keepMessage, keptMessage, type KeptMessage } from '../wire/kept-message.js';
import type { WireMessage } from '../wire/message.js';

/** How long an answer is kept for duplicates: RFC 6940's longest request lifetime. */
export const ANSWER_MEMORY_MS = 15_000;

type Entry = { state: 'busy'; at: number } | { state: 'done'; at: number; answer: KeptMessage };

export class RecentAnswers {
  private readonly entries: LruCache<string, Entry>;

  constructor(
    private readonly clock: Clock,
    capacity: number,
  ) {
    this.entries = new LruCache(capacity);
  }

  /**
   * Registers a request about to be handled. Returns 'new' when it must be handled, 'busy' when the
   * same request is being handled now (drop the duplicate), or the answer to send again.
   */
  begin(key: string): 'new' | 'busy' | WireMessage {
    const now = this.clock.now();
    this.expire(now);
    const seen = this.entries.get(key);
    if (seen && now - seen.at < ANSWER_MEMORY_MS) return seen.state === 'busy' ? 'busy' : keptMessage(seen.answer);
    this.entries.set(key, { state: 'busy', at: now });
    return 'new';
  }

  /** Keeps the answer for ANSWER_MEMORY_MS, off the encoder's buffers (see kept-message.ts). */
  finish(key: string, answer: WireMessage): void {
    this.entries.set(key, { state: 'done', at: this.clock.now(), answer: keepMessage(answer) });
  }

  get size(): number {
    return this.entries.size;
  }

  /** Forgets entries past ANSWER_MEMORY_MS from the least recently used end (a busy node holds only the last 15 s). */
  private expire(now: number): void {
    for (const [key, entry] of this.entries.entries()) {
      if (now - entry.at < ANSWER_MEMORY_MS) break;
      this.entries.delete(key);
    }
  }
}
