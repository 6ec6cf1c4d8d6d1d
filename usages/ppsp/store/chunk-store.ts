/**
 * Chunks of one swarm on disk (RFC 7574 §4 chunks; the resume requirement of issue 5).
 *
 * A seeder reads chunks from its complete file (`ChunkStore.openComplete`). A leecher writes
 * chunks it has already verified against the Merkle root into `OUT.part`, records which ones are
 * safely on disk in the sidecar `OUT.part.state`, uploads from them while it downloads, and on
 * `finish()` renames the part file to `OUT` (`ChunkStore.openDownload`).
 *
 * Crash safety, the one rule: a bit in the persisted bitmap is only ever written after an
 * fdatasync of the data file that covers its chunk. Syncing after every chunk would cost one
 * disk flush per 16 KiB, so bits are persisted in batches: every `syncEveryChunks` chunks, after
 * `syncIntervalMs` of quiet, on `flush()`, and on `close()`/`finish()`. The trade-off is that a
 * crash loses at most the chunks of the unsynced batch — they read as missing after a restart and
 * are fetched again — but a chunk whose bytes never reached the disk is never marked verified.
 *
 * Memory is two bitmaps of ceil(chunkCount/8) bytes (written, and persisted) plus the indices of
 * the current batch; chunk bytes are never cached.
 */

