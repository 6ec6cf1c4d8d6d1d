/**
 * The connection table (RFC 6940 §3.3): the open links of a node, keyed by the remote Node-ID they
 * authenticated as. When two links to one node exist (both sides connected at once, or a second
 * process with the same identity) the first stays in use and the later one waits until the first
 * closes: a newcomer never takes over a Node-ID's links (the node judges it, see link-admission.ts).
 *
 * Bounded two ways, so that no single source of connections keeps the node out of its overlay:
 * - a Node-ID holds at most `maxLinksPerNode` links: one in use, and room for the second that both
 *   sides dialing at once, or a restart, makes; one certificate cannot fill the table;
 * - at `maxLinks`, a newcomer evicts the link idle the longest among those the node does not need
 *   (`isProtected` says which it needs: the ring's neighbours and fingers); only when every link is
 *   needed is the newcomer refused.
 */
import { ErrorCode, ReloadError } from '../errors.js';
import { idToHex } from '../id.js';
import type { Link } from '../link/link.js';

/** Why a link was refused or evicted, as counted in `reload_links_dropped_total`. */
export type LinkDropReason = 'per_node_limit' | 'table_full' | 'evicted_for_newcomer';

export interface LinkTableOptions {
  /** Links kept at most. */
  maxLinks: number;
  /** Links one Node-ID may hold at once. */
  maxLinksPerNode: number;
  /** Milliseconds on the node's clock, for idleness. */
  now(): number;
  /** Links the node needs (never evicted). */
  isProtected(link: Link): boolean;
  /** Every message from any link in the table. */
  onMessage(bytes: Uint8Array, link: Link): void;
  /** A link left the table. */
  onClosed?(link: Link, error?: Error): void;
  /** A link was refused or evicted. */
  onDropped?(link: Link, reason: LinkDropReason): void;
}

export class LinkTable {
  private readonly current = new Map<string, Link>();
  /** Every link in the table, with the time of its last message (or of its arrival). */
  private readonly all = new Map<Link, number>();

  constructor(private readonly opts: LinkTableOptions) {}

  get size(): number {
    return this.all.size;
  }

  /**
   * Adds a link, evicting an unneeded one when the table is full; closes it with Forbidden when
   * its Node-ID has all its links already or every link is needed. Returns whether it was added.
   */
  add(link: Link): boolean {
    const sameNode = [...this.all.keys()].filter((l) => l.remoteNodeIdHex === link.remoteNodeIdHex).length;
    if (sameNode >= this.opts.maxLinksPerNode) {
      return this.refuse(link, 'per_node_limit', `Node-ID ${link.remoteNodeIdHex} holds ${sameNode} links already (limit ${this.opts.maxLinksPerNode})`);
    }
    if (this.all.size >= this.opts.maxLinks) {
      const victim = this.idlestUnprotected();
      if (!victim) return this.refuse(link, 'table_full', `connection table full (${this.opts.maxLinks} links, all needed)`);
      this.opts.onDropped?.(victim, 'evicted_for_newcomer');
      victim.close(new ReloadError(ErrorCode.Forbidden, 'connection table full: the link idle the longest made room for a newcomer', 'evicted_for_newcomer'));
    }
    this.all.set(link, this.opts.now());
    if (!this.get(link.remoteNodeIdHex)) this.current.set(link.remoteNodeIdHex, link);
    link.on('message', (bytes) => {
      if (this.all.has(link)) this.all.set(link, this.opts.now());
      this.opts.onMessage(bytes, link);
    });
    link.once('close', (error) => {
      this.all.delete(link);
      if (this.current.get(link.remoteNodeIdHex) === link) {
        this.current.delete(link.remoteNodeIdHex);
        const other = [...this.all.keys()].find((l) => l.remoteNodeIdHex === link.remoteNodeIdHex && l.open);
        if (other) this.current.set(other.remoteNodeIdHex, other);
      }
      this.opts.onClosed?.(link, error);
    });
    return true;
  }

  get(nodeId: Uint8Array | string): Link | undefined {
    const link = this.current.get(typeof nodeId === 'string' ? nodeId : idToHex(nodeId));
    return link?.open ? link : undefined;
  }

  /** One link per remote node (the one in use). */
  links(): Link[] {
    return [...this.current.values()].filter((l) => l.open);
  }

  closeAll(): void {
    for (const link of [...this.all.keys()]) link.close();
  }

  private refuse(link: Link, reason: LinkDropReason, why: string): false {
    this.opts.onDropped?.(link, reason);
    link.close(new ReloadError(ErrorCode.Forbidden, why, reason));
    return false;
  }

  private idlestUnprotected(): Link | undefined {
    let idlest: Link | undefined;
    let since = Infinity;
    for (const [link, lastMessage] of this.all) {
      if (lastMessage < since && !this.opts.isProtected(link)) {
        idlest = link;
        since = lastMessage;
      }
    }
    return idlest;
  }
}
