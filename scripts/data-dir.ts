/**
 * A node's data directory: what it keeps across restarts (stored values, swarms, the peer cache,
 * the API token). `--data DIR`, by default `data/` inside the identity directory. Created private
 * to the user (0700), as ssh and gpg keep theirs.
 */
import { chmod, mkdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UsageError } from './command.js';

/** The data directory of a node: `flag` if given, else `data/` in the identity directory. */
export function dataDirPath(identityDir: string, flag: string | undefined): string {
  return resolve(flag ?? join(identityDir, 'data'));
}

/** Creates the data directory if missing (mode 0700) and checks it is a directory. */
export async function openDataDir(path: string): Promise<string> {
  await mkdir(path, { recursive: true, mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot create the data directory ${path}: ${e.code ?? e.message}`);
  });
  const info = await stat(path);
  if (!info.isDirectory()) throw new UsageError(`the data directory ${path} is not a directory`);
  // Group or others could read the API token and the stored values: close it.
  if ((info.mode & 0o077) !== 0) await chmod(path, 0o700);
  return path;
}
