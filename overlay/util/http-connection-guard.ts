/**
 * Bounds an HTTP server's connections so that stalled clients cannot lock the user out. Node's own
 * `maxConnections` refuses the newcomer once the bound is reached, so a few hundred connections
 * that send half a request and then nothing keep every real request out until their header
 * timeout. Here a newcomer at the bound instead evicts the connection that has gone longest
 * without a request in progress (stalled in its headers, or idle between keep-alive requests);
 * only when every connection is inside a handler is the newcomer refused.
 */
import type { Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';

export interface HttpConnectionLimits {
  /** Connections open at once. */
  maxConnections: number;
  /** A request's headers must arrive within this, ms. */
  headersTimeoutMs: number;
  /** A keep-alive connection with no request is closed after this, ms. */
  idleTimeoutMs: number;
  /** A whole request (headers and body) must arrive within this, ms. */
  requestTimeoutMs: number;
  /**
   * How often the header and request timeouts are checked, ms: Node enforces them only on this
   * round (30 s by default), so a 5 s header timeout would otherwise take up to 35 s.
   */
  checkIntervalMs: number;
}

export const DEFAULT_HTTP_LIMITS: HttpConnectionLimits = {
  maxConnections: 64,
  headersTimeoutMs: 5_000,
  idleTimeoutMs: 5_000,
  requestTimeoutMs: 60_000,
  checkIntervalMs: 1_000,
};

/** Why a connection was dropped: `stalled` evicted for a newcomer, `all_busy` a newcomer refused. */
export type HttpDropReason = 'stalled' | 'all_busy';

/** Counts of dropped connections by reason. */
export type HttpDropCounts = Record<HttpDropReason, number>;

/**
 * Applies `limits` to `server`; returns the live counts of dropped connections. An HTTPS server
 * counts connections once their TLS handshake is done (its handshake timeout bounds the rest),
 * because its requests arrive on the TLS socket, not the TCP one.
 */
export function guardConnections(server: Server | HttpsServer, limits: HttpConnectionLimits = DEFAULT_HTTP_LIMITS): HttpDropCounts {
  const dropped: HttpDropCounts = { stalled: 0, all_busy: 0 };
  /** Open connections, oldest first, each with whether a request is in its handler and since when it has been free. */
  const open = new Map<Socket, { busy: boolean; freeSince: number }>();
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.idleTimeoutMs;
  // Read when the server starts listening; typed only as a createServer option.
  (server as { connectionsCheckingInterval?: number }).connectionsCheckingInterval = limits.checkIntervalMs;

  const event = 'setSecureContext' in server ? 'secureConnection' : 'connection';
  server.on(event, (socket: Socket) => {
    if (open.size >= limits.maxConnections) {
      let victim: Socket | undefined;
      let since = Infinity;
      for (const [s, state] of open) {
        if (!state.busy && state.freeSince < since) {
          victim = s;
          since = state.freeSince;
        }
      }
      if (!victim) {
        dropped.all_busy++;
        socket.destroy();
        return;
      }
      dropped.stalled++;
      open.delete(victim);
      victim.destroy();
    }
    open.set(socket, { busy: false, freeSince: performance.now() });
    socket.once('close', () => open.delete(socket));
  });

  server.on('request', (req, res) => {
    const state = open.get(req.socket);
    if (!state) return;
    state.busy = true;
    res.once('close', () => {
      state.busy = false;
      state.freeSince = performance.now();
    });
  });
  return dropped;
}
