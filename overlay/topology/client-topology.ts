/**
 * The client "topology" (RFC 6940 §3.2, §4.2.1): a node that neither routes nor stores. It
 * Attaches to its own Node-ID through a bootstrap node, which reaches the peer responsible for it,
 * keeps that one link, and is reached by others through that peer, which has a direct link to it.
 * Every `updateIntervalMs` it looks its Node-ID up again and moves when responsibility has moved
 * (a peer joined between); when the link is lost it re-attaches through any link left.
 */
import { ErrorCode, ReloadError } from '../errors.js';
import { addToId, idEquals, idToHex, type Id } from '../id.js';
import type { Timer } from '../clock.js';
import { ClientTable } from './client-table.js';
import type { Holder, RingStatus, Topology, TopologyHost } from './topology.js';

export class ClientTopology implements Topology {
  readonly table: ClientTable;
  private timer: Timer | undefined;
  private moving = false;

  constructor(private readonly host: TopologyHost) {
    this.table = new ClientTable(host.self);
  }

  async join(): Promise<void> {
    const boots = await this.host.bootstrapLinks();
    if (boots.length === 0) throw new ReloadError(ErrorCode.Not_Found, 'a client needs a bootstrap node', 'no_bootstrap');
    await this.attachToResponsible(boots.map((l) => l.remoteNodeId));
    this.timer?.cancel(); // joining again after the links were lost
    this.timer = this.host.clock.every(this.host.config.chord.updateIntervalMs, () => void this.followResponsibility());
  }

  async leave(): Promise<void> {
    this.stop();
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  onUpdate(): unknown {
    throw new ReloadError(ErrorCode.Forbidden, 'a client takes no part in the topology', 'client');
  }

  onJoin(): unknown {
    return this.onUpdate();
  }

  onLeave(): unknown {
    return this.onUpdate();
  }

  neighbours(): Id[] {
    return [];
  }

  onLinkDown(peer: Id): void {
    if (this.table.remove(peer)) void this.followResponsibility();
  }

  /** A client knows one peer and no ring: a Fetch goes the plain way only. */
  async replicaHolders(): Promise<Holder[]> {
    return [];
  }

  status(): RingStatus {
    const peer = this.table.attachedPeer;
    return { topology: 'client', successors: peer ? [idToHex(peer)] : [], predecessors: [], fingers: [] };
  }

  /** Attach to our own Node-ID as a Resource-ID through each of `vias` until one answers. */
  private async attachToResponsible(vias: Id[]): Promise<void> {
    let last: unknown;
    for (const via of vias) {
      try {
        const link = await this.host.attach({ type: 'resource', id: this.host.self }, via);
        if (this.table.add(link.remoteNodeId)) this.host.log.info(`attached as a client to ${link.remoteNodeIdHex}`);
        // Learn a peer on the far side of the ring too: a way back in if ours and the bootstrap
        // nodes all go away.
        void this.host.lookUp({ type: 'resource', id: addToId(this.host.self, 1n << 127n) }, link.remoteNodeId).catch(() => undefined);
        // A client keeps one link: the one to its responsible peer (bootstrap links included).
        for (const other of vias) if (!idEquals(other, link.remoteNodeId)) this.host.linkTo(other)?.close();
        return;
      } catch (e) {
        last = e;
      }
    }
    throw last instanceof ReloadError ? last : new ReloadError(ErrorCode.Not_Found, 'no peer responsible for this client could be reached', 'no_responsible_peer');
  }

  private async followResponsibility(): Promise<void> {
    if (this.moving) return;
    this.moving = true;
    try {
      const current = this.table.attachedPeer;
      const vias = current && this.host.linkTo(current) ? [current] : (await this.host.bootstrapLinks()).map((l) => l.remoteNodeId);
      await this.attachToResponsible(vias);
    } catch (e) {
      this.host.log.warn(`client could not re-attach: ${(e as Error).message}`);
    } finally {
      this.moving = false;
    }
  }
}
