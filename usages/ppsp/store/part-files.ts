/**
 * A download's files on disk: the part file `OUT.part` (the content, sparse, at its final size) and
 * its sidecar `OUT.part.state` (which swarm and geometry it belongs to, then the bitmap of chunks
 * whose bytes are durable; layout in chunk-store-state.ts). Resuming an existing pair, starting
 * over, and rewriting the changed bitmap bytes in place.
 */

import { open, readFile, rename, type FileHandle } from 'node:fs/promises';
import { ChunkBitmap } from '../content/chunk-bitmap.js';
import { decodeSidecar, encodeSidecar, MAX_SWARM_ID_CHARS, type ChunkGeometry, type SidecarHeader } from './chunk-store-state.js';
import { fsStep, removeIfPresent, statOrUndefined, syncDirectory } from './store-fs.js';

/** Suffix of the partial data file beside the output path. */
export const PART_SUFFIX = '.part';

/** Suffix of the sidecar (appended to the part file's path). */
export const STATE_SUFFIX = '.state';

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

/** An open part file and sidecar, with the bitmap the sidecar holds and where it starts. */
export interface PartFiles {
  data: FileHandle;
  state: FileHandle;
  headerLength: number;
  bitmap: ChunkBitmap;
}

/** The existing partial download if it is ours to resume; undefined if there is nothing to resume. */
export async function resumePartFiles(partPath: string, statePath: string, header: SidecarHeader, geometry: ChunkGeometry): Promise<PartFiles | undefined> {
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
export async function createPartFiles(partPath: string, statePath: string, header: SidecarHeader, geometry: ChunkGeometry): Promise<PartFiles> {
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
    return { data, state, headerLength: bytes.length - Math.ceil(geometry.chunkCount / 8), bitmap };
  } catch (e) {
    await data.close().catch(() => {});
    await state?.close().catch(() => {});
    throw e;
  }
}

/**
 * Rewrites the sidecar's bitmap bytes `lowByte`..`highByte` (inclusive) from `bitmap` in place and
 * syncs the sidecar. Safe even if a crash tears the write: bits only ever go from 0 to 1 and the
 * caller sets a bit only once its chunk's data is synced, so any mix of old and new bytes claims
 * no unwritten chunk. Errors are the file system's own; the caller names the batch.
 */
export async function writeSidecarBits(state: FileHandle, headerLength: number, bitmap: ChunkBitmap, lowByte: number, highByte: number): Promise<void> {
  const span = bitmap.toBytes(lowByte, highByte + 1);
  for (let done = 0; done < span.length; ) {
    const { bytesWritten } = await state.write(span, done, span.length - done, headerLength + lowByte + done);
    done += bytesWritten;
  }
  await state.datasync();
}