import { constants as fsConstants } from 'node:fs';
import { open, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import PQueue from 'p-queue';
import { type Clock, ErrorCode, invalidMessage, type Logger, ReloadError, silentLogger, systemClock, type Timer } from '../../../overlay/index.js';
import {
  ChunkBitmap,
  checkGeometry,
  checkIndex,
  checkSwarmId,
  chunkLengthOf,
  chunkNotFound,
  decodeSidecar,
  encodeSidecar,
  MAX_SWARM_ID_CHARS,
  type ChunkGeometry,
  type SidecarHeader,
} from './chunk-store-state.js';

/**
 * Default batch size: persist the bitmap after this many chunks are written (1024 × 16 KiB = 16 MiB).
 * The batch sync runs behind the writer, so a large batch costs no download time; what it costs is
 * the crash window, at most this many chunks that read as missing after a restart and are fetched
 * again. Fewer, larger syncs also let the file system write the data back in bigger pieces.
 */
export const DEFAULT_SYNC_EVERY_CHUNKS = 1024;

/** Default longest time, in ms, a written chunk waits before its bit is persisted (0 disables the timer). */
export const DEFAULT_SYNC_INTERVAL_MS = 1_000;

/** Default number of positioned writes (runs of chunks) allowed in flight at once; further chunks wait, staged. */
export const DEFAULT_MAX_WRITES_IN_FLIGHT = 8;

/**
 * Most chunks one positioned write or `readRange` covers. The cost of small file I/O is per call
 * (16,384 writes of 16 KiB took 164 ms, 1,024 of 256 KiB took 56 ms), so 64 chunks (1 MiB at the
 * usual 16 KiB) already earns most of the gain; more would only hold back the first chunk of a run
 * and grow the buffer a range read allocates. It is also far below IOV_MAX (1024) for writev.
 */
export const MAX_CHUNKS_PER_IO = 64;

/** Suffix of the partial data file beside the output path. */
export const PART_SUFFIX = '.part';

/** Suffix of the sidecar (appended to the part file's path). */
export const STATE_SUFFIX = '.state';

/** Options of a seeder's store: the swarm's geometry, which the file's size must match. */
export interface CompleteStoreOptions {
  /** Bytes per chunk (the swarm's metadata; 16 KiB by default in the usage). */
  chunkSize: number;
  /** Size of the file in bytes. */
  contentLength: number;
}

/** Options of a leecher's store. */
export interface DownloadStoreOptions {
  /** The swarm ID (lowercase hex) recorded in the sidecar, so a resume never mixes two swarms. */
  swarmId: string;
  /** Bytes per chunk. */
  chunkSize: number;
  /** Size of the finished file in bytes. */
  contentLength: number;
  /** ceil(contentLength / chunkSize), from the swarm's metadata; checked against the other two. */
  chunkCount: number;
  /** Discard an existing partial download (of this or any swarm) instead of resuming it. Default false. */
  restart?: boolean;
  /** Persist the bitmap after this many written chunks. Default DEFAULT_SYNC_EVERY_CHUNKS. */
  syncEveryChunks?: number;
  /** Persist the bitmap at most this many ms after a chunk is written; 0 disables. Default DEFAULT_SYNC_INTERVAL_MS. */
  syncIntervalMs?: number;
  /** Positioned writes (runs of consecutive chunks) in flight at once. Default DEFAULT_MAX_WRITES_IN_FLIGHT. */
  maxWritesInFlight?: number;
  /** Arms the sync timer. Default the system clock. */
  clock?: Clock;
  /** Logs starting over and resuming (`reload:ppsp:chunk-store`). Default silent. */
  log?: Logger;
}

/**
 * An existing partial download cannot be resumed as asked: its sidecar belongs to another swarm or
 * geometry, is not a sidecar, or its data file has the wrong size. `path` names the file; opening
 * again with `{restart: true}` discards it.
 */
export class ResumeConflictError extends Error {
  override name = 'ResumeConflictError';
  constructor(
    readonly path: string,
    why: string,
  ) {
    super(`cannot resume from ${path}: ${why} (open with restart to start over)`);
  }
}

/**
 * The chunks of one swarm in one file. Both kinds share the read path; `has` decides what may be
 * read. Open with `ChunkStore.openComplete` (seeder) or `ChunkStore.openDownload` (leecher).
 */
export abstract class ChunkStore implements ChunkGeometry {
  readonly chunkSize: number;
  readonly contentLength: number;
  readonly chunkCount: number;
  /** Set once the handles are closed (or about to be); reads and writes are refused from then on. */
  protected closing = false;

  /** Opens a seeder's complete file read-only; its size must equal `contentLength`. */
  static async openComplete(path: string, options: CompleteStoreOptions): Promise<CompleteChunkStore> {
    const geometry = checkGeometry(options.chunkSize, options.contentLength);
    const handle = await fsStep('open', path, () => open(path, 'r'));
    try {
      const info = await fsStep('stat', path, () => handle.stat());
      if (!info.isFile()) throw new Error(`chunk store: ${path} is not a regular file`);
      if (info.size !== geometry.contentLength) throw new Error(`chunk store: ${path} is ${info.size} bytes, the swarm says ${geometry.contentLength}`);
      return new CompleteChunkStore(path, geometry, handle);
    } catch (e) {
      await handle.close().catch(() => {});
      throw e;
    }
  }

  /**
   * Opens (or resumes) a download into `outPath + '.part'` with its sidecar `outPath + '.part.state'`.
   * Resumes only a sidecar of the same swarm ID, chunk size and content length beside a part file of
   * the right size; anything else of ours is a ResumeConflictError unless `restart` is set. A sidecar
   * whose part file is gone (for example after a finish interrupted before the sidecar was removed)
   * has nothing to resume, so the download starts over. The caller checks `outPath` itself first;
   * `finish()` replaces it.
   */
  static openDownload(outPath: string, options: DownloadStoreOptions): Promise<DownloadChunkStore> {
    return DownloadChunkStore.open(outPath, options);
  }

  protected constructor(
    /** The file chunks are read from (the part file while downloading). */
    readonly path: string,
    geometry: ChunkGeometry,
    protected readonly data: FileHandle,
  ) {
    this.chunkSize = geometry.chunkSize;
    this.contentLength = geometry.contentLength;
    this.chunkCount = geometry.chunkCount;
  }

  /** Whether chunk `index` may be read. Never throws; false outside the swarm. */
  abstract has(index: number): boolean;

  /** Chunks that may be read. */
  abstract get count(): number;

  /** Closes every file handle. Idempotent. */
  abstract close(): Promise<void>;

  /** Byte length of chunk `index`: `chunkSize`, or less for the last chunk. */
  chunkLength(index: number): number {
    checkIndex(this, index);
    return chunkLengthOf(this, index);
  }

  /**
   * The bytes of chunk `index`, exactly `chunkLength(index)` of them, read from disk into a fresh
   * buffer. Invalid_Message (`out_of_range`) for an index outside the swarm, Not_Found for a chunk
   * not held.
   */
  read(index: number): Promise<Buffer> {
    return this.readRange(index, index);
  }

  /**
   * The bytes of chunks `first`..`last` (inclusive) back to back, read from disk into one fresh
   * buffer with one positioned read: an uploader serving several chunks pays for one file-system
   * call instead of one per chunk, and slices the result. Invalid_Message (`out_of_range`) for an
   * index outside the swarm or `last < first`, RangeError for more than MAX_CHUNKS_PER_IO chunks,
   * Not_Found for a chunk in the range not held.
   */
  async readRange(first: number, last: number): Promise<Buffer> {
    this.checkReadable(first, last);
    const out = Buffer.allocUnsafe((last - first) * this.chunkSize + chunkLengthOf(this, last));
    await this.readAll([out], first, last);
    return out;
  }

  /**
   * Reads chunks `first`, `first + 1`, ... into `targets`, one chunk each and exactly its length,
   * with one vectored read: an uploader can read straight into the frames it will send, past their
   * headers, and copy nothing. Errors as readRange; RangeError for a target of the wrong length.
   */
  async readChunksInto(first: number, targets: Uint8Array[]): Promise<void> {
    const last = first + targets.length - 1;
    this.checkReadable(first, last);
    targets.forEach((t, i) => {
      if (t.length !== chunkLengthOf(this, first + i)) throw new RangeError(`chunk store: a target of ${t.length} bytes for chunk ${first + i} of ${chunkLengthOf(this, first + i)}`);
    });
    await this.readAll(targets, first, last);
  }

  private checkReadable(first: number, last: number): void {
    checkIndex(this, first);
    checkIndex(this, last);
    if (last < first) throw invalidMessage(`chunk range ${first}..${last} is reversed`, 'out_of_range');
    if (last - first >= MAX_CHUNKS_PER_IO) throw new RangeError(`chunk store: range ${first}..${last} is over ${MAX_CHUNKS_PER_IO} chunks`);
    for (let index = first; index <= last; index++) if (!this.has(index)) throw chunkNotFound(index);
    this.checkOpen();
  }

  /** Fills `buffers` back to back from chunk `first` on; a short read continues where it stopped. */
  private async readAll(buffers: Uint8Array[], first: number, last: number): Promise<void> {
    const start = first * this.chunkSize;
    for (let rest = buffers, at = start; rest.length > 0; ) {
      const { bytesRead } = await fsStep('read', this.path, () => this.data.readv(rest, at));
      // A short file here means someone truncated it under us; returning zeros would serve garbage.
      if (bytesRead === 0) throw new Error(`chunk store: ${this.path} ends at byte ${at}, chunks ${first}..${last} need bytes from ${start}`);
      at += bytesRead;
      rest = dropBytes(rest, bytesRead);
    }
  }

  protected checkOpen(): void {
    if (this.closing) throw new Error(`chunk store: ${this.path} is closed`);
  }
}

/** A seeder's complete file: every chunk is present. */
export class CompleteChunkStore extends ChunkStore {
  private closed: Promise<void> | undefined;

  /** Use `ChunkStore.openComplete`. */
  constructor(path: string, geometry: ChunkGeometry, data: FileHandle) {
    super(path, geometry, data);
  }

  has(index: number): boolean {
    return Number.isSafeInteger(index) && index >= 0 && index < this.chunkCount;
  }

  get count(): number {
    return this.chunkCount;
  }

  close(): Promise<void> {
    this.closing = true;
    this.closed ??= fsStep('close', this.path, () => this.data.close());
    return this.closed;
  }
}

/** A leecher's partial file plus the sidecar that says which chunks are verified and durable. */
export class DownloadChunkStore extends ChunkStore {
  /** The finished file's path; the part file is renamed to it by `finish()`. */
  readonly outPath: string;
  /** The sidecar's path. */
  readonly statePath: string;
  readonly swarmId: string;
  /** Chunks whose data write completed: readable, uploadable, counted. */
  private readonly written: ChunkBitmap;
  /** Chunks whose data was synced and whose bit may therefore be (or has been) persisted. */
  private readonly persisted: ChunkBitmap;
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
  private failure: Error | undefined;
  private closed: Promise<void> | undefined;
  private readonly syncEveryChunks: number;
  private readonly syncIntervalMs: number;
  private readonly clock: Clock;

  private constructor(
    outPath: string,
    geometry: ChunkGeometry,
    data: FileHandle,
    private readonly state: FileHandle,
    private readonly headerLength: number,
    header: SidecarHeader,
    bitmap: ChunkBitmap,
    options: DownloadStoreOptions,
  ) {
    super(outPath + PART_SUFFIX, geometry, data);
    this.outPath = outPath;
    this.statePath = outPath + PART_SUFFIX + STATE_SUFFIX;
    this.swarmId = header.swarmId;
    this.persisted = bitmap;
    this.written = new ChunkBitmap(bitmap.size, bitmap.bytes);
    this.syncEveryChunks = options.syncEveryChunks ?? DEFAULT_SYNC_EVERY_CHUNKS;
    this.syncIntervalMs = options.syncIntervalMs ?? DEFAULT_SYNC_INTERVAL_MS;
    this.clock = options.clock ?? systemClock;
    this.queue = new PQueue({ concurrency: options.maxWritesInFlight ?? DEFAULT_MAX_WRITES_IN_FLIGHT });
  }

  /** See `ChunkStore.openDownload`. */
  static async open(outPath: string, options: DownloadStoreOptions): Promise<DownloadChunkStore> {
    checkSwarmId(options.swarmId);
    const geometry = checkGeometry(options.chunkSize, options.contentLength, options.chunkCount);
    checkPositive('syncEveryChunks', options.syncEveryChunks, 1);
    checkPositive('syncIntervalMs', options.syncIntervalMs, 0);
    checkPositive('maxWritesInFlight', options.maxWritesInFlight, 1);
    const log = (options.log ?? silentLogger).child('ppsp:chunk-store');
    const header: SidecarHeader = { swarmId: options.swarmId, chunkSize: geometry.chunkSize, contentLength: geometry.contentLength };
    const partPath = outPath + PART_SUFFIX;
    const statePath = partPath + STATE_SUFFIX;

    if (!options.restart) {
      const resumed = await resume(partPath, statePath, header, geometry);
      if (resumed) {
        log.info(`resuming ${partPath}: ${resumed.bitmap.count}/${geometry.chunkCount} chunks verified`);
        return new DownloadChunkStore(outPath, geometry, resumed.data, resumed.state, resumed.headerLength, header, resumed.bitmap, options);
      }
    }
    log.info(`starting ${partPath} afresh (${geometry.chunkCount} chunks)`);
    const fresh = await startOver(partPath, statePath, header, geometry);
    return new DownloadChunkStore(outPath, geometry, fresh.data, fresh.state, fresh.headerLength, header, fresh.bitmap, options);
  }

  has(index: number): boolean {
    return this.written.has(index);
  }

  /** Chunks written (and so readable); some of the latest may not be persisted yet. */
  get count(): number {
    return this.written.count;
  }

  /** Chunks whose bits are persisted behind a data sync: what a restart would find. */
  get persistedCount(): number {
    return this.persisted.count;
  }

  /**
   * Positioned writes issued on the data file: one per run of consecutive chunks (more if the
   * kernel writes a run short). Against `count` it shows how well chunk writes coalesce.
   */
  get dataWrites(): number {
    return this.writeCalls;
  }

  /** Whether every chunk is written, so `finish()` may run. */
  get complete(): boolean {
    return this.written.count === this.chunkCount;
  }

  /** Indices of chunks not written yet, ascending (chunks written meanwhile are skipped). */
  missing(): IterableIterator<number> {
    return this.written.missing();
  }

  /**
   * Writes chunk `index`, which the caller has verified against the swarm's Merkle root, at byte
   * `index * chunkSize`. Resolves once the bytes are in the file (readable by `read`); the bit is
   * persisted with the next batch. Index and length are checked before any I/O: Invalid_Message
   * (`out_of_range`, `bad_chunk_length`) leaves both files untouched. A chunk already written, or
   * being written, is not written twice. Chunks staged in the same event-loop turn, or while every
   * write slot is busy, are written together: one writev per run of consecutive indices.
   */
  async write(index: number, bytes: Uint8Array): Promise<void> {
    checkIndex(this, index);
    const expected = chunkLengthOf(this, index);
    if (!(bytes instanceof Uint8Array) || bytes.length !== expected) {
      throw invalidMessage(`chunk ${index} must be ${expected} bytes, got ${bytes instanceof Uint8Array ? bytes.length : typeof bytes}`, 'bad_chunk_length');
    }
    this.checkUsable();
    if (this.written.has(index)) return;
    await (this.inFlight.get(index) ?? this.stage(index, bytes));
    // The sync runs behind the writer: a download must not stall on fdatasync every batch. Its
    // failure is sticky and refuses the next write, flush or close.
    if (this.pending.length >= this.syncEveryChunks && !this.flushing) {
      this.flushing = true;
      this.flush()
        .catch(() => {})
        .finally(() => (this.flushing = false));
    }
  }

  /**
   * Makes every chunk written so far durable and persists its bit: fdatasync the data file, then
   * write the changed bitmap bytes into the sidecar and sync it. Serialized with other flushes.
   */
  flush(): Promise<void> {
    const run = this.flushChain.then(() => this.flushBatch());
    this.flushChain = run.catch(() => {});
    return run;
  }

  /**
   * Completes the download: waits for writes in flight, syncs, closes the handles, renames the part
   * file to `outPath` (atomic on one file system) and removes the sidecar. Not_Found (`incomplete`)
   * if chunks are missing; the store stays open then.
   */
  async finish(): Promise<void> {
    this.checkUsable();
    await this.writesSettled();
    if (!this.complete) {
      throw new ReloadError(ErrorCode.Not_Found, `${this.chunkCount - this.written.count} of ${this.chunkCount} chunks still missing`, 'incomplete');
    }
    // The bitmap is persisted too, so a crash before the rename resumes as complete.
    await this.close();
    await fsStep('rename', this.path, () => rename(this.path, this.outPath));
    await syncDirectory(this.outPath);
    // A sidecar left behind by a crash here is harmless: without its part file it is ignored.
    await fsStep('remove', this.statePath, () => unlink(this.statePath));
  }

  /**
   * Stops accepting writes, waits for those in flight, persists what was written and closes both
   * handles. The part file and sidecar stay for a later resume. Rejects if the final sync failed,
   * after closing the handles all the same. Idempotent.
   */
  close(): Promise<void> {
    this.closed ??= this.shutDown();
    return this.closed;
  }

  private async shutDown(): Promise<void> {
    this.closing = true;
    await this.writesSettled();
    let error: unknown;
    try {
      await this.flush();
    } catch (e) {
      error = e;
    }
    this.timer?.cancel();
    this.timer = undefined;
    const results = await Promise.allSettled([
      fsStep('close', this.path, () => this.data.close()),
      fsStep('close', this.statePath, () => this.state.close()),
    ]);
    for (const r of results) if (r.status === 'rejected') error ??= r.reason;
    if (error !== undefined) throw error;
  }

  private checkUsable(): void {
    this.checkOpen();
    if (this.failure) throw this.failure;
  }

  /** Waits for every accepted chunk's write, staged or running, to succeed or fail. */
  private async writesSettled(): Promise<void> {
    await Promise.allSettled(this.inFlight.values());
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
      if (this.failure) throw this.failure;
      await this.writeAll(run.chunks.map((c) => c.bytes), run.first * this.chunkSize);
    } catch (e) {
      for (const c of run.chunks) c.reject(e);
      return;
    }
    // Marked before the writers resume, so `writesSettled()` in close() already sees the batch.
    run.chunks.forEach((c, i) => {
      this.written.set(run.first + i);
      this.pending.push(run.first + i);
      c.resolve();
    });
    if (this.syncIntervalMs > 0 && !this.timer) {
      // The failure is recorded by flushBatch and surfaces on the next write, flush or close.
      this.timer = this.clock.after(this.syncIntervalMs, () => {
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
      const { bytesWritten } = await fsStep('write', this.path, () => this.data.writev(rest, at));
      at += bytesWritten;
      rest = dropBytes(rest, bytesWritten);
    }
  }

  private async flushBatch(): Promise<void> {
    this.timer?.cancel();
    this.timer = undefined;
    if (this.failure) throw this.failure;
    if (this.pending.length === 0) return;
    // Only writes that completed before the sync starts are in the batch, so the sync covers them all.
    const batch = this.pending;
    this.pending = [];
    try {
      await this.data.datasync();
      let low = Infinity;
      let high = -1;
      for (const index of batch) {
        this.persisted.set(index);
        low = Math.min(low, index >> 3);
        high = Math.max(high, index >> 3);
      }
      // Rewriting only the changed bitmap bytes in place is safe even if a crash tears the write:
      // bits only ever go from 0 to 1 and every 1 here is already backed by synced data, so any
      // mix of old and new bytes claims no unwritten chunk.
      const span = this.persisted.bytes.subarray(low, high + 1);
      for (let done = 0; done < span.length; ) {
        const { bytesWritten } = await this.state.write(span, done, span.length - done, this.headerLength + low + done);
        done += bytesWritten;
      }
      await this.state.datasync();
    } catch (e) {
      this.failure = new Error(`chunk store: cannot persist ${batch.length} chunks to ${this.path} / ${this.statePath}: ${messageOf(e)}`, { cause: e });
      throw this.failure;
    }
  }
}

/** A chunk accepted by `write()` that waits for its run; settling it settles the write. */
interface StagedChunk {
  bytes: Uint8Array;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** `buffers` without their first `count` bytes. */
function dropBytes(buffers: Uint8Array[], count: number): Uint8Array[] {
  let skip = count;
  let i = 0;
  while (i < buffers.length && skip >= buffers[i]!.length) skip -= buffers[i++]!.length;
  return i === buffers.length ? [] : [buffers[i]!.subarray(skip), ...buffers.slice(i + 1)];
}

interface OpenFiles {
  data: FileHandle;
  state: FileHandle;
  headerLength: number;
  bitmap: ChunkBitmap;
}

/** The existing partial download if it is ours to resume; undefined if there is nothing to resume. */
async function resume(partPath: string, statePath: string, header: SidecarHeader, geometry: ChunkGeometry): Promise<OpenFiles | undefined> {
  const stateInfo = await statOrUndefined(statePath);
  if (!stateInfo) return undefined;
  // Bound what we read: a sidecar is never larger than this, whatever the file really is.
  const maxLength = 8 + 2 + MAX_SWARM_ID_CHARS + 4 + 8 + Math.ceil(geometry.chunkCount / 8);
  if (!stateInfo.isFile() || stateInfo.size > maxLength) throw new ResumeConflictError(statePath, `not a state file for this swarm (${stateInfo.size} bytes)`);
  const decoded = decodeSidecar(await fsStep('read', statePath, () => readFile(statePath)));
  if (!decoded.ok) throw new ResumeConflictError(statePath, decoded.why);
  const found = decoded.header;
  if (found.swarmId !== header.swarmId) throw new ResumeConflictError(statePath, `it belongs to swarm ${found.swarmId}, not ${header.swarmId}`);
  if (found.chunkSize !== header.chunkSize || found.contentLength !== header.contentLength) {
    throw new ResumeConflictError(statePath, `it records ${found.contentLength} bytes in chunks of ${found.chunkSize}, the swarm says ${header.contentLength} in chunks of ${header.chunkSize}`);
  }
  const partInfo = await statOrUndefined(partPath);
  if (!partInfo) return undefined;
  if (!partInfo.isFile() || partInfo.size !== geometry.contentLength) {
    throw new ResumeConflictError(partPath, `it is ${partInfo.size} bytes, the swarm says ${geometry.contentLength}`);
  }
  const data = await fsStep('open', partPath, () => open(partPath, 'r+'));
  try {
    const state = await fsStep('open', statePath, () => open(statePath, 'r+'));
    return { data, state, headerLength: decoded.headerLength, bitmap: decoded.bitmap };
  } catch (e) {
    await data.close().catch(() => {});
    throw e;
  }
}

/**
 * Discards any earlier partial download and creates empty ones. The old sidecar goes first (and
 * that removal is made durable): otherwise a crash after truncating the data could leave an old
 * bitmap claiming chunks the new, empty part file does not hold.
 */
async function startOver(partPath: string, statePath: string, header: SidecarHeader, geometry: ChunkGeometry): Promise<OpenFiles> {
  await removeIfPresent(statePath);
  await syncDirectory(statePath);
  const data = await fsStep('create', partPath, () => open(partPath, 'w+'));
  let state: FileHandle | undefined;
  try {
    // Sparse preallocation: the size is right from the start, blocks are allocated as chunks land.
    await fsStep('truncate', partPath, () => data.truncate(geometry.contentLength));
    const bitmap = new ChunkBitmap(geometry.chunkCount);
    const bytes = encodeSidecar(header, bitmap);
    // Written under a temporary name and renamed, so a crash never leaves a half-written header.
    const tmpPath = statePath + '.tmp';
    const tmp = await fsStep('create', tmpPath, () => open(tmpPath, 'w'));
    try {
      await fsStep('write', tmpPath, () => tmp.writeFile(bytes));
      await fsStep('sync', tmpPath, () => tmp.datasync());
    } finally {
      await tmp.close().catch(() => {});
    }
    await fsStep('rename', tmpPath, () => rename(tmpPath, statePath));
    await syncDirectory(statePath);
    state = await fsStep('open', statePath, () => open(statePath, 'r+'));
    return { data, state, headerLength: bytes.length - bitmap.bytes.length, bitmap };
  } catch (e) {
    await data.close().catch(() => {});
    await state?.close().catch(() => {});
    throw e;
  }
}

/** Runs one file-system step, turning its failure into an Error that names the path and the step. */
async function fsStep<T>(action: string, path: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (e) {
    throw new Error(`chunk store: cannot ${action} ${path}: ${messageOf(e)}`, { cause: e });
  }
}

async function statOrUndefined(path: string) {
  try {
    return await stat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`chunk store: cannot stat ${path}: ${messageOf(e)}`, { cause: e });
  }
}

async function removeIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`chunk store: cannot remove ${path}: ${messageOf(e)}`, { cause: e });
  }
}

/**
 * Makes a rename or removal in `path`'s directory durable. Some platforms cannot open or sync a
 * directory; there the step is skipped, since it only narrows a power-loss window.
 */
async function syncDirectory(path: string): Promise<void> {
  let dir: FileHandle | undefined;
  try {
    dir = await open(dirname(path), fsConstants.O_RDONLY);
    await dir.sync();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM' && code !== 'ENOTSUP') {
      throw new Error(`chunk store: cannot sync directory ${dirname(path)}: ${messageOf(e)}`, { cause: e });
    }
  } finally {
    await dir?.close().catch(() => {});
  }
}

function checkPositive(name: string, value: number | undefined, min: number): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < min)) throw new RangeError(`chunk store: ${name} must be an integer >= ${min}, got ${value}`);
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
