/**
 * The HTTPS enrollment server of RFC 6940 §11.3. A client POSTs `multipart/form-data` with
 * `username`, `password`, optionally `nodeids` (only 1 is supported) and `csr` (PKCS#10, PEM or
 * DER); after checking the password against the users file, the server issues a certificate with
 * a Node-ID of its own random choice and answers 200 `application/pkix-cert` with the DER.
 *
 * Refusals: 403 with a token in the body (`failed_authentication`, `username_not_available`,
 * `Node-IDs_not_available`), 400 `bad_CSR` for a CSR that does not parse or verify, 400 for a
 * malformed form, 405 for another method, 404 for another path, 413 for a body over the bound,
 * 503 when the concurrency bound is reached. Everything an unauthenticated sender can use is
 * bounded: body size (refused while streaming), header size, header and request time, TLS
 * handshake time, connections and concurrent requests.
 */
import { X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { EnrollmentError, issueNodeCertificate } from './ca.js';
import { loadCaDir } from './ca-dir.js';
import { ENROLL_MAX_BODY_BYTES, ENROLL_PATH, FORM_FIELDS, PKIX_CERT_MEDIA_TYPE } from './enrollment-protocol.js';
import { boundaryOf, MultipartError, parseMultipart, type FormPart } from './multipart.js';
import { ensureServerCertificate } from './server-cert.js';
import { authenticate, loadUsers } from './users.js';
import { DEFAULT_HTTP_LIMITS, guardConnections } from '../overlay/util/http-connection-guard.js';

/** Requests handled at once; each costs a scrypt (32 MiB) and an RSA signature. */
export const DEFAULT_MAX_CONCURRENT_REQUESTS = 4;
/** Open connections at once, idle or not. */
export const DEFAULT_MAX_CONNECTIONS = 64;
/** Time for a client to send its request headers, ms (also the TLS handshake bound). */
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
/** Time for a client to send its whole request, ms. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** Largest request header block, bytes, and most header lines. */
const MAX_HEADER_BYTES = 8 * 1024;
const MAX_HEADER_LINES = 32;

export interface EnrollmentServerOptions {
  /** The CA directory (`ca init`); the server's TLS pair is kept there too. */
  dir: string;
  /** Address to listen on; the TLS certificate is issued for it, so clients must use the same name. */
  host: string;
  /** TCP port; 0 picks a free one (see `url`). */
  port: number;
  /** The users file (`ca adduser`); re-read per request, so added users need no restart. */
  usersFile: string;
  /** Default ENROLL_MAX_BODY_BYTES. */
  maxBodyBytes?: number;
  /** Default DEFAULT_MAX_CONCURRENT_REQUESTS; further requests get 503. */
  maxConcurrentRequests?: number;
  /** Default DEFAULT_MAX_CONNECTIONS. */
  maxConnections?: number;
  /** Default DEFAULT_HEADERS_TIMEOUT_MS. */
  headersTimeoutMs?: number;
  /** Default DEFAULT_REQUEST_TIMEOUT_MS. */
  requestTimeoutMs?: number;
  /** One line per enrollment or refusal (never a password); default: silent. */
  log?: (line: string) => void;
}

export interface EnrollmentServer {
  /** `https://HOST:PORT/enroll`, with the port actually bound. */
  url: string;
  /** Stops listening and closes every connection, idle or busy. */
  close(): Promise<void>;
}

/** A refusal: status, body token, and what the log should say. */
class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly token: string,
    message = token,
  ) {
    super(message);
  }
}

/** An HTTP/1.1 literal for an IPv6 address needs brackets. */
function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Reads the request body, refusing it with 413 as soon as it would exceed `maxBytes`: before
 * reading anything when Content-Length says so, otherwise at the chunk that crosses the bound,
 * which is then dropped rather than buffered.
 */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const tooLarge = () => new Refusal(413, 'request_too_large', `request body over ${maxBytes} bytes`);
  if (Number(req.headers['content-length']) > maxBytes) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.off('data', onData);
        reject(tooLarge());
      } else {
        chunks.push(chunk);
      }
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks, size)));
    // A client that goes away mid-body; there is nobody left to answer.
    req.once('error', reject);
    req.once('close', () => reject(new Refusal(400, 'incomplete_request')));
  });
}

function textField(form: Map<string, FormPart>, name: string): string {
  const part = form.get(name);
  if (!part) throw new Refusal(400, 'bad_request', `missing form field "${name}"`);
  return part.data.toString('utf8');
}

