/**
 * Links over TLS 1.3 on TCP with mutual certificate authentication (RFC 6940 §6.6.1; the
 * TLS-TCP-FH-NO-ICE link type, §14.10). Both ends present their enrollment certificate; a link is
 * bound to the Node-ID in the peer's certificate, checked against the overlay's roots and the
 * node's clock. Messages travel length-prefixed (overlay/wire/framing.ts).
 */
import { EventEmitter } from 'node:events';
import { LinkCounters } from './link-counters.js';
import type { AddressInfo, Socket } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import type { Identity } from '../../certs/identity.js';
import type { PeerCertificate, TrustStore } from '../../certs/trust.js';
import type { Clock, Timer } from '../clock.js';
import { ErrorCode, ReloadError, isReloadError } from '../errors.js';
import type { Id } from '../id.js';
import { FRAME_PREFIX_BYTES, FrameReader, framePrefix } from '../wire/framing.js';
import type { Link } from './link.js';
import { LINK_SOCKET_OPTIONS, authenticatePeer, tlsCredentials, tlsVerifyRefusal } from './tls-options.js';

/** A TLS handshake not finished after this long is abandoned, ms (listener and dialer). */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** Connections still in their handshake beyond this many are refused at once (slowloris guard). */
export const DEFAULT_MAX_PENDING_HANDSHAKES = 128;
/**
 * After a clean close(), the socket gets this long to flush and exchange FINs before it is
 * destroyed, ms. Bounds the wait on a peer that stopped reading.
 */
export const CLOSE_FLUSH_TIMEOUT_MS = 2_000;
/**
 * Bytes a link hands to its socket before it queues messages itself, instead of the socket's
 * 16 KiB high-water mark: at 16 KiB a bulk sender wakes on 'drain' once per message and TLS
 * encrypts each alone. 'drain' comes only once the socket has written everything, so the buffer
 * must also outlast that wait: 1 MiB against 256 KiB took a download from four seeders from
 * 0.76-0.82 to 0.93-0.99 of one seeder's speed (`npm run bench -- swarm`); 4 MiB gained nothing.
 */
export const SOCKET_WRITE_BUFFER_BYTES = 1024 * 1024;

/** Settings every TlsLink needs. */
export interface TlsLinkOptions {
  clock: Clock;
  /** Largest message accepted or sent, bytes (the overlay's max-message-size, RFC 6940 §6.6). */
  maxMessageBytes: number;
  /** Messages held while the socket is congested; send() refuses beyond this. */
  queueLimit: number;
}

/** "ip:port", with brackets for IPv6. */
export function formatAddress(host: string | undefined, port: number | undefined): string {
  const h = host ?? 'unknown';
  return h.includes(':') ? `[${h}]:${port}` : `${h}:${port}`;
}

/**
 * A Link over one authenticated TLS socket. Created by listenTls and connectTls, never directly by
 * callers. Attach 'message' listeners synchronously in `onLink` or right after `await connectTls`:
 * reading starts on the next tick.
 */
export class TlsLink extends EventEmitter implements Link {
  readonly remoteNodeId: Id;
  readonly remoteNodeIdHex: string;
  readonly remoteUser: string;
  readonly remoteAddress: string;
  readonly localAddress: string;
  readonly transport = 'tls';
  /** The peer's verified enrollment certificate (for checking its signatures without a lookup). */
  readonly peerCertificate: PeerCertificate;

  private readonly clock: Clock;
  private readonly maxMessageBytes: number;
  private readonly queueLimit: number;
  private readonly reader: FrameReader;
  /** Messages waiting for 'drain'; bounded by queueLimit. */
  private readonly queue: Uint8Array[] = [];
  private corked = false;
  private isOpen = true;
  private flushTimer: Timer | undefined;
  /** Bytes and messages through this link. */
  readonly counters = new LinkCounters();

