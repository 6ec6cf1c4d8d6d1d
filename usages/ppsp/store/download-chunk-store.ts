/**
 * A leecher's store: chunks verified against the Merkle root go into the part file through a
 * WriteCoalescer, their bits into the sidecar once durable (part-files.ts), and `finish()` renames
 * the part file to the output path. Readable (and uploadable) as soon as each write completes.
 */

import { rename, unlink, type FileHandle } from 'node:fs/promises';
import { type Clock, ErrorCode, invalidMessage, type Logger, ReloadError, silentLogger, systemClock } from '../../../overlay/index.js';
import { ChunkBitmap } from '../content/chunk-bitmap.js';
import { ChunkReader } from './chunk-read-path.js';
import { checkGeometry, checkIndex, checkSwarmId, chunkLengthOf, type ChunkGeometry, type SidecarHeader } from './chunk-store-state.js';
import { createPartFiles, PART_SUFFIX, resumePartFiles, STATE_SUFFIX, writeSidecarBits, type PartFiles } from './part-files.js';
import { fsStep, syncDirectory } from './store-fs.js';
import { WriteCoalescer } from './write-coalescer.js';

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

/** A leecher's partial file plus the sidecar that says which chunks are verified and durable. */
export class DownloadChunkStore extends ChunkReader {
  /** The finished file's path; the part file is renamed to it by `finish()`. */
  readonly outPath: string;
  /** The sidecar's path. */
  readonly statePath: string;
  readonly swarmId: string;
  /** Chunks whose data write completed: readable, uploadable, counted. */
  private readonly written: ChunkBitmap;
  /** Chunks whose data was synced and whose bit may therefore be (or has been) persisted. */
  private readonly persisted: ChunkBitmap;
  private readonly writer: WriteCoalescer;
  private readonly state: FileHandle;
  private closed: Promise<void> | undefined;

  private constructor(outPath: string, geometry: ChunkGeometry, header: SidecarHeader, files: PartFiles, options: DownloadStoreOptions) {
    super(outPath + PART_SUFFIX, geometry, files.data);
    this.outPath = outPath;
    this.statePath = outPath + PART_SUFFIX + STATE_SUFFIX;
    this.swarmId = header.swarmId;
    this.state = files.state;
    this.persisted = files.bitmap;
    this.written = files.bitmap.clone();
    this.writer = new WriteCoalescer({
      data: files.data,
      path: this.path,
      statePath: this.statePath,
      chunkSize: this.chunkSize,
      syncEveryChunks: options.syncEveryChunks ?? DEFAULT_SYNC_EVERY_CHUNKS,
      syncIntervalMs: options.syncIntervalMs ?? DEFAULT_SYNC_INTERVAL_MS,
      maxWritesInFlight: options.maxWritesInFlight ?? DEFAULT_MAX_WRITES_IN_FLIGHT,
      clock: options.clock ?? systemClock,
      written: (index) => this.written.set(index),
      persist: (batch) => this.persist(batch, files.headerLength),
    });
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
      const resumed = await resumePartFiles(partPath, statePath, header, geometry);
      if (resumed) {
        log.info(`resuming ${partPath}: ${resumed.bitmap.count}/${geometry.chunkCount} chunks verified`);
        return new DownloadChunkStore(outPath, geometry, header, resumed, options);
      }
    }
    log.info(`starting ${partPath} afresh (${geometry.chunkCount} chunks)`);
    const fresh = await createPartFiles(partPath, statePath, header, geometry);
    return new DownloadChunkStore(outPath, geometry, header, fresh, options);
  }

  has(index: number): boolean {
    return this.written.get(index);
  }

  /** The chunks written, as bitmap bytes (a copy): what a resumed download holds already. */
  writtenBitmap(): Uint8Array {
    return this.written.toBytes();
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
    return this.writer.dataWrites;
  }

  /** Whether every chunk is written, so `finish()` may run. */
  get complete(): boolean {
    return this.written.isComplete;
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
    if (this.written.get(index)) return;
    await this.writer.write(index, bytes);
  }

  /**
   * Makes every chunk written so far durable and persists its bit: fdatasync the data file, then
   * write the changed bitmap bytes into the sidecar and sync it. Serialized with other flushes.
   */
  flush(): Promise<void> {
    return this.writer.flush();
  }

  /**
   * Completes the download: waits for writes in flight, syncs, closes the handles, renames the part
   * file to `outPath` (atomic on one file system) and removes the sidecar. Not_Found (`incomplete`)
   * if chunks are missing; the store stays open then.
   */
  async finish(): Promise<void> {
    this.checkUsable();
    await this.writer.settled();
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
    await this.writer.settled();
    let error: unknown;
    try {
      await this.writer.flush();
    } catch (e) {
      error = e;
    }
    this.writer.stopTimer();
    const results = await Promise.allSettled([
      fsStep('close', this.path, () => this.data.close()),
      fsStep('close', this.statePath, () => this.state.close()),
    ]);
    for (const r of results) if (r.status === 'rejected') error ??= r.reason;
    if (error !== undefined) throw error;
  }

  private checkUsable(): void {
    this.checkOpen();
    const failure = this.writer.failure;
    if (failure) throw failure;
  }

  /** Marks a synced batch persisted and rewrites only the sidecar bytes it changed. */
  private async persist(batch: readonly number[], headerLength: number): Promise<void> {
    let low = Infinity;
    let high = -1;
    for (const index of batch) {
      this.persisted.set(index);
      low = Math.min(low, index >> 3);
      high = Math.max(high, index >> 3);
    }
    await writeSidecarBits(this.state, headerLength, this.persisted, low, high);
  }
}

function checkPositive(name: string, value: number | undefined, min: number): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < min)) throw new RangeError(`chunk store: ${name} must be an integer >= ${min}, got ${value}`);
}
