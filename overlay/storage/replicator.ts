/**
 * Keeps every held resource on its replica set (RFC 6940 §10.4, §10.7): the responsible peer and
 * the next `replicas - 1` peers after it, as this node's routing table sees them.
 *
 * Push, not pull: whenever the set for a resource contains a peer this node has not yet given a
 * copy to, it sends one (a replica Store of everything it holds there). This one rule covers the
 * three events of the RFC: a joining peer becomes responsible for part of its successor's range
 * (the successor sees a new member and hands the range over), a failed peer's successor becomes
 * responsible (it sees the next successor as a new member and restores the replica count), and a
 * peer pushed out of the set by a newcomer (it hands the data to the set, then drops it).
 * Copies are idempotent at the receiver (same storage time, same bytes), so redundant pushes from
 * several holders cost bandwidth, never correctness. A peer that pushed us a copy counts as a holder
 * too, so the members of a set do not push back to each other what they were just given.
 */
import PQueue from 'p-queue';
import type { Clock, Timer } from '../clock.js';
import { idToHex, type Id } from '../id.js';
import type { Logger } from '../log.js';
import type { StoreRequest } from './types.js';

/** Replica Stores a node has in flight at once. */
export const REPLICATION_CONCURRENCY = 8;

export interface ReplicaSource {
  /** Resource-IDs held. */
  resources(): Id[];
  /** A replica Store carrying everything held for `resource`, or undefined if nothing is left. */
  exportResource(resource: Id, replicaNumber: number): StoreRequest | undefined;
  drop(resource: Id): void;
}

export interface ReplicatorHost {
  self: Id;
  clock: Clock;
  log: Logger;
  /** Period of the full check, ms. */
  syncIntervalMs: number;
  /** The replica set of `resource` as the routing table sees it, responsible peer first. */
  replicaSet(resource: Id): Id[];
  /** Sends a replica Store to a peer; rejects when it was not accepted. */
  push(peer: Id, request: StoreRequest): Promise<void>;
  /**
   * Does the peer responsible for `resource`, asked through the overlay, hold every kind of
   * `request` at a generation at least as new? Far from this node's neighbourhood its table holds
   * only fingers, so its own view of a replica set there can be wrong.
   */
  heldByResponsible(resource: Id, request: StoreRequest): Promise<boolean>;
  /** Runs after each expiry sweep (the engine's). */
  sweep(): void;
}

export class Replicator {
  /** Per resource (hex): the peers known to hold a copy because we gave them one. */
  private readonly holders = new Map<string, Set<string>>();
  private readonly queue = new PQueue({ concurrency: REPLICATION_CONCURRENCY });
  private timer: Timer | undefined;
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly source: ReplicaSource,
    private readonly host: ReplicatorHost,
  ) {}

  start(): void {
    this.timer = this.host.clock.every(this.host.syncIntervalMs, () => {
      this.host.sweep();
      this.changed();
    });
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.queue.clear();
  }

  /** The topology changed (or data arrived): check the replica sets soon. */
  changed(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.syncAll().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.changed();
      }
    });
  }

  /** Resolves when no check is running or queued (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  /** `peer` sent us its copy of `resource`: it holds one, so it needs none from us. */
  heldBy(resource: Id, peer: Id): void {
    const key = idToHex(resource);
    const holders = this.holders.get(key) ?? new Set<string>();
    holders.add(idToHex(peer));
    this.holders.set(key, holders);
  }

  /**
   * Pushes `resource` to every member of its replica set that has no copy from us; resolves with
   * the members that hold one afterwards (self excluded). `changed` (after a store) forgets who held
   * the old state, so the new one reaches every member.
   */
  async replicate(resource: Id, changed = false): Promise<Id[]> {
    const key = idToHex(resource);
    if (changed) this.holders.delete(key);
    const set = this.host.replicaSet(resource);
    const members = set.map(idToHex);
    const selfHex = idToHex(this.host.self);
    const holders = this.holders.get(key) ?? new Set<string>();
    this.holders.set(key, holders);
    // Forget holders that left the set: if they come back they may have dropped the data.
    for (const h of holders) if (!members.includes(h)) holders.delete(h);
    const selfIn = members.includes(selfHex);
    const targets = set.filter((_, i) => members[i] !== selfHex && !holders.has(members[i]!));
    // The common case after a table change: every member has a copy already.
    if (selfIn && targets.length === 0) return set.filter((_, i) => holders.has(members[i]!));
    // A store waits for its copies: they go before the periodic check's, or a store made during a
    // long check would wait behind all of it and time out.
    const priority = changed ? 1 : 0;
    await Promise.all(
      targets.map((peer) =>
        this.queue.add(async () => {
          const request = this.source.exportResource(resource, Math.max(1, set.indexOf(peer)));
          if (!request) return;
          try {
            await this.host.push(peer, request);
            holders.add(idToHex(peer));
          } catch (e) {
            this.host.log.debug(`replica of ${key} to ${idToHex(peer)} failed: ${(e as Error).message}`);
          }
        }, { priority }),
      ),
    );
    if (!selfIn && set.length > 0 && (members.every((m) => holders.has(m)) || (await this.heldElsewhere(resource)))) {
      // Pushed out of the set, and the set has a copy: ours is no longer needed.
      this.source.drop(resource);
      this.holders.delete(key);
    }
    return set.filter((_, i) => holders.has(members[i]!));
  }

  /**
   * A copy held outside the set whose members refuse ours (they do not see us as a replica
   * source) would stay forever: it goes once the responsible peer is seen to hold the same or newer.
   */
  private async heldElsewhere(resource: Id): Promise<boolean> {
    const request = this.source.exportResource(resource, 1);
    if (!request) return true;
    try {
      return await this.host.heldByResponsible(resource, request);
    } catch (e) {
      this.host.log.debug(`could not ask who holds ${idToHex(resource)}: ${(e as Error).message}`);
      return false;
    }
  }

  private async syncAll(): Promise<void> {
    const held = this.source.resources();
    const live = new Set(held.map(idToHex));
    for (const key of this.holders.keys()) if (!live.has(key)) this.holders.delete(key);
    await Promise.all(held.map((r) => this.replicate(r)));
  }
}