/** PEM as sent, or DER wrapped into PEM, for parseCsr. */
function csrPem(data: Buffer): string {
  if (data.subarray(0, 64).toString('latin1').trimStart().startsWith('-----BEGIN')) return data.toString('utf8');
  const b64 = data.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE REQUEST-----\n${b64}\n-----END CERTIFICATE REQUEST-----\n`;
}

/**
 * Starts the enrollment server for the CA in `dir`. Fails before listening when the CA directory
 * or the users file is missing or broken.
 */
export async function startEnrollmentServer(opts: EnrollmentServerOptions): Promise<EnrollmentServer> {
  const { ca, config } = await loadCaDir(opts.dir);
  await loadUsers(opts.usersFile); // fail at start, not at the first request
  const tls = await ensureServerCertificate(opts.dir, ca, opts.host);
  const maxBodyBytes = opts.maxBodyBytes ?? ENROLL_MAX_BODY_BYTES;
  const maxConcurrent = opts.maxConcurrentRequests ?? DEFAULT_MAX_CONCURRENT_REQUESTS;
  const headersTimeoutMs = opts.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
  // Names and URLs in log lines come from the network: no control characters, no forged lines.
  const log = (line: string) => opts.log?.(line.replace(/[\u0000-\u001f\u007f]/g, '?'));
  let active = 0;

  /** Authenticates and issues; returns the DER certificate or throws a Refusal. */
  async function enroll(form: Map<string, FormPart>): Promise<Buffer> {
    const user = textField(form, FORM_FIELDS.username);
    const password = textField(form, FORM_FIELDS.password);
    const csr = form.get(FORM_FIELDS.csr);
    if (!csr) throw new Refusal(400, 'bad_request', `missing form field "${FORM_FIELDS.csr}"`);
    const nodeIds = form.get(FORM_FIELDS.nodeIds)?.data.toString('latin1').trim();
    if (nodeIds !== undefined) {
      if (!/^\d{1,6}$/.test(nodeIds)) throw new Refusal(400, 'bad_request', `"${FORM_FIELDS.nodeIds}" is not a count`);
      if (Number(nodeIds) !== 1) throw new Refusal(403, 'Node-IDs_not_available', `${user} asked for ${nodeIds} Node-IDs`);
    }
    if (!(await authenticate(await loadUsers(opts.usersFile), user, password))) {
      throw new Refusal(403, 'failed_authentication', `failed authentication for "${user.slice(0, 100)}"`);
    }
    try {
      const issued = issueNodeCertificate(ca, csrPem(csr.data), { overlay: config.overlay, user });
      log(`enrolled ${user} as node ${issued.nodeIdHex}`);
      return new X509Certificate(issued.certPem).raw;
    } catch (e) {
      if (!(e instanceof EnrollmentError)) throw e;
      throw new Refusal(e.reason === 'bad_CSR' ? 400 : 403, e.reason, `${user}: ${e.message}`);
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?', 1)[0];
    if (path !== ENROLL_PATH && path !== '/') throw new Refusal(404, 'not_found');
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      throw new Refusal(405, 'method_not_allowed');
    }
    if (active >= maxConcurrent) {
      res.setHeader('Retry-After', '1');
      throw new Refusal(503, 'busy');
    }
    active++;
    try {
      const boundary = boundaryOf(req.headers['content-type']);
      const form = parseMultipart(await readBody(req, maxBodyBytes), boundary);
      const der = await enroll(form);
      res.writeHead(200, { 'Content-Type': PKIX_CERT_MEDIA_TYPE, 'Content-Length': der.length });
      res.end(der);
    } finally {
      active--;
    }
  }

  function refuse(res: ServerResponse, status: number, token: string): void {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(token) });
    res.end(token);
  }

  const server: Server = createServer(
    { key: tls.keyPem, cert: tls.certPem, minVersion: 'TLSv1.2', maxHeaderSize: MAX_HEADER_BYTES, handshakeTimeout: headersTimeoutMs },
    (req, res) => {
      // One request per connection: enrollment is a one-off, and it lets a refusal end a body
      // the server chose not to read.
      res.setHeader('Connection', 'close');
      handle(req, res).catch((e: unknown) => {
        if (e instanceof Refusal) {
          log(`refused ${req.method} ${req.url?.slice(0, 100)} from ${req.socket.remoteAddress}: ${e.status} ${e.message}`);
          refuse(res, e.status, e.token);
        } else if (e instanceof MultipartError) {
          log(`refused a malformed form from ${req.socket.remoteAddress}: ${e.message}`);
          refuse(res, 400, 'bad_request');
        } else {
          log(`internal error: ${(e as Error).message}`);
          refuse(res, 500, 'internal_error');
        }
      });
    },
  );
  // Stalled clients are evicted for newcomers rather than keeping them out (http-connection-guard.ts).
  guardConnections(server, {
    maxConnections: opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    headersTimeoutMs,
    idleTimeoutMs: headersTimeoutMs,
    requestTimeoutMs: opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    checkIntervalMs: DEFAULT_HTTP_LIMITS.checkIntervalMs,
  });
  server.maxHeadersCount = MAX_HEADER_LINES;
  const connections = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://${urlHost(opts.host)}:${port}${ENROLL_PATH}`,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Raw sockets, not just HTTP connections: one still in its TLS handshake would otherwise
      // hold close() up until the handshake timeout.
      const sockets = [...connections].map((socket) => new Promise((resolve) => socket.once('close', resolve).destroy()));
      await Promise.all([closed, ...sockets]);
    },
  };
}
