/**
 * Who may use the node API, decided from a request's method, path and headers alone (pure, no I/O).
 * The rules are those of the tools users know (kubo's origin checks, Transmission's session token,
 * bitcoind's cookie file, Jupyter's token):
 *   - Host must be a loopback name or address, so a DNS-rebound name cannot reach the API;
 *   - a browser's Origin must be on the allow list (empty by default) or the API's own origin (the
 *     page at `/`): Host is loopback then, and no other page can have a loopback origin and port;
 *   - every request carries `Authorization: Bearer <token>`, except GET /metrics when metrics are
 *     public, GET/HEAD under `/swarms/<id>` with that swarm's read capability (`?cap=`), and GET/HEAD
 *     of the page at `/`, which holds no data: its script reads the token from the URL fragment
 *     (never sent to a server) and calls the API with it like any client;
 *   - a POST body is `application/json`, which no cross-origin "simple" request can send without a
 *     CORS preflight.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { BlockList, isIP } from 'node:net';
import type { ReadCapabilities } from './capability.js';

/** What the access check needs to know about the node's settings. */
export interface AccessPolicy {
  /** The bearer token of this run of the node. */
  token: string;
  /** Where the token is kept, named in a 401 so that a user knows what to send. */
  tokenFile?: string;
  /** Origins (as `new URL(x).origin` writes them) whose browser requests are let through. */
  allowOrigins: ReadonlySet<string>;
  /** The API listens beyond loopback (`--api-allow-remote`): IP literals are accepted as Host. */
  allowRemote: boolean;
  /** GET /metrics needs no token (`--api-public-metrics`). */
  publicMetrics: boolean;
  capabilities: ReadCapabilities;
}

/** The parts of a request the check reads. */
export interface RequestFacts {
  method: string;
  /** The path without the query. */
  path: string;
  /** The `cap` query parameter, if any. */
  cap?: string;
  headers: IncomingHttpHeaders;
}

/** How a request was let in. */
export type Admitted = 'token' | 'capability' | 'public-metrics' | 'preflight' | 'page';

/** Why a request is refused: the HTTP status and the error name of the JSON answer. */
export interface Refusal {
  status: 401 | 403 | 415;
  error: 'Unauthorized' | 'Forbidden' | 'Unsupported_Media_Type';
  message: string;
}

export type Admission = { admitted: Admitted } | { refused: Refusal };

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/** True for `localhost` and the loopback addresses (127.0.0.0/8, ::1), without brackets or port. */
export function isLoopbackHost(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true;
  const family = isIP(host);
  return family !== 0 && LOOPBACK.check(host, family === 4 ? 'ipv4' : 'ipv6');
}

/** The host part of a Host header (`name`, `name:port`, `[v6]`, `[v6]:port`), or undefined if malformed. */
export function hostOfHeader(value: string): string | undefined {
  const m = /^(?:\[([0-9a-f:.]+)\]|([a-z0-9.-]+))(?::\d{1,5})?$/i.exec(value);
  if (!m) return undefined;
  if (m[1] !== undefined) return isIP(m[1]) === 6 ? m[1] : undefined;
  return m[2];
}

/**
 * Whether a Host header may reach the API (DNS rebinding: a page of evil.example whose name now
 * resolves to 127.0.0.1 still sends `Host: evil.example`). Loopback names and addresses always;
 * any IP literal when the API is allowed to be remote (an address cannot be rebound); a DNS name
 * only if it is the host of an allowed origin. A request without Host (HTTP/1.0) passes.
 */
export function hostAllowed(header: string | undefined, policy: Pick<AccessPolicy, 'allowRemote' | 'allowOrigins'>): boolean {
  if (header === undefined) return true;
  const host = hostOfHeader(header);
  if (host === undefined) return false;
  if (isLoopbackHost(host)) return true;
  if (isIP(host) !== 0) return policy.allowRemote;
  const name = host.toLowerCase();
  return [...policy.allowOrigins].some((origin) => new URL(origin).hostname === name);
}

/**
 * An allowed origin as browsers send it (`scheme://host[:port]`), or an Error saying why `text` is
 * not one. `null` (sandboxed frames, file: pages) is never allowed: anyone can send it.
 */
