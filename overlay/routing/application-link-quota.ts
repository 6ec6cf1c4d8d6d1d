/**
 * Bounds the links an application channel (AppAttach, RFC 6940 §6.5.2; e.g. the PPSP data channel)
 * accepts: in all, and per Node-ID, so one enrolled peer cannot take every slot of the channel.
 */
import { ErrorCode, ReloadError } from '../errors.js';
import type { Link } from '../link/link.js';

export class ApplicationLinkQuota {
  private total = 0;
  private readonly perNode = new Map<string, number>();

  constructor(
    private readonly maxLinks: number,
    private readonly maxPerNode: number,
  ) {}

  /**
   * Counts `link` until it closes, or returns the refusal (reason `application_table_full` or
   * `application_per_node_limit`) when it does not fit; the caller closes it.
   */
  admit(link: Link): ReloadError | undefined {
    const node = link.remoteNodeIdHex;
    const held = this.perNode.get(node) ?? 0;
    if (this.total >= this.maxLinks) return new ReloadError(ErrorCode.Forbidden, `application channel full (${this.maxLinks} links)`, 'application_table_full');
    if (held >= this.maxPerNode) return new ReloadError(ErrorCode.Forbidden, `Node-ID ${node} holds ${held} links to this application channel already (limit ${this.maxPerNode})`, 'application_per_node_limit');
    this.total++;
    this.perNode.set(node, held + 1);
    link.once('close', () => {
      this.total--;
      const left = (this.perNode.get(node) ?? 1) - 1;
      if (left > 0) this.perNode.set(node, left);
      else this.perNode.delete(node);
    });
    return undefined;
  }
}
