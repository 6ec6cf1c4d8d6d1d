/**
 * Files only their owner may read (the API token, the runtime records that point at it), written
 * so that no other user can read them even for an instant, and no reader sees half a file.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Writes `text` to `path` with mode 0600: into a new temporary file beside it, created 0600 (umask
 * can only take bits away), then renamed over `path` in one step.
 */
export async function writePrivateFile(path: string, text: string): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const file = await open(temp, 'wx', 0o600);
  try {
    await file.writeFile(text);
    await file.sync();
  } catch (e) {
    await file.close();
    await rm(temp, { force: true });
    throw e;
  }
  await file.close();
  await rename(temp, path).catch(async (e: unknown) => {
    await rm(temp, { force: true });
    throw e;
  });
}