  constructor(
    private readonly socket: TLSSocket,
    peer: PeerCertificate,
    opts: TlsLinkOptions,
  ) {
    super();
    this.peerCertificate = peer;
    this.remoteNodeId = peer.identity.nodeId;
    this.remoteNodeIdHex = peer.identity.nodeIdHex;
    this.remoteUser = peer.identity.user;
    this.remoteAddress = formatAddress(socket.remoteAddress, socket.remotePort);
    this.localAddress = formatAddress(socket.localAddress, socket.localPort);
    this.clock = opts.clock;
    this.maxMessageBytes = opts.maxMessageBytes;
    this.queueLimit = opts.queueLimit;
    this.reader = new FrameReader(opts.maxMessageBytes);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.flushQueue());
    socket.on('error', (error) => this.close(error));
    socket.on('close', () => {
      this.flushTimer?.cancel();
      this.finish(undefined);
    });
  }

  get open(): boolean {
    return this.isOpen;
  }

  get queuedMessages(): number {
    return this.queue.length;
  }





  /**
   * Sends one message; the link keeps a reference until it is written, so do not modify `bytes`
   * afterwards. Throws ReloadError for a message the framing cannot carry: empty
   * (Invalid_Message) or above maxMessageBytes (Message_Too_Large; fragment first, RFC 6940 §6.7).
   */
  send(bytes: Uint8Array): boolean {
    if (bytes.length === 0) throw new ReloadError(ErrorCode.Invalid_Message, 'cannot send an empty message', 'empty_frame');
    if (bytes.length > this.maxMessageBytes) {
      throw new ReloadError(ErrorCode.Message_Too_Large, `message of ${bytes.length} bytes exceeds the limit of ${this.maxMessageBytes}`);
    }
    if (!this.isOpen) return false;
    if (this.queue.length > 0 || this.congested) {
      if (this.queue.length >= this.queueLimit) return false;
      this.queue.push(bytes);
      return true;
    }
    this.write(bytes);
    return true;
  }

  /**
   * Closes the link and fires 'close' (once). Without an error, what was already written is
   * flushed (for at most CLOSE_FLUSH_TIMEOUT_MS); queued messages are dropped. With an error, the
   * socket is destroyed at once.
   */
  close(error?: Error): void {
    if (!this.isOpen) return;
    if (error || this.socket.destroyed) {
      this.socket.destroy();
    } else {
      this.socket.end();
      this.flushTimer = this.clock.after(CLOSE_FLUSH_TIMEOUT_MS, () => this.socket.destroy());
    }
    this.finish(error);
  }

  private finish(error: Error | undefined): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.queue.length = 0;
    this.emit('close', error);
  }

  /**
   * Prefix and message go out as two writes, so a large message is never copied; corking until
   * the next tick turns everything sent in one turn of the event loop into a single TLS write.
   */
  private write(bytes: Uint8Array): void {
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(framePrefix(bytes.length));
    this.socket.write(bytes);
    this.counters.bytesOut += FRAME_PREFIX_BYTES + bytes.length;
    this.counters.messagesOut++;
  }

  private get congested(): boolean {
    return this.socket.writableLength >= SOCKET_WRITE_BUFFER_BYTES;
  }

  private flushQueue(): void {
    while (this.isOpen && this.queue.length > 0 && !this.congested) this.write(this.queue.shift()!);
  }

  private onData(chunk: Buffer): void {
    if (!this.isOpen) return;
    this.counters.bytesIn += chunk.length;
    let frames: Buffer[];
    try {
      frames = this.reader.push(chunk);
    } catch (e) {
      // Over-size or empty frame: the stream cannot be resynchronised (RFC 6940 §6.6).
      this.close(e as Error);
      return;
    }
    for (const frame of frames) {
      if (!this.isOpen) return;
      this.counters.messagesIn++;
      this.emit('message', frame);
    }
  }
}

/** A bound listener. */
export interface TlsListener {
  /** The bound address; the actual port when 0 was asked. */
  readonly address: { host: string; port: number };
  /** Stops accepting, abandons handshakes in progress and closes every link it created. */
  close(): Promise<void>;
}

