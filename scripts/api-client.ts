/**
 * The CLI's client of a running node's HTTP API. Errors come back as one-line messages.
 * Every call carries the node's API token, found in this order: `--api-token-file FILE`,
 * $RELOAD_PPSP_API_TOKEN, the runtime record the node wrote for its address (api-runtime.ts).
 */
import { request } from 'node:http';
import { parseHostPort } from '../overlay/config.js';
import { apiRuntimeDir, readApiRecord } from './api-runtime.js';
import { readApiToken } from './api-token.js';
import { optionalString, requireString, UsageError, type OptionSpec, type ParsedArgs } from './command.js';

/** Answers of the API larger than this are refused, bytes. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly errorName: string,
    message: string,
  ) {
    super(message);
  }
}

/** The flags of every command that talks to a node. */
export const API_CLIENT_OPTIONS = {
  api: { type: 'string', help: 'the node\'s API address', valueName: 'HOST:PORT' },
  'api-token-file': {
    type: 'string',
    help: 'the node\'s API token file, NODEDIR/data/api-token (default: $RELOAD_PPSP_API_TOKEN, else found through the record the node wrote for --api)',
    valueName: 'FILE',
  },
} satisfies Record<string, OptionSpec>;

/** A node's API as the client commands name it. */
export interface ApiEndpoint {
  address: string;
  /** `--api-token-file`, if given. */
  tokenFile?: string;
}

/** The endpoint of `--api` and `--api-token-file`; a UsageError without --api. */
export function apiEndpoint(args: ParsedArgs): ApiEndpoint {
  return { address: requireString(args, 'api'), tokenFile: optionalString(args, 'api-token-file') };
}

/** The token a call sends and where it came from, for the message of a 401. */
interface FoundToken {
  token?: string;
  from: string;
}

/** Addresses a node serving `address` may have written its record under ("localhost" is bound as an address). */
function recordAddresses(address: string, host: string, port: number): string[] {
  return host.toLowerCase() === 'localhost' ? [address, `127.0.0.1:${port}`, `[::1]:${port}`] : [address];
}

async function findToken(api: ApiEndpoint, host: string, port: number): Promise<FoundToken> {
  if (api.tokenFile !== undefined) {
    const token = await readApiToken(api.tokenFile).catch((e: NodeJS.ErrnoException) => {
      throw new ApiError(0, 'No_Token', `cannot read the API token file ${api.tokenFile}: ${e.code ?? e.message}`);
    });
    return { token, from: api.tokenFile };
  }
  const fromEnv = process.env.RELOAD_PPSP_API_TOKEN;
  if (fromEnv) return { token: fromEnv, from: '$RELOAD_PPSP_API_TOKEN' };
  const dir = apiRuntimeDir();
  for (const address of recordAddresses(api.address, host, port)) {
    const record = await readApiRecord(address, dir);
    const token = record && (await readApiToken(record.tokenFile).catch(() => undefined));
    if (token) return { token, from: record.tokenFile };
  }
  return { from: `no --api-token-file, no $RELOAD_PPSP_API_TOKEN, no record for ${api.address} in ${dir}` };
}

/** The one line a 401 prints: what was sent and what to do. */
function unauthorizedMessage(api: ApiEndpoint, found: FoundToken, nodeTokenFile: unknown): string {
  const file = typeof nodeTokenFile === 'string' ? nodeTokenFile : 'NODEDIR/data/api-token';
  const what = found.token === undefined ? `needs its API token and none was found (${found.from})` : `refused the API token from ${found.from} (a node makes a new one at each start)`;
  return `the node API at ${api.address} ${what}: pass --api-token-file ${file}, or run the command as the user who runs the node`;
}

/**
 * The address of the node's page for people, with the token in the fragment (browsers never send a
 * fragment; the page reads it and forgets it); undefined when no token is found.
 */
export async function pageUrl(api: ApiEndpoint): Promise<string | undefined> {
  const target = parseHostPort(api.address, '--api');
  const { token } = await findToken(api, target.host, target.port);
  return token === undefined ? undefined : pageLink(api.address, token);
}

/** The page's address on an API at `address` ("host:port"), carrying `token` in its fragment. */
export function pageLink(address: string, token: string): string {
  return `http://${address}/#token=${encodeURIComponent(token)}`;
}

/** Calls the node API: a POST body is JSON, or raw bytes (application/octet-stream) if given as bytes. */
export async function callApi(api: string | ApiEndpoint, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, timeoutMs = 60_000): Promise<unknown> {
  const endpoint = typeof api === 'string' ? { address: api } : api;
  let target;
  try {
    target = parseHostPort(endpoint.address, '--api');
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const found = await findToken(endpoint, target.host, target.port);
  // Every POST is JSON, even without a body, or bytes: the node refuses a browser's "simple" types.
  const raw = body instanceof Uint8Array;
  const payload = method === 'POST' ? (raw ? body : JSON.stringify(body ?? {})) : undefined;
  const headers: Record<string, string | number> = found.token ? { authorization: `Bearer ${found.token}` } : {};
  if (payload !== undefined) Object.assign(headers, { 'content-type': raw ? 'application/octet-stream' : 'application/json', 'content-length': Buffer.byteLength(payload) });
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.host,
        port: target.port,
        method,
        path,
        headers,
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_ANSWER_BYTES) req.destroy(new Error(`the API answer exceeds ${MAX_ANSWER_BYTES} bytes`));
          else chunks.push(c);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const isJson = (res.headers['content-type'] ?? '').startsWith('application/json');
          let value: unknown = text;
          if (isJson) {
            try {
              value = JSON.parse(text);
            } catch {
              return reject(new ApiError(res.statusCode ?? 0, 'Invalid_Message', `the node API at ${endpoint.address} answered malformed JSON`));
            }
          }
          if (res.statusCode === 401) return reject(new ApiError(401, 'Unauthorized', unauthorizedMessage(endpoint, found, (value as { tokenFile?: unknown })?.tokenFile)));
          if ((res.statusCode ?? 500) >= 400) {
            const v = value as { error?: string; message?: string };
            return reject(new ApiError(res.statusCode ?? 0, v?.error ?? 'Error', v?.message ?? `HTTP ${res.statusCode}`));
          }
          resolve(value);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from the node API at ${endpoint.address} within ${timeoutMs} ms`)));
    req.on('error', (e: NodeJS.ErrnoException) => {
      reject(e.code === 'ECONNREFUSED' ? new ApiError(0, 'Unreachable', `cannot reach the node API at ${endpoint.address}: is \`reload-ppsp node --api ${endpoint.address}\` running?`) : e);
    });
    req.end(payload);
  });
}
