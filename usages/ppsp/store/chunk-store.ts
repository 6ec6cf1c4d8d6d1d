/**
 * Chunks of one swarm on disk (RFC 7574 §4 chunks; the resume requirement of issue 5): the entry
 * callers import. The work is split by job:
 * - chunk-read-path.ts: reads shared by both kinds, and the seeder's complete file;
 * - download-chunk-store.ts: the leecher's store (resume, writes, finish and rename);
 * - write-coalescer.ts: batched writes and syncs;
 * - part-files.ts: the part file and its sidecar (create, resume, rewrite bits);
 * - chunk-store-state.ts: geometry and the sidecar's byte layout, no I/O.
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

import { CompleteChunkStore, type ChunkReader, type CompleteStoreOptions } from './chunk-read-path.js';
import { DownloadChunkStore, type DownloadStoreOptions } from './download-chunk-store.js';

export { CompleteChunkStore, MAX_CHUNKS_PER_IO, type CompleteStoreOptions } from './chunk-read-path.js';
export { DEFAULT_MAX_WRITES_IN_FLIGHT, DEFAULT_SYNC_EVERY_CHUNKS, DEFAULT_SYNC_INTERVAL_MS, DownloadChunkStore, type DownloadStoreOptions } from './download-chunk-store.js';
export { PART_SUFFIX, ResumeConflictError, STATE_SUFFIX } from './part-files.js';

/** Either kind of store: what readers and uploaders need. */
export type ChunkStore = ChunkReader;

export const ChunkStore = {
  /** Opens a seeder's complete file read-only; its size must equal `contentLength`. */
  openComplete(path: string, options: CompleteStoreOptions): Promise<CompleteChunkStore> {
    return CompleteChunkStore.open(path, options);
  },

  /**
   * Opens (or resumes) a download into `outPath + '.part'` with its sidecar `outPath + '.part.state'`.
   * Resumes only a sidecar of the same swarm ID, chunk size and content length beside a part file of
   * the right size; anything else of ours is a ResumeConflictError unless `restart` is set. A sidecar
   * whose part file is gone (for example after a finish interrupted before the sidecar was removed)
   * has nothing to resume, so the download starts over. The caller checks `outPath` itself first;
   * `finish()` replaces it.
   */
  openDownload(outPath: string, options: DownloadStoreOptions): Promise<DownloadChunkStore> {
    return DownloadChunkStore.open(outPath, options);
  },
};
