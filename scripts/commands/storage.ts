/**
 * `reload-ppsp store | fetch | stat | find`: the storage methods (RFC 6940 §7.4) asked of a running
 * node through its API (POST /store, /fetch, /stat, /find). The four commands share their options,
 * the request body they build and the error they print: `reload-ppsp: <RELOAD error>: <message>`.
 */
import { open, writeFile } from 'node:fs/promises';
import { API_CLIENT_OPTIONS, ApiError, apiEndpoint, callApi } from '../api-client.js';
import { ARRAY_APPEND, MAX_LIFETIME_SEC, MIN_LIFETIME_SEC } from '../../overlay/storage/types.js';
import { integerOption, optionalString, parseInteger, printResult, refuseToReplace, requireString, stringList, UsageError, type Command, type OptionSpec, type ParsedArgs } from '../command.js';

/** Largest file `store --file` reads, bytes: refused before it is read whole (no kind allows more). */
export const STORE_FILE_MAX_BYTES = 64 * 1024 * 1024;

/** A value or key as the API carries it: UTF-8 text, or bytes in base64. */
type ApiBytes = string | { base64: string };

interface FetchedValue {
  index?: number;
  key?: ApiBytes;
  exists: boolean;
  value: ApiBytes;
  signer: { nodeId: string; user: string };
  storageTime: string;
  lifetimeSec: number;
}

interface StatEntry {
  index?: number;
  key?: ApiBytes;
  exists: boolean;
  length: number;
  sha256: string;
  storageTime: string;
  lifetimeSec: number;
}

interface Answer<T> {
  resource: string;
  kind: string;
  generation: number;
  from: string;
  values: T[];
}

const OPTIONS = {
  ...API_CLIENT_OPTIONS,
  kind: { type: 'string', help: 'kind name (e.g. user-value) or id', valueName: 'KIND' },
  resource: { type: 'string', help: 'resource name (hashed with the overlay\'s hash) or Resource-ID (32 hex digits)', valueName: 'NAME-OR-HEX' },
  index: { type: 'string', help: 'array index (store: default appends)', valueName: 'N' },
  key: { type: 'string', help: 'dictionary key, as text', valueName: 'TEXT' },
  'key-hex': { type: 'string', help: 'dictionary key, as hex bytes (e.g. a Node-ID for USER-NODE-MATCH)', valueName: 'HEX' },
  json: { type: 'boolean', help: 'print JSON' },
} satisfies Record<string, OptionSpec>;

/** The options of each command, picked from OPTIONS plus its own. */
const pick = (...names: (keyof typeof OPTIONS)[]) => Object.fromEntries(names.map((n) => [n, OPTIONS[n]])) as Record<string, OptionSpec>;

/** Array indexes (ARRAY_APPEND is not one: leaving --index out appends). */
const INDEX_RANGE = { min: 0, max: ARRAY_APPEND - 1 };
const LIFETIME_RANGE = { min: MIN_LIFETIME_SEC, max: MAX_LIFETIME_SEC };
/** A generation counter is a u64; the CLI takes what a JSON number carries exactly. */
const GENERATION_RANGE = { min: 0, max: Number.MAX_SAFE_INTEGER };

/** At most one of `names` given; the one given, if any. */
function oneOf(args: ParsedArgs, names: string[]): string | undefined {
  const given = names.filter((n) => args.values[n] !== undefined);
  if (given.length > 1) throw new UsageError(`give only one of ${given.map((n) => `--${n}`).join(', ')}`);
  return given[0];
}

/** The dictionary key of --key (text) or --key-hex (bytes). */
function keyFlag(args: ParsedArgs): ApiBytes | undefined {
  const text = optionalString(args, 'key');
  if (text !== undefined) return text;
  const hex = optionalString(args, 'key-hex');
  if (hex === undefined) return undefined;
  if (!/^([0-9a-f]{2})+$/i.test(hex)) throw new UsageError(`--key-hex must be an even number of hex digits, not "${hex}"`);
  return { base64: Buffer.from(hex, 'hex').toString('base64') };
}

