/**
 * The node's local HTTP API (JSON; `/metrics` in the Prometheus text format). Meant for
 * 127.0.0.1: the CLI's client commands talk to it, as `ipfs` talks to its daemon. Every request
 * passes the access check of api-access.ts first (token, Host, Origin, JSON bodies).
 * A refused request answers a 4xx status with the RELOAD error name in its JSON body.
 */
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCode, isReloadError } from '../errors.js';
import { parseNodeId, type Node } from '../node.js';
import { admit, type AccessPolicy, type Refusal } from './api-access.js';
import { ReadCapabilities } from './capability.js';
import { resourceIdFromText, STORAGE_ROUTES } from './storage-api.js';
import { DEFAULT_HTTP_LIMITS, guardConnections, type HttpConnectionLimits } from '../util/http-connection-guard.js';

/** Largest request body the API reads, bytes: room for a value of the largest message, in base64. */
export const API_MAX_BODY_BYTES = 2 * 1024 * 1024;

/** An error answered with its own HTTP status (and headers), not a RELOAD error code. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly errorName: string,
    message: string,
    readonly headers: OutgoingHttpHeaders = {},
  ) {
    super(message);
  }
}

/** 405 with the Allow header RFC 9110 §15.5.6 asks for. */
function methodNotAllowed(what: string, allow: string[]): HttpError {
  return new HttpError(405, 'Invalid_Message', `${what} takes ${allow.join(' or ')}`, { allow: allow.join(', ') });
}

/** HTTP status for a RELOAD error returned through the API. */
function statusOf(code: ErrorCode): number {
  switch (code) {
    case ErrorCode.Forbidden:
      return 403;
    case ErrorCode.Not_Found:
      return 404;
    case ErrorCode.Request_Timeout:
      return 504;
    case ErrorCode.Generation_Counter_Too_Low:
    case ErrorCode.Data_Too_Old:
      return 409;
    case ErrorCode.Data_Too_Large:
    case ErrorCode.Message_Too_Large:
      return 413;
    default:
      return 400;
  }
}

/** The rest of an over-size body is not read: the connection closes after the answer. */
function tooLarge(max: number): HttpError {
  return new HttpError(413, 'Message_Too_Large', `request body above ${max} bytes`, { connection: 'close' });
}

/** A request's body, at most `max` bytes (413 beyond, refused before a byte is read if its length says so). */
export async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  if (Number(req.headers['content-length'] ?? 0) > max) throw tooLarge(max);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw tooLarge(max);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const body = await readBody(req, API_MAX_BODY_BYTES);
  let value: unknown;
  try {
    value = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'Invalid_Message', 'the request body is not valid JSON');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new HttpError(400, 'Invalid_Message', 'the request body must be a JSON object');
  return value as Record<string, unknown>;
}

