/**
 * File-system steps shared by the chunk store's files: each failure becomes an Error that names
 * the path and the step (`chunk store: cannot <step> <path>: ...`), and vectored I/O can resume
 * after a short read or write.
 */

import { constants as fsConstants } from 'node:fs';
import { open, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Runs one file-system step, turning its failure into an Error that names the path and the step. */
export async function fsStep<T>(action: string, path: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (e) {
    throw new Error(`chunk store: cannot ${action} ${path}: ${messageOf(e)}`, { cause: e });
  }
}

export async function statOrUndefined(path: string) {
  try {
    return await stat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`chunk store: cannot stat ${path}: ${messageOf(e)}`, { cause: e });
  }
}

export async function removeIfPresent(path: string): Promise<void> {
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
export async function syncDirectory(path: string): Promise<void> {
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

/** `buffers` without their first `count` bytes: what is left after a short readv or writev. */
export function dropBytes(buffers: Uint8Array[], count: number): Uint8Array[] {
  let skip = count;
  let i = 0;
  while (i < buffers.length && skip >= buffers[i]!.length) skip -= buffers[i++]!.length;
  return i === buffers.length ? [] : [buffers[i]!.subarray(skip), ...buffers.slice(i + 1)];
}

export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
