/**
 * Runtime records: how `reload-ppsp status --api 127.0.0.1:7085` finds the token of the node
 * serving that address without a flag. At start a node writes a small record, named after its API
 * address, in a per-user runtime directory; it holds the path of the node's token file. The record
 * goes at stop; one left by a killed node points at a token no node accepts any more.
 *
 * The directory: $RELOAD_PPSP_RUNTIME_DIR, else $XDG_RUNTIME_DIR/reload-ppsp, else
 * ~/.reload-ppsp/run; mode 0700, records 0600.
 */
import { chmod, mkdir, readFile, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writePrivateFile } from './private-file.js';

/** The runtime directory for `env` (default: this process's environment). */
export function apiRuntimeDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.RELOAD_PPSP_RUNTIME_DIR) return env.RELOAD_PPSP_RUNTIME_DIR;
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'reload-ppsp');
  return join(homedir(), '.reload-ppsp', 'run');
}

/** The record's file name for an API address ("127.0.0.1:7085", "[::1]:7085"): only safe characters. */
export function apiRecordName(address: string): string {
  return `api-${address.toLowerCase().replace(/[^0-9a-z.]+/g, '_')}.json`;
}

/** What a record says. */
export interface ApiRecord {
  /** The API address, as the node printed it. */
  api: string;
  /** The node's token file. */
  tokenFile: string;
  /** The node's process ID, so that it removes only its own record. */
  pid: number;
}

/** Creates the runtime directory if needed, private to the user; refuses one another user owns. */
async function openRuntimeDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const info = await stat(dir);
  if (!info.isDirectory()) throw new Error(`${dir} is not a directory`);
  if (info.uid !== process.getuid?.()) throw new Error(`${dir} belongs to another user`);
  if ((info.mode & 0o077) !== 0) await chmod(dir, 0o700);
}

/** Writes the record for `api`; returns its path. */
export async function writeApiRecord(api: string, tokenFile: string, dir = apiRuntimeDir()): Promise<string> {
  await openRuntimeDir(dir);
  const path = join(dir, apiRecordName(api));
  const record: ApiRecord = { api, tokenFile, pid: process.pid };
  await writePrivateFile(path, JSON.stringify(record) + '\n');
  return path;
}

/** A record's text parsed, or undefined if it is not a record. */
function parseRecord(text: string): ApiRecord | undefined {
  try {
    const r = JSON.parse(text) as Partial<ApiRecord>;
    return typeof r.tokenFile === 'string' && typeof r.api === 'string' && typeof r.pid === 'number' ? (r as ApiRecord) : undefined;
  } catch {
    return undefined;
  }
}

/** The record for `api`, or undefined if there is none (or it is not a record). */
export async function readApiRecord(api: string, dir = apiRuntimeDir()): Promise<ApiRecord | undefined> {
  return parseRecord(await readFile(join(dir, apiRecordName(api)), 'utf8').catch(() => ''));
}

/** Removes the record at `path` if this process wrote it (a later node may have replaced it). */
export async function removeApiRecord(path: string): Promise<void> {
  if (parseRecord(await readFile(path, 'utf8').catch(() => ''))?.pid === process.pid) await rm(path, { force: true });
}