function send(res: ServerResponse, status: number, body: unknown, type = 'application/json', headers: OutgoingHttpHeaders = {}): void {
  const text = type === 'application/json' ? JSON.stringify(body) + '\n' : String(body);
  res.writeHead(status, { ...headers, 'content-type': type, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The JSON of `GET /status`. */
export function nodeStatus(node: Node) {
  return {
    nodeId: node.nodeIdHex,
    user: node.identity.user,
    overlay: node.config.overlay,
    state: node.state,
    role: node.role,
    listen: node.listenAddress ?? null,
    reachability: node.reachability,
    ...node.topologyStatus(),
    links: node.linkList().map((l) => ({ nodeId: l.remoteNodeIdHex, user: l.remoteUser, address: l.remoteAddress, transport: l.transport, mechanism: node.linkMechanism(l), setupMs: node.linkSetupMs(l) ?? null })),
  };
}

type Route = (node: Node, body: Record<string, unknown>) => Promise<unknown>;

const POST_ROUTES: Record<string, Route> = {
  '/route': async (node, body) => {
    return node.route(resourceIdFromText(body.resource, node.config.hash));
  },
  ...STORAGE_ROUTES,
  '/attach': async (node, body) => {
    if (typeof body.destination !== 'string') throw new HttpError(400, 'Invalid_Message', 'body needs "destination": a Node-ID (32 hex digits)');
    const started = performance.now();
    const link = await node.attach({ type: 'node', id: parseNodeId(body.destination) });
    return { destination: link.remoteNodeIdHex, mechanism: node.linkMechanism(link), address: link.remoteAddress, ms: Math.round(performance.now() - started) };
  },
  '/ping': async (node, body) => {
    if (typeof body.destination !== 'string') throw new HttpError(400, 'Invalid_Message', 'body needs "destination": a Node-ID (32 hex digits)');
    const { rttMs, hops, responder } = await node.ping(body.destination);
    return { destination: responder, rttMs, hops };
  },
};


/**
 * Endpoints a usage adds to the API: called for every request no built-in endpoint takes;
 * returns undefined when the path is not its own. `body` reads the JSON body (bounded).
 */
export type ApiExtension = (method: string, path: string, body: () => Promise<Record<string, unknown>>) => Promise<unknown> | undefined;

/**
 * What an extension answers when it writes the response itself (media bytes, a page) instead of
 * JSON. `respond` owns `res`; an error it throws before writing the head becomes a JSON error.
 */
export class RawAnswer {
  constructor(readonly respond: (req: IncomingMessage, res: ServerResponse) => Promise<void>) {}
}

/** Who may use the API; see api-access.ts for the rules. */
export interface ApiAccessOptions {
  /** The bearer token every request carries (new at each start of the node). */
  token: string;
  /** Where the token is kept, named in 401 answers. */
  tokenFile?: string;
  /** Browser origins allowed to call the API (default none). */
  allowOrigins?: readonly string[];
  /** The API listens beyond loopback; the token is still required (default false). */
  allowRemote?: boolean;
  /** GET /metrics needs no token (default false). */
  publicMetrics?: boolean;
}

export interface ApiOptions extends ApiAccessOptions {
  host: string;
  port: number;
  /** Connection bounds and timeouts; default DEFAULT_HTTP_LIMITS. */
  limits?: Partial<HttpConnectionLimits>;
}

export interface ApiServer {
  /** "host:port" actually bound. */
  address: string;
  close(): Promise<void>;
}

/** An API listening before its node is ready: it answers 503 until `attach`. */
export interface BoundApi extends ApiServer {
  attach(node: Node, extensions?: ApiExtension[]): void;
}

/** The API address could not be bound; the message is one line for the user. */
export class ApiBindError extends Error {
  override name = 'ApiBindError';
}

/** Methods some endpoint takes; anything else is 405 wherever it is sent. */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'DELETE']);
/** How long a browser may cache a CORS preflight answer, s. */
const PREFLIGHT_MAX_AGE_SEC = 600;
/** POST /swarms/<id>/capability: mints a read capability URL for one swarm (capability.ts). */
const CAPABILITY_PATH = /^\/swarms\/([0-9a-fA-F]{64})\/capability$/;

const showAddress = (host: string, port: number) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

function bindError(e: NodeJS.ErrnoException, address: string): Error {
  switch (e.code) {
    case 'EADDRINUSE':
      return new ApiBindError(`API address ${address} is in use`);
    case 'EADDRNOTAVAIL':
      return new ApiBindError(`API address ${address} is not an address of this machine`);
    case 'EACCES':
      return new ApiBindError(`no permission to listen on API address ${address}`);
    default:
      return new ApiBindError(`cannot listen on API address ${address}: ${e.code ?? e.message}`);
  }
}

/** Listens on the API address at once, so a taken port is found before the node joins. */
export async function bindApi(opts: ApiOptions): Promise<BoundApi> {
  const state: ApiState = {
    policy: {
      token: opts.token,
      tokenFile: opts.tokenFile,
      allowOrigins: new Set(opts.allowOrigins ?? []),
      allowRemote: opts.allowRemote ?? false,
      publicMetrics: opts.publicMetrics ?? false,
      capabilities: new ReadCapabilities(),
    },
    address: '',
    extensions: [],
  };
  const server: Server = createServer((req, res) => {
    void handle(state, req, res);
  });
  const dropped = guardConnections(server, { ...DEFAULT_HTTP_LIMITS, ...opts.limits });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(bindError(e, showAddress(opts.host, opts.port))));
    server.listen(opts.port, opts.host, () => {
      server.removeAllListeners('error');
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  state.address = showAddress(a.address, a.port);
  return {
    address: state.address,
    attach(node, extensions = []) {
      state.node = node;
      state.extensions = extensions;
      node.metrics.addSource(() => [
        {
          name: 'reload_api_connections_dropped_total',
          type: 'counter',
          help: 'API connections closed to make room for a newcomer (stalled) or refused because every one was in a handler (all_busy).',
          samples: Object.entries(dropped).map(([reason, value]) => ({ labels: { reason }, value })),
        },
      ]);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Binds the API and serves `node` at once (tests, and tools that need no early bind). */
export async function startApi(node: Node, opts: ApiOptions, extensions: ApiExtension[] = []): Promise<ApiServer> {
  const api = await bindApi(opts);
  api.attach(node, extensions);
  return api;
}

interface ApiState {
  policy: AccessPolicy;
  /** "host:port" bound, for the capability URLs. */
  address: string;
  /** Unset until the node has joined. */
  node?: Node;
  extensions: ApiExtension[];
}

function refusalHeaders(refusal: Refusal): OutgoingHttpHeaders {
  return refusal.status === 401 ? { 'www-authenticate': 'Bearer realm="reload-ppsp"' } : {};
}

async function handle(state: ApiState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const [path, query] = q < 0 ? [url, ''] : [url.slice(0, q), url.slice(q + 1)];
  const method = req.method ?? 'GET';
  const admission = admit({ method, path, cap: new URLSearchParams(query).get('cap') ?? undefined, headers: req.headers }, state.policy);
  if ('refused' in admission) {
    const { status, error, message } = admission.refused;
    const tokenFile = status === 401 ? { tokenFile: state.policy.tokenFile } : {};
    return send(res, status, { error, message, ...tokenFile }, 'application/json', refusalHeaders(admission.refused));
  }
  const origin = req.headers.origin;
  if (origin !== undefined) res.setHeader('access-control-allow-origin', origin).setHeader('vary', 'origin');
  if (admission.admitted === 'preflight') {
    res.writeHead(204, {
      'access-control-allow-methods': [...KNOWN_METHODS].join(', '),
      'access-control-allow-headers': 'authorization, content-type',
      'access-control-max-age': String(PREFLIGHT_MAX_AGE_SEC),
    });
    return void res.end();
  }
  // HEAD is GET without the body (node:http leaves the body out).
  const verb = method === 'HEAD' ? 'GET' : method;
  try {
    if (!KNOWN_METHODS.has(method)) throw methodNotAllowed('the API', [...KNOWN_METHODS]);
    const node = state.node;
    if (!node) throw new HttpError(503, 'Unavailable', 'the node is starting; try again once it has printed "ready"');
    if (path === '/status' || path === '/metrics') {
      if (verb !== 'GET') throw methodNotAllowed(path, ['GET', 'HEAD']);
      if (path === '/status') return send(res, 200, nodeStatus(node));
      return send(res, 200, node.metrics.render({ reload_links: node.linkList().length }), 'text/plain; version=0.0.4');
    }
    const capability = CAPABILITY_PATH.exec(path);
    if (capability) {
      if (verb !== 'POST') throw methodNotAllowed(path, ['POST']);
      return send(res, 200, capabilityAnswer(state, capability[1]!.toLowerCase(), req.headers.host));
    }
    const route = POST_ROUTES[path];
    if (!route) {
      for (const extension of state.extensions) {
        const answer = extension(verb, path, () => readJson(req));
        if (answer === undefined) continue;
        const result = await answer;
        if (result instanceof RawAnswer) return await result.respond(req, res);
        return send(res, 200, result);
      }
      throw new HttpError(404, 'Not_Found', `no endpoint ${method} ${path}`);
    }
    if (verb !== 'POST') throw methodNotAllowed(path, ['POST']);
    send(res, 200, await route(node, await readJson(req)));
  } catch (e) {
    // A raw answer that fails after its head went out can only cut the body short.
    if (res.headersSent) return void res.destroy();
    if (e instanceof HttpError) return send(res, e.status, { error: e.errorName, message: e.message }, 'application/json', e.headers);
    if (isReloadError(e)) return send(res, statusOf(e.code), { error: e.codeName, reason: e.reason, message: e.message });
    send(res, 500, { error: 'Internal', message: (e as Error).message });
  }
}

/**
 * The answer of POST /swarms/<id>/capability: a URL that reads that swarm without a token, on the
 * host the caller used (admit() has checked it), else the address bound.
 */
function capabilityAnswer(state: ApiState, swarmId: string, host: string | undefined) {
  const cap = state.policy.capabilities.mint(swarmId);
  return {
    swarmId,
    url: `http://${host ?? state.address}/swarms/${swarmId}?cap=${cap}`,
    /** The swarm's bytes for a player or a `<video src>`: ranges, waits for chunks not yet here. */
    streamUrl: `http://${host ?? state.address}/swarms/${swarmId}/stream?cap=${cap}`,
    cap,
    grants: `GET and HEAD on /swarms/${swarmId} and below`,
    expires: 'when the node stops',
  };
}
