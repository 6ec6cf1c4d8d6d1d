/**
 * The connection table (RFC 6940 §3.3): the open links of a node, keyed by the remote Node-ID they
 * authenticated as, bounded by the config's `maxLinks`. When two links to one node exist (both
 * sides connected at once, or a second process with the same identity) the first stays in use
 * and the later one waits until the first closes: a newcomer never takes over a Node-ID's links
 * (the node judges it, see link-admission.ts).
 */
import { ErrorCode, ReloadError } from '../errors.js';
import { idToHex } from '../id.js';
import type { Link } from '../link/link.js';

export class LinkTable {
  private readonly current = new Map<string, Link>();
  private readonly all = new Set<Link>();

  /**
   * @param maxLinks links kept at most; a further link is refused
   * @param onMessage called for every message from any link in the table
   * @param onClosed called when a link leaves the table
   */
  constructor(
    private readonly maxLinks: number,
    private readonly onMessage: (bytes: Uint8Array, link: Link) => void,
    private readonly onClosed: (link: Link, error?: Error) => void = () => {},
  ) {}

  get size(): number {
    return this.all.size;
  }

  /** Adds a link, or closes it with an error when the table is full. Returns whether it was added. */
  add(link: Link): boolean {
    if (this.all.size >= this.maxLinks) {
      link.close(new ReloadError(ErrorCode.Forbidden, `connection table full (${this.maxLinks} links)`, 'too_many_links'));
      return false;
    }
    this.all.add(link);
    if (!this.get(link.remoteNodeIdHex)) this.current.set(link.remoteNodeIdHex, link);
    link.on('message', (bytes) => this.onMessage(bytes, link));
    link.once('close', (error) => {
      this.all.delete(link);
      if (this.current.get(link.remoteNodeIdHex) === link) {
        this.current.delete(link.remoteNodeIdHex);
        const other = [...this.all].find((l) => l.remoteNodeIdHex === link.remoteNodeIdHex && l.open);
        if (other) this.current.set(other.remoteNodeIdHex, other);
      }
      this.onClosed(link, error);
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
    for (const link of [...this.all]) link.close();
  }
}
