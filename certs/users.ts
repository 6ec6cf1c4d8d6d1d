/**
 * The enrollment server's users file (RFC 6940 §11.3 authenticates enrollment with a user name and
 * a password): a JSON object `{ "<user>": "scrypt$<salt b64>$<hash b64>" }`. Only scrypt hashes
 * are stored, never passwords; checks compare in constant time, and an unknown user costs the
 * same scrypt work as a known one so that timing does not reveal which users exist.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type BinaryLike, type ScryptOptions } from 'node:crypto';
import { chmod, open, rename, writeFile } from 'node:fs/promises';
import { EnrollmentError } from './ca.js';
import { IdentityFileError } from './identity.js';

/**
 * scrypt cost: N = 2^15, r = 8, p = 1 (32 MiB and some 100 ms per check). Fixed, because the
 * stored format carries no parameters; `maxmem` must exceed 128·N·r.
 */
const SCRYPT_OPTIONS: ScryptOptions = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const SCRYPT_KEY_BYTES = 32;
const SALT_BYTES = 16;
/** Longest password accepted, in characters; scrypt takes any length, the bound keeps input small. */
export const MAX_PASSWORD_LENGTH = 1024;
/** Largest users file read, in bytes (some thousands of users). */
export const MAX_USERS_FILE_BYTES = 1 << 20;
/** Largest password file read, in bytes. */
export const MAX_PASSWORD_FILE_BYTES = 8 * 1024;

const HASH_FORMAT = /^scrypt\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;
/**
 * A user name is an RFC 822 mailbox (it goes into the certificate's rfc822Name), e.g.
 * `alice@example.org` or `alice@<overlay>`; the domain need not be the overlay's name. No
 * spaces, commas or quotes: they would make the SAN ambiguous to read back.
 */
const USER_NAME = /^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;

/** Throws EnrollmentError('username_not_available') unless `user` is a plausible user name. */
export function assertUserName(user: string): void {
  if (!USER_NAME.test(user)) {
    throw new EnrollmentError(
      'username_not_available',
      `"${user}" is not a user name: use the form name@domain (letters, digits and . _ % + - before the @), e.g. alice@example.org`,
    );
  }
}

function scrypt(password: BinaryLike, salt: Buffer, keyBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCb(password, salt, keyBytes, SCRYPT_OPTIONS, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** Hashes a password for the users file: `scrypt$<salt b64>$<hash b64>`. */
export async function hashPassword(password: string): Promise<string> {
  // readPasswordFile has told the user already; reaching this is a caller's bug.
  if (password.length === 0 || password.length > MAX_PASSWORD_LENGTH) throw new RangeError(`a password has 1 to ${MAX_PASSWORD_LENGTH} characters`);
  const salt = randomBytes(SALT_BYTES);
  const hash = await scrypt(password, salt, SCRYPT_KEY_BYTES);
  return `scrypt$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** Stands in for an unknown user's entry, so that a miss costs one scrypt like a hit. */
const DECOY_ENTRY = `scrypt$${Buffer.alloc(SALT_BYTES).toString('base64')}$${Buffer.alloc(SCRYPT_KEY_BYTES).toString('base64')}`;

/** True when `password` matches a stored `scrypt$...` entry (constant-time comparison). */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = HASH_FORMAT.exec(stored);
  if (!m || password.length > MAX_PASSWORD_LENGTH) return false;
  const expected = Buffer.from(m[2]!, 'base64');
  if (expected.length !== SCRYPT_KEY_BYTES) return false;
  const actual = await scrypt(password, Buffer.from(m[1]!, 'base64'), SCRYPT_KEY_BYTES);
  return timingSafeEqual(actual, expected);
}

/** Checks a user's password against the table; an unknown user gets the same work and `false`. */
export async function authenticate(users: ReadonlyMap<string, string>, user: string, password: string): Promise<boolean> {
  const entry = users.get(user);
  const ok = await verifyPassword(password, entry ?? DECOY_ENTRY);
  return ok && entry !== undefined;
}

function parseUsers(path: string, text: string): Map<string, string> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new IdentityFileError(`users file ${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new IdentityFileError(`users file ${path} must be a JSON object of user -> password hash`);
  const users = new Map<string, string>();
  for (const [user, entry] of Object.entries(doc)) {
    if (typeof entry !== 'string' || !HASH_FORMAT.test(entry)) {
      throw new IdentityFileError(`users file ${path}: the entry for "${user}" is not a scrypt hash (set it with \`reload-ppsp ca adduser\`)`);
    }
    users.set(user, entry);
  }
  return users;
}

/** Reads a small text file, refusing one larger than `maxBytes` before reading it. */
async function readSmallFile(path: string, maxBytes: number): Promise<string> {
  const file = await open(path, 'r');
  try {
    if ((await file.stat()).size > maxBytes) throw new IdentityFileError(`${path} is larger than ${maxBytes} bytes`);
    return await file.readFile('utf8');
  } finally {
    await file.close();
  }
}

/**
 * Reads and validates a users file. A missing file is an error unless `allowMissing`, in which
 * case the table is empty (the first `ca adduser` creates the file).
 */
export async function loadUsers(path: string, { allowMissing = false } = {}): Promise<Map<string, string>> {
  let text: string;
  try {
    text = await readSmallFile(path, MAX_USERS_FILE_BYTES);
  } catch (e) {
    if (e instanceof IdentityFileError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && allowMissing) return new Map();
    throw new IdentityFileError(`cannot read users file ${path}: ${code ?? (e as Error).message} (create it with \`reload-ppsp ca adduser\`)`);
  }
  return parseUsers(path, text);
}

/**
 * A password from a file: its first line without the line ending. Files keep passwords out of
 * the process list and the shell history, which command-line flags would not.
 */
export async function readPasswordFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readSmallFile(path, MAX_PASSWORD_FILE_BYTES);
  } catch (e) {
    if (e instanceof IdentityFileError) throw e;
    throw new IdentityFileError(`cannot read password file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const password = text.split(/\r?\n/, 1)[0]!;
  if (password === '') throw new IdentityFileError(`password file ${path} is empty: put the password on its first line`);
  if (password.length > MAX_PASSWORD_LENGTH) throw new IdentityFileError(`the password in ${path} is longer than ${MAX_PASSWORD_LENGTH} characters`);
  return password;
}

/**
 * Sets a user's password in the users file, creating the file if needed (mode 0600). The new file
 * is written beside the old one and renamed over it, so that a running server never reads half a
 * file. Returns whether the user was added or an existing entry replaced.
 */
export async function addUser(path: string, user: string, password: string): Promise<'added' | 'updated'> {
  assertUserName(user);
  const users = await loadUsers(path, { allowMissing: true });
  const outcome = users.has(user) ? 'updated' : 'added';
  users.set(user, await hashPassword(password));
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(Object.fromEntries(users), null, 2) + '\n', { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
  return outcome;
}
