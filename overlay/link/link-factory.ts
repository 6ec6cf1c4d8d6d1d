/**
 * How a node makes links: it listens at an address and dials a peer's address, and gets Links
 * whose remote end is authenticated. TLS (tlsLinks) is what real nodes use; a MemoryNetwork gives
 * the same two calls over in-process links for tests and simulation. The node does not know which
 * one it has; this file is the one place that turns a node's settings into TLS options.
 */
import type { Socket } from 'node:net';
import type { Identity } from '../../certs/identity.js';
import type { TrustStore } from '../../certs/trust.js';
import type { Clock } from '../clock.js';
import type { Id } from '../id.js';
import type { Link } from './link.js';
import { connectTls, listenTls } from './tls-link.js';
import { punchTls, reservePort, secureTcp } from './tls-punch.js';
import type { SprayTarget } from './tcp-spray.js';

export interface LinkListener {
  /** The bound address; the actual port when 0 was asked. */
  readonly address: { host: string; port: number };
  /** Stops accepting and closes every link it created. */
  close(): Promise<void>;
}

export interface ListenOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  maxMessageBytes: number;
  queueLimit: number;
  /** A peer authenticated; attach listeners synchronously. */
  onLink(link: Link): void;
  /** A connection was refused before it became a link (certificate, handshake, limits). */
  onRefused?(remoteAddress: string, error: Error): void;
}

export interface DialOptions {
  host: string;
  port: number;
  maxMessageBytes: number;
  queueLimit: number;
  /** Refuse the peer unless it authenticates as this Node-ID (`node_id_mismatch`). */
  expectedNodeId?: Id;
  timeoutMs: number;
}

/** A TCP hole punch (tls-punch.ts): both ends connect from the port they announced. */
export interface PunchDialOptions extends DialOptions {
  expectedNodeId: Id;
  /** The port we announced, from reservePort. */
  localPort: number;
  /** True for the end with the lower Node-ID (for a birthday punch: the fixed side). */
  tlsServer: boolean;
  /** A birthday punch (tcp-spray.ts) instead of a simultaneous open. */
  spray?: SprayTarget;
}

export interface LinkFactory {
  listen(opts: ListenOptions): Promise<LinkListener>;
  dial(opts: DialOptions): Promise<Link>;
  /**
   * Present where links run on TCP, behind possible NATs: a free local port to announce and the
   * punch from it, and TLS on a connection made some other way (a relay's). A memory network has
   * no NATs and leaves them out.
   */
  sockets?: {
    reservePort(): Promise<number>;
    punch(opts: PunchDialOptions): Promise<Link>;
    secure(raw: Socket, opts: Omit<PunchDialOptions, 'localPort'>): Promise<Link>;
  };
}

/** The node a factory makes links for: who it is, what it trusts, and its time (certificate validity). */
export interface LinkEndpoint {
  identity: Identity;
  trust: TrustStore;
  clock: Clock;
}

/** What TLS links need besides each call's options. */
export interface TlsLinkSettings extends LinkEndpoint {
  handshakeTimeoutMs: number;
  maxPendingHandshakes: number;
}

/** Mutual-TLS links (RFC 6940 §6.6.1) with this node's certificate, accepting the overlay's roots only. */
export function tlsLinks(settings: TlsLinkSettings): LinkFactory {
  const { identity, trust, clock, handshakeTimeoutMs, maxPendingHandshakes } = settings;
  return {
    listen: (opts) => listenTls({ ...opts, identity, trust, clock, handshakeTimeoutMs, maxPendingHandshakes }),
    dial: (opts) => connectTls({ ...opts, identity, trust, clock }),
    sockets: {
      reservePort: () => reservePort(),
      punch: (opts) => punchTls({ ...opts, identity, trust, clock }),
      secure: (raw, opts) => secureTcp(raw, { ...opts, identity, trust, clock }),
    },
  };
}
