/**
 * Checks a download's output path before anything is started, so a bad one is refused at once
 * (400 naming it) instead of wedging a swarm: it must be absolute, its directory must exist, it must
 * not be a directory, and an existing file is replaced only when the request says `force`.
 */
import { stat } from 'node:fs/promises';
import { dirname, isAbsolute } from 'node:path';
import { ErrorCode, ReloadError } from '../../../overlay/index.js';

function refuse(message: string, reason: string): ReloadError {
  return new ReloadError(ErrorCode.Invalid_Message, message, reason);
}

/** `out` checked (Invalid_Message, reasons bad_request / no_such_directory / is_directory / exists). */
export async function checkOutputPath(out: unknown, force: boolean): Promise<string> {
  if (typeof out !== 'string' || !isAbsolute(out)) throw refuse('"out" must be an absolute path on the node\'s machine', 'bad_request');
  const info = await stat(out).catch(() => undefined);
  if (info?.isDirectory()) throw refuse(`${out} is a directory; give the path of a file to write`, 'is_directory');
  if (info && !force) throw refuse(`${out} exists; send "force": true (the CLI's --force) to replace it`, 'exists');
  const dir = await stat(dirname(out)).catch(() => undefined);
  if (!dir?.isDirectory()) throw refuse(`the directory of ${out} does not exist`, 'no_such_directory');
  return out;
}
