/**
 * TCP hole punching (RFC 5128 §3.4; ICE-TCP's simultaneous-open candidates, RFC 6544 §4.3): two
 * nodes behind NATs each connect to the other from a port they announced through the overlay, at
 * about the same time. Each NAT then holds a mapping for the other's packets, the two SYNs cross,
 * and TCP opens one connection from both ends. Neither end is a listener, so the TLS roles are
 * given: the node with the lower Node-ID is the TLS server. The peer is authenticated to its
 * Node-ID exactly as on a dialled link.
 */
import net, { type Socket } from 'node:net';
import tls from 'node:tls';
import type { Identity } from '../../certs/identity.js';
import type { TrustStore } from '../../certs/trust.js';
import type { Timer } from '../clock.js';
import { ErrorCode, ReloadError } from '../errors.js';
import type { Id } from '../id.js';
import { connectTls, formatAddress, TlsLink, type TlsLinkOptions } from './tls-link.js';
import { Spray, type SprayTarget } from './tcp-spray.js';
import { authenticatePeer, LINK_SOCKET_OPTIONS, tlsCredentials } from './tls-options.js';

/**
 * A connect that fails at once (the peer's host answered with a reset because its own connect
 * has not started, or the OS refused the port for a moment) is tried again after this long, ms.
 * A SYN the far NAT dropped needs no retry of ours: TCP sends it again itself.
 */
export const PUNCH_RETRY_MS = 200;

/** host:port: the peer's public address and the port it announced; tlsServer: we have the lower Node-ID. */
export interface PunchOptions extends SecureOptions {
  /** Our end: the port we announced (and the address to bind, when not the default one). */
  localHost?: string;
  localPort: number;
  /** A birthday punch instead (tcp-spray.ts), when one side's NAT picks new ports. */
  spray?: SprayTarget;
}

/** A free TCP port on `host`, from the OS, for a punch to announce before it connects from it. */
export async function reservePort(host?: string): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** One punch: connect attempts from the announced port until one opens, all under one deadline. */
class Punch {
  private socket: Socket | undefined;
  private retry: Timer | undefined;
  private expired = false;

  constructor(private readonly opts: PunchOptions) {}

  /** Resolves with the open TCP connection; never settles once expire() ran. */
  open(): Promise<Socket> {
    return new Promise<Socket>((resolve, reject) => this.attempt(resolve, reject));
  }

  expire(): void {
    this.expired = true;
    this.retry?.cancel();
    this.socket?.destroy();
  }

  private attempt(resolve: (s: Socket) => void, reject: (e: Error) => void): void {
    if (this.expired) return;
    const { opts } = this;
    const socket = net.connect({ host: opts.host, port: opts.port, localPort: opts.localPort, ...(opts.localHost ? { localAddress: opts.localHost } : {}) });
    this.socket = socket;
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (e: NodeJS.ErrnoException) => {
      socket.destroy();
      if (this.expired) return;
      if (e.code !== undefined && RETRIED.has(e.code)) this.retry = opts.clock.after(PUNCH_RETRY_MS, () => this.attempt(resolve, reject));
      else reject(new Error(`cannot punch to ${formatAddress(opts.host, opts.port)}: ${e.code ?? e.message}`, { cause: e }));
    });
  }
}

/** Connect errors that mean "not yet" during a punch. */
const RETRIED = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EADDRINUSE', 'EADDRNOTAVAIL']);

/** What TLS on a connection made without a listener needs (a punched or relayed one). */
export interface SecureOptions extends TlsLinkOptions {
  /** The far end's address, for messages. */
  host: string;
  port: number;
  identity: Identity;
  trust: TrustStore;
  expectedNodeId: Id;
  tlsServer: boolean;
  timeoutMs: number;
}

/**
 * Runs TLS on an open TCP connection, as server or client, and authenticates the peer to
 * `expectedNodeId`: how a punched connection, or a relay's spliced one, becomes a link.
 */
export function secureTcp(raw: Socket, opts: SecureOptions): Promise<TlsLink> {
  return opts.tlsServer ? acceptTlsOn(raw, opts) : connectTls({ ...opts, socket: raw });
}

/** The TLS server's half on a socket that no listener accepted. */
function acceptTlsOn(raw: Socket, opts: SecureOptions): Promise<TlsLink> {
  return new Promise<TlsLink>((resolve, reject) => {
    const socket = new tls.TLSSocket(raw, {
      isServer: true,
      requestCert: true,
      rejectUnauthorized: false,
      secureContext: tls.createSecureContext(tlsCredentials(opts.identity, opts.trust)),
    });
    socket.setNoDelay(LINK_SOCKET_OPTIONS.noDelay);
    socket.setKeepAlive(LINK_SOCKET_OPTIONS.keepAlive, LINK_SOCKET_OPTIONS.keepAliveInitialDelay);
    // A client that never sends its hello must not hold the socket: connectTls bounds the other side.
    const timer = opts.clock.after(opts.timeoutMs, () => fail(new ReloadError(ErrorCode.Request_Timeout, `no TLS handshake from ${formatAddress(opts.host, opts.port)} within ${opts.timeoutMs} ms`, 'handshake_timeout')));
    const fail = (e: Error) => {
      timer.cancel();
      socket.destroy();
      reject(e);
    };
    socket.once('error', fail);
    socket.once('close', () => fail(new Error(`punched connection to ${formatAddress(opts.host, opts.port)} closed during the TLS handshake`)));
    socket.once('secure', () => {
      timer.cancel();
      socket.removeAllListeners('error');
      socket.removeAllListeners('close');
      try {
        // Without a tls.Server, Node never records OpenSSL's verdict on the client's chain
        // (`authorized` stays false), so TrustStore checks the chain against the overlay's roots on
        // its own; the handshake has already proved the client holds the certificate's key.
        const cert = socket.getPeerX509Certificate();
        if (!cert) throw new ReloadError(ErrorCode.Forbidden, 'the peer sent no certificate', 'no_certificate');
        const peer = authenticatePeer(cert.raw, opts.trust, opts.clock.now(), opts.expectedNodeId);
        resolve(new TlsLink(socket, peer, opts));
      } catch (e) {
        fail(e as Error);
      }
    });
  });
}

/**
 * Punches a TCP connection to the peer and runs TLS on it. Rejects with ReloadError
 * (Request_Timeout, `punch_timeout`) when no connection opens and authenticates within timeoutMs
 * (a NAT that changes ports, or a firewall that drops the SYNs), or with the TLS refusal.
 */
export async function punchTls(opts: PunchOptions): Promise<TlsLink> {
  const punch = opts.spray ? new Spray(opts.spray) : new Punch(opts);
  let timer: Timer | undefined;
  let late = false;
  const deadline = new Promise<never>((_, reject) => {
    timer = opts.clock.after(opts.timeoutMs, () => {
      late = true;
      punch.expire();
      reject(new ReloadError(ErrorCode.Request_Timeout, `no punched link to ${formatAddress(opts.host, opts.port)} within ${opts.timeoutMs} ms`, 'punch_timeout'));
    });
  });
  const linked = (async () => {
    const raw = await punch.open();
    const link = await secureTcp(raw, opts);
    // Authenticated just after the deadline: nobody waits for it any more.
    if (late) link.close();
    return link;
  })();
  // After the deadline its failure (the socket destroyed) has nobody to tell.
  linked.catch(() => {});
  try {
    return await Promise.race([linked, deadline]);
  } finally {
    timer?.cancel();
  }
}