export function parseAllowedOrigin(text: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  const bare = url && !url.username && !url.password && url.pathname === '/' && !url.search && !url.hash;
  if (!url || !bare || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new Error(`"${text}" is not an origin like http://localhost:3000 (scheme, host and port only)`);
  }
  return url.origin;
}

/** True if `headerValue` (a Content-Type) is application/octet-stream: raw bytes, e.g. a live channel's input. */
function isBytesContentType(headerValue: string | undefined): boolean {
  return headerValue?.split(';')[0]!.trim().toLowerCase() === 'application/octet-stream';
}

/** True if `headerValue` (a Content-Type) is application/json, in UTF-8 if a charset is named. */
export function isJsonContentType(headerValue: string | undefined): boolean {
  if (headerValue === undefined) return false;
  const [type, ...params] = headerValue.split(';').map((p) => p.trim().toLowerCase());
  if (type !== 'application/json') return false;
  return params.every((p) => !p.startsWith('charset=') || /^charset="?utf-8"?$/.test(p));
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/** True if an Authorization header carries `token` as a Bearer token; compared in constant time. */
export function bearerMatches(authorization: string | undefined, token: string): boolean {
  const m = /^Bearer +([A-Za-z0-9._~+/=-]+) *$/i.exec(authorization ?? '');
  // Digests have equal lengths, so neither the comparison nor a length check tells how close a guess was.
  return m !== null && timingSafeEqual(digest(m[1]!), digest(token));
}

/** The path of the page for people (usages add it); it is static and holds no data. */
export const PAGE_PATH = '/';

/** Whether `origin` is the API's own (`http://` and the Host the request came to): the page at `/`. */
function isOwnOrigin(origin: string, host: string | undefined): boolean {
  return host !== undefined && origin === `http://${host.toLowerCase()}`;
}

const refuse = (status: Refusal['status'], error: Refusal['error'], message: string): Admission => ({ refused: { status, error, message } });

/** Decides whether the API serves a request; the endpoint then checks the method it takes. */
export function admit(req: RequestFacts, policy: AccessPolicy): Admission {
  const { host, origin } = req.headers;
  if (!hostAllowed(host, policy)) return refuse(403, 'Forbidden', `Host "${host}" is not a loopback name or address; use 127.0.0.1 or localhost`);
  if (origin !== undefined && !policy.allowOrigins.has(origin) && !isOwnOrigin(origin, host)) {
    return refuse(403, 'Forbidden', `requests from origin ${origin} are not allowed (the node allows the origins given with --api-allow-origin)`);
  }
  // A browser asks before a cross-origin request with a token; the question itself carries none.
  if (req.method === 'OPTIONS' && origin !== undefined) return { admitted: 'preflight' };
  const readOnly = req.method === 'GET' || req.method === 'HEAD';
  let admitted: Admitted;
  if (bearerMatches(req.headers.authorization, policy.token)) admitted = 'token';
  else if (policy.publicMetrics && readOnly && req.path === '/metrics') admitted = 'public-metrics';
  else if (readOnly && req.path === PAGE_PATH && req.headers.authorization === undefined) admitted = 'page';
  else if (req.cap !== undefined && req.headers.authorization === undefined) {
    if (!policy.capabilities.grants(req.method, req.path, req.cap)) return refuse(401, 'Unauthorized', `the capability does not grant ${req.method} ${req.path}: it reads one swarm only`);
    admitted = 'capability';
  } else {
    const where = policy.tokenFile ? `the token in ${policy.tokenFile}` : 'the node\'s API token';
    return refuse(401, 'Unauthorized', `${req.headers.authorization ? 'wrong API token' : 'no API token'}: send ${where} as "Authorization: Bearer <token>"`);
  }
  // Neither type can be sent from another origin without a preflight, which names no token.
  if (req.method === 'POST' && !isJsonContentType(req.headers['content-type']) && !isBytesContentType(req.headers['content-type'])) {
    return refuse(415, 'Unsupported_Media_Type', `a POST body must be "Content-Type: application/json" (or application/octet-stream for raw bytes), not ${JSON.stringify(req.headers['content-type'] ?? '')}`);
  }
  return { admitted };
}
