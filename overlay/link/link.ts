/**
 * A Link is an authenticated, ordered message pipe bound to one remote Node-ID (RFC 6940 §6.6).
 * It moves whole encoded messages (no length prefix) and knows nothing of what they mean.
 * `TlsLink` is the real one; `MemoryLink` serves unit tests and simulation.
 */
import type { Id } from '../id.js';

export interface LinkEvents {
  /** One complete message from the remote node. */
  message(bytes: Uint8Array): void;
  /** The link is gone; `error` says why when it was not a clean close. Fires once. */
  close(error?: Error): void;
}

export interface Link {
  /** The Node-ID the remote end authenticated as (from its certificate). */
  readonly remoteNodeId: Id;
  readonly remoteNodeIdHex: string;
  /** The remote user name from its certificate. */
  readonly remoteUser: string;
  /** Where the remote end is, e.g. "127.0.0.1:6084" (informational). */
  readonly remoteAddress: string;
  /**
   * This end's own address on a socket transport, e.g. "10.1.0.10:41234": compared with the
   * address a peer sees us from, it tells whether a NAT keeps our ports (overlay/nat/).
   */
  readonly localAddress?: string;
  /** "tls" or "memory". */
  readonly transport: string;
  /** True until closed. */
  readonly open: boolean;
  /** Messages waiting to be written. */
  readonly queuedMessages: number;
  /** The certificate the remote end authenticated with, when the transport carries one. */
  readonly peerCertificate?: { readonly der: Uint8Array };

  /**
   * Queues one message. Returns false, dropping it, when the link is closed or its send queue
   * holds `queueLimit` messages already: a slow peer must not block the others. The link keeps
   * `bytes` until they are out: the caller must not change them afterwards.
   */
  send(bytes: Uint8Array): boolean;
  close(error?: Error): void;

  on<E extends keyof LinkEvents>(event: E, listener: LinkEvents[E]): this;
  once<E extends keyof LinkEvents>(event: E, listener: LinkEvents[E]): this;
  off<E extends keyof LinkEvents>(event: E, listener: LinkEvents[E]): this;
}
