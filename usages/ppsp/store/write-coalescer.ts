/**
 * Batched writes and syncs for a download's part file. Chunks that arrive in the same event-loop
 * turn, or while every write slot is busy, are written together: one writev per run of consecutive
 * indices. Written chunks are made durable in batches — an fdatasync of the part file, then the
 * owner persists their bits (`persist`) — every `syncEveryChunks` chunks, after `syncIntervalMs`
 * of quiet, and on `flush()`. A bit is therefore only ever persisted after the sync that covers
 * its chunk (the crash-safety rule of chunk-store.ts).
 */

import type { FileHandle } from 'node:fs/promises';
import PQueue from 'p-queue';
import type { Clock, Timer } from '../../../overlay/index.js';
import { MAX_CHUNKS_PER_IO } from './chunk-read-path.js';
import { dropBytes, fsStep, messageOf } from './store-fs.js';

/** What the coalescer needs from the store that owns it. */
export interface WriteCoalescerOptions {
  /** The part file, open for writing, and its path (for errors). */
  data: FileHandle;
  path: string;
  /** The sidecar's path, named in a failed batch's error. */
  statePath: string;
  chunkSize: number;
  syncEveryChunks: number;
  syncIntervalMs: number;
  maxWritesInFlight: number;
  clock: Clock;
  /** Chunk `index` is in the file: called before its writer resumes. */
  written(index: number): void;
  /** Persists the bits of `batch`, whose data is already synced. */
  persist(batch: readonly number[]): Promise<void>;
}

