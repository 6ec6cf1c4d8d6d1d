/**
 * The node API's bearer token: 32 random bytes in hex, new at each start of a node, kept in
 * `<data dir>/api-token` (mode 0600) for the CLI to read, as bitcoind keeps its cookie file.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writePrivateFile } from './private-file.js';

/** Random bytes in a token. */
const TOKEN_BYTES = 32;
/** What a token file holds: the token in hex and, optionally, a line break. */
const TOKEN_TEXT = /^([0-9a-f]{64})\n?$/;

/** The token file of a data directory. */
export function apiTokenPath(dataDir: string): string {
  return join(dataDir, 'api-token');
}

export interface ApiToken {
  token: string;
  file: string;
}

/** A new random token. */
export function newApiToken(): string {
  return randomBytes(TOKEN_BYTES).toString('hex');
}

/** Writes `token` to the data directory's token file (replacing the last run's). */
export async function writeApiToken(dataDir: string, token: string): Promise<ApiToken> {
  const file = apiTokenPath(dataDir);
  await writePrivateFile(file, token + '\n');
  return { token, file };
}

/**
 * The token in `file`. Throws the file error (ENOENT, EACCES), or an Error if the file does not
 * hold a token: no other file's content is ever sent as one.
 */
export async function readApiToken(file: string): Promise<string> {
  const m = TOKEN_TEXT.exec(await readFile(file, 'utf8'));
  if (!m) throw new Error(`${file} does not hold an API token (64 hex digits)`);
  return m[1]!;
}

/** Removes the token file at stop (the token dies with the node anyway), unless another run has replaced it. */
export async function removeApiToken(token: ApiToken): Promise<void> {
  if ((await readApiToken(token.file).catch(() => undefined)) === token.token) await rm(token.file, { force: true });
}
