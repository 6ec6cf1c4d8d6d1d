/**
 * The open readers of one swarm (a player's HTTP response each) and the priority windows they ask
 * of the piece picker. Each reader has a read position (a chunk) and a read rate measured from the
 * bytes it was given. Its critical window runs from the position for a couple of seconds of reading
 * (at least MIN_CRITICAL_CHUNKS), its read-ahead window on for a longer stretch; the first and last
 * chunks come early too (an MP4 written without `+faststart` has its index at the end, and a player
 * reads it before the first frame). A seek is just a new position: the windows move at once.
 *
 * Pure bookkeeping, time passed in.
 */
import { RateWindow } from './rate-window.js';
import type { PriorityWindow } from './piece-picker.js';

/** Chunks in a critical window at least, whatever the measured rate. */
export const MIN_CRITICAL_CHUNKS = 4;
/**
 * Chunks in a critical window at most (1 MiB at 16 KiB chunks): a reader catching up on chunks
 * held already reads far faster than it plays, and its rate says so for a while.
 */
export const MAX_CRITICAL_CHUNKS = 64;
/** Seconds of reading a critical window covers. */
export const CRITICAL_SECONDS = 2;
/** Chunks in a read-ahead window at least. */
export const MIN_READ_AHEAD_CHUNKS = 32;
/** Seconds of reading a read-ahead window covers. */
export const READ_AHEAD_SECONDS = 20;
/** Chunks in one reader's windows at most (the picker caps all windows together too). */
export const MAX_READER_WINDOW_CHUNKS = 512;
/** Chunks at each end of the file that are fetched early. */
export const EDGE_CHUNKS = 2;

export interface StreamReader {
  /** The chunk the reader will read next. */
  moveTo(chunk: number): void;
  /** Counts bytes handed to the reader (its read rate). */
  delivered(bytes: number): void;
  close(): void;
}

interface ReaderState {
  chunk: number;
  rate: RateWindow;
  /** Order of opening: a newer reader is a seek, what the player waits for now. */
  serial: number;
}

export class StreamReaders {
  private readonly readers = new Set<ReaderState>();
  private opened = 0;

  /** @param changed called when the windows may have moved (a reader opened, moved or closed) */
  constructor(
    private readonly chunkSize: number,
    private readonly now: () => number,
    private readonly changed: () => void,
  ) {}

  get size(): number {
    return this.readers.size;
  }

  /** The position of the newest reader (the player's latest seek or read), if any. */
  newestPosition(): number | undefined {
    let newest: ReaderState | undefined;
    for (const r of this.readers) if (!newest || r.serial > newest.serial) newest = r;
    return newest?.chunk;
  }

  open(chunk: number): StreamReader {
    const state: ReaderState = { chunk, rate: new RateWindow(), serial: this.opened++ };
    this.readers.add(state);
    this.changed();
    return {
      moveTo: (c) => {
        if (c === state.chunk) return;
        state.chunk = c;
        this.changed();
      },
      delivered: (bytes) => state.rate.add(bytes, this.now()),
      close: () => {
        if (this.readers.delete(state)) this.changed();
      },
    };
  }

  /**
   * The priority windows over `chunkCount` chunks: every critical window, then read-ahead, then the
   * file's ends; the newest reader's first (a player that seeks opens a new connection, and often
   * leaves the old one open a while).
   */
  windows(chunkCount: number, nowMs: number): PriorityWindow[] {
    if (chunkCount === 0) return [];
    const critical: PriorityWindow[] = [];
    const ahead: PriorityWindow[] = [];
    const newestFirst = [...this.readers].sort((a, b) => b.serial - a.serial);
    for (const r of newestFirst) {
      const perSecond = r.rate.perSecond(nowMs) / this.chunkSize;
      const criticalChunks = Math.min(MAX_CRITICAL_CHUNKS, Math.max(MIN_CRITICAL_CHUNKS, Math.ceil(perSecond * CRITICAL_SECONDS)));
      const aheadChunks = Math.min(MAX_READER_WINDOW_CHUNKS, Math.max(MIN_READ_AHEAD_CHUNKS, Math.ceil(perSecond * READ_AHEAD_SECONDS)));
      const last = r.chunk + criticalChunks - 1;
      critical.push({ first: r.chunk, last, critical: true });
      if (aheadChunks > criticalChunks) ahead.push({ first: last + 1, last: r.chunk + aheadChunks - 1, critical: false });
    }
    const edges: PriorityWindow[] = [
      { first: 0, last: EDGE_CHUNKS - 1, critical: false },
      { first: chunkCount - EDGE_CHUNKS, last: chunkCount - 1, critical: false },
    ];
    return [...critical, ...ahead, ...edges];
  }
}