/** Options of listenTls. */
export interface ListenTlsOptions extends TlsLinkOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  identity: Identity;
  trust: TrustStore;
  /** Default DEFAULT_HANDSHAKE_TIMEOUT_MS, measured on `clock`. */
  handshakeTimeoutMs?: number;
  /** Default DEFAULT_MAX_PENDING_HANDSHAKES. */
  maxPendingHandshakes?: number;
  /** A peer authenticated; attach listeners synchronously. */
  onLink(link: TlsLink): void;
  /**
   * A connection was refused: ReloadError(Forbidden) with the certificate reason (`no_certificate`,
   * `untrusted_certificate`, `certificate_expired`, `wrong_overlay`, ...), ReloadError
   * (Request_Timeout, `handshake_timeout`), ReloadError(Forbidden, `too_many_handshakes`) when
   * maxPendingHandshakes are in progress, or
   * the TLS error of a failed handshake (e.g. `ERR_SSL_UNSUPPORTED_PROTOCOL`).
   */
  onRefused?(remoteAddress: string, error: Error): void;
}

/**
 * The listener's check of a client: it must have sent a certificate that OpenSSL verified against
 * the overlay's roots, and that TrustStore accepts at the node's time.
 */
function authenticateClient(socket: TLSSocket, trust: TrustStore, clock: Clock): PeerCertificate {
  const cert = socket.getPeerX509Certificate();
  if (!cert) throw new ReloadError(ErrorCode.Forbidden, 'the peer sent no certificate', 'no_certificate');
  if (!socket.authorized) {
    // authorizationError is typed Error but is OpenSSL's code string at runtime.
    const code = String(socket.authorizationError);
    throw tlsVerifyRefusal(code) ?? new ReloadError(ErrorCode.Forbidden, `peer certificate refused by TLS verification (${code})`, 'bad_certificate');
  }
  return authenticatePeer(cert.raw, trust, clock.now());
}

/**
 * Accepts TLS links (RFC 6940 §6.6.1). The certificate decision is made here rather than by
 * OpenSSL (`rejectUnauthorized: false`) so that a refusal has a reason, reported to `onRefused`;
 * a refused socket is destroyed before any of its data is read.
 */
export async function listenTls(opts: ListenTlsOptions): Promise<TlsListener> {
  const { clock, trust } = opts;
  const handshakeTimeoutMs = opts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  const maxPending = opts.maxPendingHandshakes ?? DEFAULT_MAX_PENDING_HANDSHAKES;
  const refuse = (address: string, error: Error) => opts.onRefused?.(address, error);
  const links = new Set<TlsLink>();
  /** Connections in their handshake, by remote "ip:port" (unique while the connection lives). */
  const pending = new Map<string, { raw: Socket; timer: Timer }>();

  const server = tls.createServer({
    ...tlsCredentials(opts.identity, trust),
    ...LINK_SOCKET_OPTIONS,
    requestCert: true,
    rejectUnauthorized: false,
    // Ours runs on `clock`, so Node's wall-clock timer is switched off: Node reads 0 as "default
    // (120 s)" and arms its timer only for a positive value.
    handshakeTimeout: -1,
  });

  // Runs after tls.Server's own 'connection' listener has wrapped the socket.
  server.on('connection', (raw: Socket) => {
    const address = formatAddress(raw.remoteAddress, raw.remotePort);
    if (pending.size >= maxPending) {
      raw.destroy();
      refuse(address, new ReloadError(ErrorCode.Forbidden, `too many TLS handshakes in progress (limit ${maxPending})`, 'too_many_handshakes'));
      return;
    }
    const timer = clock.after(handshakeTimeoutMs, () => {
      raw.destroy();
      refuse(address, new ReloadError(ErrorCode.Request_Timeout, `TLS handshake not finished within ${handshakeTimeoutMs} ms`, 'handshake_timeout'));
    });
    pending.set(address, { raw, timer });
    raw.once('close', () => {
      timer.cancel();
      if (pending.get(address)?.raw === raw) pending.delete(address);
    });
  });

  server.on('secureConnection', (socket: TLSSocket) => {
    const address = formatAddress(socket.remoteAddress, socket.remotePort);
    pending.get(address)?.timer.cancel();
    pending.delete(address);
    let peer: PeerCertificate;
    try {
      peer = authenticateClient(socket, trust, clock);
    } catch (e) {
      socket.destroy();
      refuse(address, e as Error);
      return;
    }
    const link = new TlsLink(socket, peer, opts);
    links.add(link);
    link.once('close', () => links.delete(link));
    opts.onLink(link);
  });

  server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
    // A hang-up mid-handshake is the client leaving (or our own destroy above), not a refusal.
    if (error.code === 'ECONNRESET') return;
    refuse(formatAddress(socket.remoteAddress, socket.remotePort), error);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Accept errors (EMFILE, ...) are emitted on the server and would otherwise crash the process;
  // the server keeps listening.
  server.on('error', (error) => refuse('unknown', error));

  const bound = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    address: { host: bound.address, port: bound.port },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const { raw, timer } of pending.values()) {
          timer.cancel();
          raw.destroy();
        }
        pending.clear();
        for (const link of [...links]) link.close();
      });
      return closing;
    },
  };
}

