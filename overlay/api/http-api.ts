/**
 * The node's local HTTP API (JSON; `/metrics` in the Prometheus text format). Meant for
 * 127.0.0.1: the CLI's client commands talk to it, as `ipfs` talks to its daemon.
 * A refused request answers a 4xx status with the RELOAD error name in its JSON body.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCode, isReloadError } from '../errors.js';
import type { Node } from '../node.js';
import { resourceIdFromText, STORAGE_ROUTES } from './storage-api.js';

/** Largest request body the API reads, bytes: room for a value of the largest message, in base64. */
export const API_MAX_BODY_BYTES = 2 * 1024 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly errorName: string,
    message: string,
  ) {
    super(message);
  }
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

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > API_MAX_BODY_BYTES) throw new HttpError(413, 'Message_Too_Large', `request body above ${API_MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  let value: unknown;
  try {
    value = size === 0 ? {} : JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'Invalid_Message', 'the request body is not valid JSON');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new HttpError(400, 'Invalid_Message', 'the request body must be a JSON object');
  return value as Record<string, unknown>;
}

function send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = type === 'application/json' ? JSON.stringify(body) + '\n' : String(body);
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The JSON of `GET /status`. */
export function nodeStatus(node: Node) {
  return {
    nodeId: node.nodeIdHex,
    user: node.identity.user,
    overlay: node.config.overlay,
    state: node.state,
    listen: node.listenAddress ?? null,
    ...node.topologyStatus(),
    links: node.linkList().map((l) => ({ nodeId: l.remoteNodeIdHex, user: l.remoteUser, address: l.remoteAddress, transport: l.transport })),
  };
}

type Route = (node: Node, body: Record<string, unknown>) => Promise<unknown>;

const POST_ROUTES: Record<string, Route> = {
  '/route': async (node, body) => {
    return node.route(resourceIdFromText(body.resource, node.config.hash));
  },
  ...STORAGE_ROUTES,
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

export interface ApiServer {
  /** "host:port" actually bound. */
  address: string;
  close(): Promise<void>;
}

export async function startApi(node: Node, host: string, port: number, extensions: ApiExtension[] = []): Promise<ApiServer> {
  const server: Server = createServer((req, res) => {
    void handle(node, req, res, extensions);
  });
  server.requestTimeout = 60_000;
  server.headersTimeout = 10_000;
  server.maxConnections = 64;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  return {
    address: a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(node: Node, req: IncomingMessage, res: ServerResponse, extensions: ApiExtension[]): Promise<void> {
  const path = (req.url ?? '/').split('?')[0]!;
  try {
    if (req.method === 'GET' && path === '/status') return send(res, 200, nodeStatus(node));
    if (req.method === 'GET' && path === '/metrics') {
      return send(res, 200, node.metrics.render({ reload_links: node.linkList().length }), 'text/plain; version=0.0.4');
    }
    const route = POST_ROUTES[path];
    if (!route) {
      for (const extension of extensions) {
        const answer = extension(req.method ?? 'GET', path, () => readJson(req));
        if (answer !== undefined) return send(res, 200, await answer);
      }
      throw new HttpError(404, 'Not_Found', `no endpoint ${req.method} ${path}`);
    }
    if (req.method !== 'POST') throw new HttpError(405, 'Invalid_Message', `${path} takes POST`);
    send(res, 200, await route(node, await readJson(req)));
  } catch (e) {
    if (e instanceof HttpError) return send(res, e.status, { error: e.errorName, message: e.message });
    if (isReloadError(e)) return send(res, statusOf(e.code), { error: e.codeName, reason: e.reason, message: e.message });
    send(res, 500, { error: 'Internal', message: (e as Error).message });
  }
}
