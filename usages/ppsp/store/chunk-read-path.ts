/**
 * The chunk store's read path, shared by both kinds of store: chunk lengths, single and range
 * reads, and vectored reads straight into an uploader's frames; plus the seeder's store, a
 * complete file opened read-only. What may be read is decided by the subclass (`has`).
 */

import { open, type FileHandle } from 'node:fs/promises';
import { invalidMessage } from '../../../overlay/index.js';
import { checkGeometry, checkIndex, chunkLengthOf, chunkNotFound, type ChunkGeometry } from './chunk-store-state.js';
import { dropBytes, fsStep } from './store-fs.js';

/**
 * Most chunks one positioned write or `readRange` covers. The cost of small file I/O is per call
 * (16,384 writes of 16 KiB took 164 ms, 1,024 of 256 KiB took 56 ms), so 64 chunks (1 MiB at the
 * usual 16 KiB) already earns most of the gain; more would only hold back the first chunk of a run
 * and grow the buffer a range read allocates. It is also far below IOV_MAX (1024) for writev.
 */
export const MAX_CHUNKS_PER_IO = 64;

/** Options of a seeder's store: the swarm's geometry, which the file's size must match. */
export interface CompleteStoreOptions {
  /** Bytes per chunk (the swarm's metadata; 16 KiB by default in the usage). */
  chunkSize: number;
  /** Size of the file in bytes. */
  contentLength: number;
}

/**
 * The chunks of one swarm in one file. Both kinds share the read path; `has` decides what may be
 * read. Open with `ChunkStore.openComplete` (seeder) or `ChunkStore.openDownload` (leecher).
 */
export abstract class ChunkReader implements ChunkGeometry {
  readonly chunkSize: number;
  readonly contentLength: number;
  readonly chunkCount: number;
  /** Set once the handles are closed (or about to be); reads and writes are refused from then on. */
  protected closing = false;

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
export class CompleteChunkStore extends ChunkReader {
  private closed: Promise<void> | undefined;

  /** Opens a seeder's complete file read-only; its size must equal `contentLength`. */
  static async open(path: string, options: CompleteStoreOptions): Promise<CompleteChunkStore> {
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

  private constructor(path: string, geometry: ChunkGeometry, data: FileHandle) {
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