/** Options of connectTls. */
export interface ConnectTlsOptions extends TlsLinkOptions {
  host: string;
  port: number;
  identity: Identity;
  trust: TrustStore;
  /** Refuse the server unless its certificate names this Node-ID (`node_id_mismatch`). */
  expectedNodeId?: Id;
  /** Connect plus handshake, ms on `clock`; default DEFAULT_HANDSHAKE_TIMEOUT_MS. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** A TCP connection already open to host:port (a punched one): the handshake runs on it. */
  socket?: Socket;
}

/** Why a dial failed, in words an operator can act on. */
function dialError(error: NodeJS.ErrnoException, target: string): Error {
  if (isReloadError(error)) return error;
  const refusal = tlsVerifyRefusal(error.code);
  if (refusal) return refusal;
  if (error.syscall) return new Error(`cannot reach ${target}: ${error.code ?? error.message}`, { cause: error });
  return new Error(`TLS handshake with ${target} failed: ${error.message}`, { cause: error });
}

/**
 * Opens a TLS link to a node (RFC 6940 §6.6.1). The server's certificate must chain to the
 * overlay's roots (OpenSSL) and pass TrustStore at the node's time, and name `expectedNodeId`
 * if given. Rejects with ReloadError(Forbidden) for a refused certificate, ReloadError
 * (Request_Timeout, `connect_timeout`), the signal's reason when aborted, or an Error saying which
 * address could not be reached and why.
 *
 * Under TLS 1.3 the client finishes its handshake before the server has judged the client's
 * certificate, so a server that refuses us shows up as a link that closes (without error) right
 * after this promise resolves.
 */
export function connectTls(opts: ConnectTlsOptions): Promise<TlsLink> {
  const { clock, trust, signal } = opts;
  const target = formatAddress(opts.host, opts.port);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  return new Promise<TlsLink>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    let verified: PeerCertificate | undefined;
    const socket = tls.connect({
      host: opts.host,
      port: opts.port,
      ...(opts.socket ? { socket: opts.socket } : {}),
      ...tlsCredentials(opts.identity, trust),
      // The default compares the host with DNS/IP SANs, which enrollment certificates do not
      // have; the identity to check is the Node-ID. An Error returned here aborts the handshake.
      checkServerIdentity: (_host, cert) => {
        try {
          verified = authenticatePeer(cert.raw, trust, clock.now(), opts.expectedNodeId);
          return undefined;
        } catch (e) {
          return e as Error;
        }
      },
    });
    // tls.connect ignores net's noDelay/keepAlive options; the setters apply them on connect.
    socket.setNoDelay(LINK_SOCKET_OPTIONS.noDelay);
    socket.setKeepAlive(LINK_SOCKET_OPTIONS.keepAlive, LINK_SOCKET_OPTIONS.keepAliveInitialDelay);
    const onError = (error: Error) => fail(dialError(error, target));
    const onClose = () => fail(new Error(`connection to ${target} closed during the TLS handshake`));
    const onAbort = () => fail(signal!.reason as Error);
    const timer = clock.after(timeoutMs, () =>
      fail(new ReloadError(ErrorCode.Request_Timeout, `no TLS link to ${target} within ${timeoutMs} ms`, 'connect_timeout')),
    );
    signal?.addEventListener('abort', onAbort, { once: true });
    const settle = () => {
      timer.cancel();
      signal?.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    function fail(error: Error): void {
      settle();
      socket.destroy();
      reject(error);
    }
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.once('secureConnect', () => {
      // checkServerIdentity runs on every full handshake; only a resumed session (we never offer
      // one) would skip it.
      if (!verified) return fail(new Error(`TLS session with ${target} resumed without a certificate check`));
      settle();
      resolve(new TlsLink(socket, verified, opts));
    });
  });
}
