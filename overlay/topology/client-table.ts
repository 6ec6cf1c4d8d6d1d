/**
 * A client's routing table (RFC 6940 §3.2, §4.2.1 option (a)): one peer, the one responsible for
 * the client's Node-ID, through which everything goes. A client is responsible for nothing, so
 * nothing is ever stored at or delivered to it except what is addressed to its own Node-ID.
 */
import { idEquals, type Id } from '../id.js';
import type { RoutingTable } from './routing-table.js';

export class ClientTable implements RoutingTable {
  private peer: Id | undefined;

  constructor(readonly self: Id) {}

  /** The peer the client is attached to. */
  get attachedPeer(): Id | undefined {
    return this.peer;
  }

  add(peer: Id): boolean {
    if (idEquals(peer, this.self) || (this.peer && idEquals(peer, this.peer))) return false;
    this.peer = peer;
    return true;
  }

  remove(peer: Id): boolean {
    if (!this.peer || !idEquals(peer, this.peer)) return false;
    this.peer = undefined;
    return true;
  }

  has(peer: Id): boolean {
    return this.peer !== undefined && idEquals(peer, this.peer);
  }

  isResponsible(): boolean {
    return false;
  }

  nextHop(): Id | undefined {
    return this.peer;
  }

  nextHops(): Id[] {
    return this.peer ? [this.peer] : [];
  }

  /** A client has one route, so it never has two answers to choose from. */
  compareOwners(): number {
    return 0;
  }

  replicaSet(): Id[] {
    return [];
  }

  peers(): Id[] {
    return this.peer ? [this.peer] : [];
  }
}