/** The body's kind, resource and index, range or key: what store, fetch and stat address. */
function target(args: ParsedArgs, slots: ('index' | 'range' | 'key')[]): Record<string, unknown> {
  apiEndpoint(args); // --api checked before --file is read
  const body: Record<string, unknown> = { kind: requireString(args, 'kind'), resource: requireString(args, 'resource') };
  const slot = oneOf(args, slots.flatMap((s) => (s === 'key' ? ['key', 'key-hex'] : [s])));
  if (slot === 'index') body.index = integerOption(args, 'index', INDEX_RANGE);
  if (slot === 'key' || slot === 'key-hex') body.key = keyFlag(args);
  if (slot === 'range') {
    const ends = optionalString(args, 'range')!.split(':');
    if (ends.length !== 2) throw new UsageError('--range must be FIRST:LAST, two array indexes');
    body.range = [parseInteger(ends[0]!, '--range FIRST', INDEX_RANGE), parseInteger(ends[1]!, '--range LAST', INDEX_RANGE)];
  }
  return body;
}

/** Calls the API; a refusal reads `<RELOAD error name>: <message>` (the CLI prints it as one line, exit 1). */
async function post<T>(args: ParsedArgs, path: string, body: Record<string, unknown>): Promise<T> {
  try {
    return (await callApi(apiEndpoint(args), 'POST', path, body)) as T;
  } catch (e) {
    // RELOAD errors come named already ("Not_Found: ..."); the API's own refusals (body too large, not JSON) do not.
    if (e instanceof ApiError && e.status >= 400 && !e.message.startsWith(`${e.errorName}: `)) throw new ApiError(e.status, e.errorName, `${e.errorName}: ${e.message}`);
    throw e;
  }
}

/**
 * The bytes of `path`, refusing a file above STORE_FILE_MAX_BYTES before reading it whole. Reads
 * at most one byte more than the bound, so a file that grows (or a pipe) is caught too.
 */
export async function readBoundedFile(path: string, maxBytes = STORE_FILE_MAX_BYTES): Promise<Buffer> {
  const tooBig = () => new UsageError(`--file ${path} is larger than ${maxBytes} bytes, the most a value may have`);
  const handle = await open(path, 'r');
  try {
    const info = await handle.stat();
    if (info.isDirectory()) throw new UsageError(`--file ${path} is a directory`);
    // A regular file's size is known: refuse before reading. Pipes and devices say 0, hence the bound below.
    const size = info.size;
    if (size > maxBytes) throw tooBig();
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(Math.max(size - total, 64 * 1024), maxBytes + 1 - total));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
      if (total > maxBytes) throw tooBig();
    }
    return Buffer.concat(chunks, total);
  } finally {
    await handle.close();
  }
}

const bytesOf = (v: ApiBytes) => (typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v.base64, 'base64'));

/** A value or key on one line: text as it is, text with line breaks JSON-quoted, bytes as base64:... */
function show(v: ApiBytes): string {
  if (typeof v !== 'string') return `base64:${v.base64}`;
  return /[\r\n\u0085\u2028\u2029]/.test(v) || v.startsWith('base64:') || v.startsWith('"') ? JSON.stringify(v) : v;
}

/** "[3] " for an array entry, "key=... " for a dictionary entry, "" for a single value. */
const slotLabel = (v: { index?: number; key?: ApiBytes }) => (v.index !== undefined ? `[${v.index}] ` : v.key !== undefined ? `key=${show(v.key)} ` : '');

const storeOptions = {
  ...pick('api', 'api-token-file', 'kind', 'resource'),
  value: { type: 'string', help: 'the value, as text', valueName: 'TEXT' },
  file: { type: 'string', help: `the value: the bytes of a file (at most ${STORE_FILE_MAX_BYTES / 1024 / 1024} MiB)`, valueName: 'FILE' },
  delete: { type: 'boolean', help: 'store a tombstone: delete the value (at --index or --key)' },
  ...pick('index', 'key', 'key-hex'),
  lifetime: { type: 'string', help: 'seconds the value lives (default: the overlay\'s)', valueName: 'S' },
  generation: { type: 'string', help: 'store only if the kind\'s generation counter is G (0: always)', valueName: 'G' },
  ...pick('json'),
} satisfies Record<string, OptionSpec>;