/** A chunk accepted by `write()` that waits for its run; settling it settles the write. */
interface StagedChunk {
  bytes: Uint8Array;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class WriteCoalescer {
  /** Written since the last sync: the next batch to persist. */
  private pending: number[] = [];
  /** Chunks accepted but not yet written, staged or in a run being written; settles once it is in the file. */
  private readonly inFlight = new Map<number, Promise<void>>();
  /**
   * Chunks accepted whose run has not started. They hold the caller's buffers, not copies, so
   * staging adds no memory beyond what the callers' unsettled writes already hold.
   */
  private readonly staged = new Map<number, StagedChunk>();
  /** A drain of the staged chunks is due at the end of this event-loop turn. */
  private drainDue = false;
  /** Bounds the runs in flight; each task takes its run only when it starts. */
  private readonly queue: PQueue;
  /** See `dataWrites`. */
  private writeCalls = 0;
  /** Serializes bitmap persistence: two flushes never interleave their sync and sidecar write. */
  private flushChain: Promise<void> = Promise.resolve();
  /** A batch sync started by write() is running; the next one starts after it (batches grow meanwhile). */
  private flushing = false;
  private timer: Timer | undefined;
  /** A failed sync is sticky: after a failed fdatasync the kernel may have dropped the dirty pages, so a retry proves nothing. */
  private failed: Error | undefined;

  constructor(private readonly options: WriteCoalescerOptions) {
    this.queue = new PQueue({ concurrency: options.maxWritesInFlight });
  }

  /** Positioned writes issued on the part file (see DownloadChunkStore.dataWrites). */
  get dataWrites(): number {
    return this.writeCalls;
  }

  /** The sticky failure of an earlier batch, if any. */
  get failure(): Error | undefined {
    return this.failed;
  }

  /**
   * Writes chunk `index` (checked by the caller) with the next run; resolves once it is in the file.
   * A chunk already being written is not written twice. Starts a batch sync once enough chunks wait.
   */
  async write(index: number, bytes: Uint8Array): Promise<void> {
    await (this.inFlight.get(index) ?? this.stage(index, bytes));
    // The sync runs behind the writer: a download must not stall on fdatasync every batch. Its
    // failure is sticky and refuses the next write, flush or close.
    if (this.pending.length >= this.options.syncEveryChunks && !this.flushing) {
      this.flushing = true;
      this.flush()
        .catch(() => {})
        .finally(() => (this.flushing = false));
    }
  }

  /** Syncs every chunk written so far and persists its bit. Serialized with other flushes. */
  flush(): Promise<void> {
    const run = this.flushChain.then(() => this.flushBatch());
    this.flushChain = run.catch(() => {});
    return run;
  }

  /** Waits for every accepted chunk's write, staged or running, to succeed or fail. */
  async settled(): Promise<void> {
    await Promise.allSettled(this.inFlight.values());
  }

  /** Cancels the quiet-time sync (on close, after the final flush). */
  stopTimer(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private stage(index: number, bytes: Uint8Array): Promise<void> {
    const written = new Promise<void>((resolve, reject) => this.staged.set(index, { bytes, resolve, reject }));
    const task = written.finally(() => this.inFlight.delete(index));
    this.inFlight.set(index, task);
    if (!this.drainDue) {
      // Deferred to the end of the turn so every chunk that arrives in it can join one run.
      this.drainDue = true;
      setImmediate(() => {
        this.drainDue = false;
        this.scheduleRun();
      });
    }
    return task;
  }

  /** Queues a run unless one is already waiting: that one will take the chunks staged meanwhile. */
  private scheduleRun(): void {
    if (this.staged.size > 0 && this.queue.size === 0) void this.queue.add(() => this.writeRun());
  }

  /** Never rejects: a failure belongs to the run's chunks, whose writers see it. */
  private async writeRun(): Promise<void> {
    const run = this.takeRun();
    this.scheduleRun();
    if (!run) return;
    try {
      if (this.failed) throw this.failed;
      await this.writeAll(run.chunks.map((c) => c.bytes), run.first * this.options.chunkSize);
    } catch (e) {
      for (const c of run.chunks) c.reject(e);
      return;
    }
    // Marked before the writers resume, so `settled()` in close() already sees the batch.
    run.chunks.forEach((c, i) => {
      this.options.written(run.first + i);
      this.pending.push(run.first + i);
      c.resolve();
    });
    if (this.options.syncIntervalMs > 0 && !this.timer) {
      // The failure is recorded by flushBatch and surfaces on the next write, flush or close.
      this.timer = this.options.clock.after(this.options.syncIntervalMs, () => {
        this.timer = undefined;
        this.flush().catch(() => {});
      });
    }
  }

  /**
   * Takes the oldest staged chunk (so none waits behind later arrivals) and the staged chunks
   * consecutive with it, at most MAX_CHUNKS_PER_IO.
   */
  private takeRun(): { first: number; chunks: StagedChunk[] } | undefined {
    const oldest = this.staged.keys().next();
    if (oldest.done) return undefined;
    let first = oldest.value;
    let last = first;
    while (last - first + 1 < MAX_CHUNKS_PER_IO && this.staged.has(last + 1)) last++;
    while (last - first + 1 < MAX_CHUNKS_PER_IO && this.staged.has(first - 1)) first--;
    const chunks: StagedChunk[] = [];
    for (let index = first; index <= last; index++) {
      chunks.push(this.staged.get(index)!);
      this.staged.delete(index);
    }
    return { first, chunks };
  }

  /** Writes `buffers` back to back from byte `position`; a short writev continues where it stopped. */
  private async writeAll(buffers: Uint8Array[], position: number): Promise<void> {
    for (let rest = buffers, at = position; rest.length > 0; ) {
      this.writeCalls++;
      const { bytesWritten } = await fsStep('write', this.options.path, () => this.options.data.writev(rest, at));
      at += bytesWritten;
      rest = dropBytes(rest, bytesWritten);
    }
  }

  private async flushBatch(): Promise<void> {
    this.stopTimer();
    if (this.failed) throw this.failed;
    if (this.pending.length === 0) return;
    // Only writes that completed before the sync starts are in the batch, so the sync covers them all.
    const batch = this.pending;
    this.pending = [];
    try {
      await this.options.data.datasync();
      await this.options.persist(batch);
    } catch (e) {
      this.failed = new Error(`chunk store: cannot persist ${batch.length} chunks to ${this.options.path} / ${this.options.statePath}: ${messageOf(e)}`, { cause: e });
      throw this.failed;
    }
  }
}
