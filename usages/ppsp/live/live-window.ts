/**
 * The chunks of a live swarm a peer holds: at most the discard window behind the newest chunk it
 * has (RFC 7574 §6.1.3), older ones dropped as newer ones come. Readers (the HTTP stream) wait on
 * `changed`, which fires once per added chunk.
 */
import { EventEmitter } from 'node:events';
import type { LiveChunk } from './live-chunk.js';

/** A held chunk and when it arrived here (local clock). */
export interface HeldChunk extends LiveChunk {
  arrivedAt: number;
}

export class LiveWindow extends EventEmitter {
  private readonly chunks = new Map<number, HeldChunk>();
  /** The newest chunk held (-1: none yet). */
  newest = -1;

  constructor(readonly windowChunks: number) {
    super();
  }

  /** The oldest position still inside the window (what is older is gone for good). */
  get oldest(): number {
    return Math.max(0, this.newest - this.windowChunks + 1);
  }

  get size(): number {
    return this.chunks.size;
  }

  has(index: number): boolean {
    return this.chunks.has(index);
  }

  get(index: number): HeldChunk | undefined {
    return this.chunks.get(index);
  }

  /** Is `index` a position a peer may still ask of us or send us? */
  inWindow(index: number): boolean {
    return index >= this.oldest && index <= this.newest + this.windowChunks;
  }

  /** Adds a chunk (checked by the caller); false if held already or behind the window. */
  add(chunk: HeldChunk): boolean {
    if (this.chunks.has(chunk.index) || chunk.index < this.oldest) return false;
    this.chunks.set(chunk.index, chunk);
    if (chunk.index > this.newest) {
      const before = this.oldest;
      this.newest = chunk.index;
      for (let i = before; i < this.oldest; i++) this.chunks.delete(i);
    }
    this.emit('changed', chunk.index);
    return true;
  }

  /** Held chunks as runs of consecutive indices, oldest first (for HAVE on a new channel). */
  runs(): { first: number; last: number }[] {
    const out: { first: number; last: number }[] = [];
    for (let i = this.oldest; i <= this.newest; i++) {
      if (!this.chunks.has(i)) continue;
      const last = out[out.length - 1];
      if (last && last.last === i - 1) last.last = i;
      else out.push({ first: i, last: i });
    }
    return out;
  }

  /** The source's chunk rate over the window's timestamps, chunks per 1,000 s (0: too few to tell). */
  chunksPerKilosecond(): number {
    let first: HeldChunk | undefined;
    for (let i = this.oldest; i <= this.newest && !first; i++) first = this.chunks.get(i);
    const last = this.chunks.get(this.newest);
    if (!first || !last || last.index === first.index || last.timestampMs <= first.timestampMs) return 0;
    return Math.round(((last.index - first.index) * 1_000_000) / (last.timestampMs - first.timestampMs));
  }
}