export const storeCommand: Command = {
  name: 'store',
  summary: 'Store (or with --delete, delete) a value signed by a running node\'s identity at the responsible peer, which replicates it.',
  options: storeOptions,
  async run(args) {
    const body = target(args, ['index', 'key']);
    const source = oneOf(args, ['value', 'file', 'delete']);
    if (!source) throw new UsageError('give the value with --value TEXT or --file FILE, or --delete');
    if (source === 'value') body.value = optionalString(args, 'value');
    if (source === 'file') body.value = { base64: (await readBoundedFile(requireString(args, 'file'))).toString('base64') };
    if (source === 'delete') body.delete = true;
    body.lifetime = integerOption(args, 'lifetime', LIFETIME_RANGE);
    body.generation = integerOption(args, 'generation', GENERATION_RANGE);
    const r = await post<{ resource: string; kind: string; generation: number; responsible: string; replicas: string[]; replicasConfigured: number; syncIntervalMs: number }>(args, '/store', body);
    const verb = source === 'delete' ? 'deleted' : 'stored';
    const short = r.replicas.length < r.replicasConfigured ? ` (the responsible node copies it to the rest of its replica set within ${r.syncIntervalMs / 1000} s)` : '';
    printResult(args, r, `${verb} ${r.kind} at ${r.resource} generation=${r.generation} responsible=${r.responsible} replicas=${r.replicas.length}/${r.replicasConfigured}${short}`);
    return 0;
  },
};

/** What fetch and stat select: one array index, a range of them, or one dictionary key (default: all). */
const selectOptions = {
  ...pick('api', 'api-token-file', 'kind', 'resource', 'index'),
  range: { type: 'string', help: 'array entries FIRST to LAST, inclusive', valueName: 'A:B' },
  ...pick('key', 'key-hex', 'json'),
} satisfies Record<string, OptionSpec>;

export const fetchCommand: Command = {
  name: 'fetch',
  summary: 'Fetch values from a running node, each verified against its signer\'s certificate: one line per value with signer and storage time.',
  options: {
    ...selectOptions,
    out: { type: 'string', help: 'write the raw bytes of the (single) value fetched to FILE', valueName: 'FILE' },
    force: { type: 'boolean', help: 'with --out: replace FILE if it exists' },
  },
  async run(args) {
    const out = optionalString(args, 'out');
    const force = args.values.force === true;
    if (out === undefined && force) throw new UsageError('--force goes with --out');
    if (out !== undefined) await refuseToReplace(out, force);
    const r = await post<Answer<FetchedValue>>(args, '/fetch', target(args, ['index', 'range', 'key']));
    if (out !== undefined) {
      if (r.values.length !== 1) throw new UsageError(`--out takes one value, but ${r.values.length} were fetched: pick one with --index or --key`);
      const bytes = bytesOf(r.values[0]!.value);
      await writeFile(out, bytes, { flag: force ? 'w' : 'wx' }); // wx: nor a file created since the check
      const v = r.values[0]!;
      printResult(args, { ...r, values: r.values.map(({ value: _value, ...meta }) => meta), out, bytes: bytes.length }, `wrote ${bytes.length} bytes to ${out} ${signedBy(v)}`);
      return 0;
    }
    printResult(args, r, r.values.map((v) => `${slotLabel(v)}${show(v.value)}  ${signedBy(v)}`).join('\n'));
    return 0;
  },
};

const signedBy = (v: FetchedValue) => `(signer ${v.signer.user} ${v.signer.nodeId}, stored ${v.storageTime})`;

export const statCommand: Command = {
  name: 'stat',
  summary: 'Show what is stored without the values: length, SHA-256, storage time and lifetime left of each value.',
  options: selectOptions,
  async run(args) {
    const r = await post<Answer<StatEntry>>(args, '/stat', target(args, ['index', 'range', 'key']));
    const line = (v: StatEntry) =>
      `${slotLabel(v)}${v.exists ? `length=${v.length} sha256=${v.sha256}` : 'deleted'} stored=${v.storageTime} lifetime=${v.lifetimeSec}s`;
    printResult(args, r, [`${r.kind} at ${r.resource} generation=${r.generation} from=${r.from}`, ...r.values.map(line)].join('\n'));
    return 0;
  },
};

export const findCommand: Command = {
  name: 'find',
  summary: 'Find, per kind, the Resource-ID closest to a resource (at or after it) that the responsible peer holds values of.',
  options: {
    ...pick('api', 'api-token-file'),
    kind: { ...OPTIONS.kind, multiple: true },
    ...pick('resource', 'json'),
  },
  async run(args) {
    const kinds = stringList(args, 'kind');
    if (kinds.length === 0) throw new UsageError('missing --kind');
    const r = await post<{ resource: string; results: { kind: string | number; closest: string | null }[] }>(args, '/find', { kinds, resource: requireString(args, 'resource') });
    printResult(args, r, r.results.map((f) => `${f.kind} ${f.closest ?? '-'}`).join('\n'));
    return 0;
  },
};

export const STORAGE_COMMANDS: Command[] = [storeCommand, fetchCommand, statCommand, findCommand];
