/**
 * The CHORD-RELOAD plugin's protocol (RFC 6940 §10.5-10.7) around the pure ChordTable:
 *
 * - join: Attach to Resource-ID self+1 through a bootstrap node reaches the admitting peer (our
 *   successor-to-be); an Update exchange with it teaches its neighbours, which we Attach to
 *   (source-routed through the peer that named them, §10.6); its answer to our `full` Update also
 *   lends us its fingers, Attached the same way, and slots still empty are looked up through the
 *   overlay; then Join to the admitting peer and Update to every neighbour.
 * - stabilization: every `updateIntervalMs` an Update exchange with each successor. Our UpdateAns
 *   carries the answerer's neighbours, so every exchange both tells and learns, and each
 *   predecessor's own round reaches us as its successor: a predecessor gets an exchange from us
 *   only when it has had none with us for longer than STABILIZE_QUIET_ROUNDS rounds. A neighbour
 *   that does not answer within `neighbourTimeoutMs` is treated as failed.
 * - repair: a lost link removes the peer at once (reactive recovery); lost neighbours trigger an
 *   immediate Update round, and a node left without successors looks for Resource-ID self+1
 *   through whatever links it still has.
 * - fingers: every `fingerIntervalMs` the next finger target is looked up and Attached; a finger
 *   whose link is lost is looked up again at once.
 * - leave: Leave to every neighbour with our lists, so they can fill the gap at once.
 * - rejoin: a node that lost every link calls join() again once it has a bootstrap link back.
 *
 * A peer enters the table only when it is known to be in the ring: it sent us an Update or Join
 * over its own link, or another ring member named it and we could Attach to it (§6.5.1: Attach
 * alone does not make a node routable).
 */
import PQueue from 'p-queue';
import { ErrorCode, ReloadError } from '../../errors.js';
import { addToId, idEquals, idToHex, ringDistance, type Id } from '../../id.js';
import type { Timer } from '../../clock.js';
import { pingRequestBody } from '../../methods/ping.js';
import { MessageCode } from '../../wire/codes.js';
import type { Destination } from '../../wire/message.js';
import { findAdmittingPeer } from '../admitting-peer.js';
import { dropUnanswering, SoonOnce } from '../upkeep.js';
import type { Holder, RingStatus, Topology, TopologyHost, TopologySender } from '../topology.js';
import { ChordTable } from './chord-table.js';
import {
  encodeLeave, encodeUpdate, encodeUpdateAnswer, parseJoin, parseLeave, parseUpdate, parseUpdateAnswer,
  UPDATE_FULL, UPDATE_NEIGHBORS, type ChordNeighbours,
} from './chord-messages.js';

/**
 * A predecessor with no Update exchange with us for this many stabilization rounds gets one from
 * us: its own round should have reached us, so it may have failed silently (more than one round,
 * so that timers of two nodes running slightly out of phase do not double the exchanges).
 */
export const STABILIZE_QUIET_ROUNDS = 1.5;

const node = (id: Id): Destination => ({ type: 'node', id });

export class ChordTopology implements Topology {
  readonly table: ChordTable;
  private readonly attaches: PQueue;
  /** Attaches queued or running, by peer hex: one at a time per peer. */
  private readonly attaching = new Map<string, Promise<boolean>>();
  private timers: Timer[] = [];
  private startedAtMs = 0;
  private nextFinger = 0;
  /** Reactive recovery: one immediate round with the neighbours, however many losses asked for it. */
  private readonly repairSoon: SoonOnce;
  private stopped = false;
  /** Virtual or real time of the last Update exchange with each neighbour, either way round, by hex. */
  private readonly exchangedAt = new Map<string, number>();

  constructor(private readonly host: TopologyHost) {
    this.repairSoon = new SoonOnce(host, () => !this.stopped, () => this.repair());
    const c = host.config.chord;
    this.table = new ChordTable(host.self, { neighbourCount: c.neighbourCount, fingerCount: c.fingerCount });
    this.attaches = new PQueue({ concurrency: c.attachConcurrency });
  }

  async join(signal?: AbortSignal): Promise<void> {
    this.startedAtMs = this.host.clock.now();
    const boots = await this.host.bootstrapLinks();
    // The steps at debug level, so `node --log-level debug` shows where a join stops.
    const log = this.host.log;
    if (boots.length > 0) {
      log.debug(`join: linked to bootstrap ${boots.map((l) => l.remoteNodeIdHex).join(', ')}; Attach to Resource-ID self+1 through it`);
      const admitting = await findAdmittingPeer(this.host, addToId(this.host.self, 1n), boots.map((l) => l.remoteNodeId), signal);
      this.add(admitting);
      const exchanged = await this.exchangeUpdate(admitting, UPDATE_FULL);
      await this.attaches.onIdle();
      log.debug(`join: Update exchange with ${idToHex(admitting)} ${exchanged ? 'done' : 'failed'}; ${this.table.successors().length} successors, ${this.table.predecessors().length} predecessors`);
      signal?.throwIfAborted();
      await this.fillEmptyFingers();
      // Join goes to our successor, which now hands over the range (self's predecessor, self].
      const successor = this.table.successors()[0] ?? admitting;
      log.debug(`join: Join sent to successor ${idToHex(successor)}`);
      await this.host.request([node(successor)], MessageCode.JoinReq, [this.host.self]);
      log.debug(`join: Join answered by ${idToHex(successor)}; Update to ${this.table.neighbourIds().length} neighbours`);
      await this.updateNeighbours(UPDATE_NEIGHBORS);
    }
    signal?.throwIfAborted();
    this.startTimers();
  }

  async leave(): Promise<void> {
    const neighbours = this.table.neighbourIds();
    this.stop();
    const body = encodeLeave({ leaving: this.host.self, ...this.neighbourLists() });
    const timeout = this.host.config.chord.neighbourTimeoutMs;
    await Promise.allSettled(neighbours.map((n) => this.host.request([node(n)], MessageCode.LeaveReq, body, timeout)));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.splice(0)) t.cancel();
    this.attaches.clear();
  }

  onUpdate(body: unknown, from: TopologySender): unknown {
    const update = parseUpdate(body);
    const sender = from.signer.identity.nodeId;
    // Only an Update over the sender's own link proves it is up and reachable from here; a `full`
    // Update is a joining node asking for our table (send_update), not yet an announcement.
    if (from.adjacent && update.type !== UPDATE_FULL) {
      this.exchangedAt.set(idToHex(sender), this.host.clock.now());
      this.add(sender);
      this.confirmIfNearest(sender, update);
    }
    this.learn([...update.predecessors, ...update.successors, ...update.fingers], sender);
    return encodeUpdateAnswer({ ...this.neighbourLists(), fingers: update.type === UPDATE_FULL ? this.fingerPeers() : [] });
  }

  onJoin(body: unknown, from: TopologySender): unknown {
    const joining = parseJoin(body);
    if (!idEquals(joining, from.signer.identity.nodeId)) throw new ReloadError(ErrorCode.Forbidden, 'Join names another node than its signer', 'join_id_mismatch');
    if (this.add(joining)) this.repairSoon.schedule();
    return [];
  }

  onLeave(body: unknown, from: TopologySender): unknown {
    const leave = parseLeave(body);
    if (!idEquals(leave.leaving, from.signer.identity.nodeId)) throw new ReloadError(ErrorCode.Forbidden, 'Leave names another node than its signer', 'leave_id_mismatch');
    this.host.log.info(`${idToHex(leave.leaving)} is leaving`);
    this.forget(leave.leaving);
    this.learn([...leave.predecessors, ...leave.successors], undefined);
    return [];
  }

  neighbours(): Id[] {
    return this.table.neighbourIds();
  }

  onLinkDown(peer: Id): void {
    this.forget(peer);
  }

  status(): RingStatus {
    return {
      topology: 'CHORD-RELOAD',
      successors: this.table.successors().map(idToHex),
      predecessors: this.table.predecessors().map(idToHex),
      fingers: this.table.fingers().map((f) => ({ index: f.index, target: idToHex(f.target), peer: f.peer ? idToHex(f.peer) : null })),
    };
  }

  private neighbourLists(): ChordNeighbours {
    return { predecessors: this.table.predecessors(), successors: this.table.successors() };
  }

  private fingerPeers(): Id[] {
    return this.table.fingers().flatMap((f) => (f.peer ? [f.peer] : []));
  }

  private uptimeSec(): number {
    return Math.floor((this.host.clock.now() - this.startedAtMs) / 1000);
  }

  /**
   * The responsible peer of `resource` and its successors (§10.4 stores replicas there), each found
   * by routing: the node responsible for the point just past one holder is the next. A lying owner
   * cannot name its accomplices as the others.
   */
  async replicaHolders(resource: Id, count: number): Promise<Holder[]> {
    const holders: Id[] = [];
    for (let point = resource; holders.length < count; ) {
      const answer = await this.host.request([{ type: 'resource', id: point }], MessageCode.PingReq, pingRequestBody(), this.host.config.chord.neighbourTimeoutMs).catch(() => undefined);
      const holder = answer?.signer.identity.nodeId;
      if (!holder || holders.some((h) => idEquals(h, holder))) break;
      holders.push(holder);
      point = addToId(holder, 1n);
    }
    return holders.map((id) => ({ id, ways: [[]] }));
  }

  /** One Update exchange: tell `peer` our lists, learn its neighbours. False when it failed. */
  private async exchangeUpdate(peer: Id, type: number): Promise<boolean> {
    const c = this.host.config.chord;
    const fingers = type === UPDATE_FULL ? this.fingerPeers() : [];
    const body = encodeUpdate({ uptimeSec: this.uptimeSec(), type, ...this.neighbourLists(), fingers });
    try {
      const answer = await this.host.request([node(peer)], MessageCode.UpdateReq, body, c.neighbourTimeoutMs);
      const theirs = parseUpdateAnswer(answer.body);
      this.exchangedAt.set(idToHex(peer), this.host.clock.now());
      this.confirmIfNearest(peer, theirs);
      this.learn([...theirs.predecessors, ...theirs.successors, ...theirs.fingers], peer);
      return true;
    } catch (e) {
      this.host.log.debug(`Update to ${idToHex(peer)} failed: ${(e as Error).message}`);
      return false;
    }
  }

  private async updateNeighbours(type: number, peers = this.table.neighbourIds()): Promise<void> {
    const results = await Promise.all(peers.map(async (n) => [n, await this.exchangeUpdate(n, type)] as const));
    for (const [peer, ok] of results) if (!ok && !this.stopped) this.fail(peer);
  }

  /** The periodic round (§10.7.4): successors, and predecessors that have gone quiet (see the header). */
  private async stabilize(): Promise<void> {
    const now = this.host.clock.now();
    const quietMs = STABILIZE_QUIET_ROUNDS * this.host.config.chord.updateIntervalMs;
    const neighbours = new Set(this.table.neighbourIds().map(idToHex));
    for (const key of this.exchangedAt.keys()) if (!neighbours.has(key)) this.exchangedAt.delete(key);
    const successors = this.table.successors();
    const quiet = this.table.predecessors().filter((p) => !successors.some((s) => idEquals(s, p)) && now - (this.exchangedAt.get(idToHex(p)) ?? -Infinity) > quietMs);
    await this.updateNeighbours(UPDATE_NEIGHBORS, [...successors, ...quiet]);
    await this.refillSuccessors();
  }

  /** A peer whose own lists put self nearest to it is contiguous with us (ChordTable.confirm). */
  private confirmIfNearest(peer: Id, lists: ChordNeighbours): void {
    const nearest = [lists.predecessors[0], lists.successors[0]];
    if (nearest.some((id) => id !== undefined && idEquals(id, this.host.self))) this.table.confirm(peer);
  }

  /** Peers named by a ring member: Attach to those that would improve our table. */
  private learn(ids: Id[], teller: Id | undefined): void {
    for (const id of ids) {
      if (this.table.wouldKeep(id)) void this.attachTo(node(id), teller);
    }
  }

  /** Attaches (deduplicated per peer, bounded in number) and adds the peer once linked. */
  private attachTo(dest: Destination, via: Id | undefined): Promise<boolean> {
    const key = idToHex(dest.id) + dest.type;
    const pending = this.attaching.get(key);
    if (pending) return pending;
    const run = this.attaches
      .add(async () => {
        if (this.stopped) return false;
        const link = await this.host.attach(dest, via);
        if (idEquals(link.remoteNodeId, this.host.self)) return false;
        return this.add(link.remoteNodeId);
      })
      .then(
        (added) => added === true,
        (e: Error) => {
          this.host.log.debug(`Attach to ${dest.type} ${idToHex(dest.id)} failed: ${e.message}`);
          return false;
        },
      )
      .finally(() => this.attaching.delete(key));
    this.attaching.set(key, run);
    return run;
  }

  private forget(peer: Id): void {
    const wasNeighbour = this.table.neighbourIds().some((n) => idEquals(n, peer));
    const slot = this.table.fingers().find((f) => f.peer !== undefined && idEquals(f.peer, peer));
    if (!this.table.remove(peer)) return;
    this.host.tableChanged();
    if (wasNeighbour) this.repairSoon.schedule();
    // A lost finger is looked for again at once (§10.7.1), so the periodic refresh only has to
    // catch better fingers that joined since.
    else if (slot && !this.stopped && this.fingerWorthFinding(slot.target)) void this.attachTo({ type: 'resource', id: slot.target }, undefined);
  }

  /** Adds a peer to the table, telling the host when the table changed. */
  private add(peer: Id): boolean {
    const changed = this.table.add(peer);
    if (changed) this.host.tableChanged();
    return changed;
  }

  /** A neighbour did not answer: drop its link, which removes it and starts repair. */
  private fail(peer: Id): void {
    dropUnanswering(this.host, peer, 'neighbour stopped answering Updates', (p) => this.forget(p));
  }

  private async repair(): Promise<void> {
    await this.updateNeighbours(UPDATE_NEIGHBORS);
    await this.refillSuccessors();
  }

  private async refillSuccessors(): Promise<void> {
    if (this.table.successors().length < this.table.neighbourCount) await this.findSuccessor();
  }

  /**
   * Looks up Resource-ID self+1 through each remaining peer: the node that answers is the first
   * live node after us as the rest of the ring sees it (the RFC's partition check, §10.7.4).
   */
  private async findSuccessor(): Promise<void> {
    const target: Destination = { type: 'resource', id: addToId(this.host.self, 1n) };
    for (const via of [...this.table.predecessors(), ...this.table.peers()].slice(0, 3)) {
      if (await this.attachTo(target, via)) return;
    }
  }

  /** The periodic finger round (Chord's fix_fingers): the next target in turn is looked up. */
  private async refreshNextFinger(): Promise<void> {
    const targets = this.table.fingerTargets();
    if (targets.length === 0) return;
    const { target } = targets[this.nextFinger++ % targets.length]!;
    if (this.fingerWorthFinding(target)) await this.attachTo({ type: 'resource', id: target }, undefined);
  }

  /**
   * Joining: the admitting peer's fingers, borrowed from its `full` UpdateAns, fill most slots
   * (§10.7.4 lets fingers come from observed Updates). It is our successor, so each of its finger
   * targets lies past ours by the gap between us, which holds about one node on average: its
   * finger for a slot is ours or one of the few nodes after it. The slots still empty are looked
   * up through the overlay.
   */
  private async fillEmptyFingers(): Promise<void> {
    const empty = this.table.fingers().filter((f) => f.peer === undefined && this.fingerWorthFinding(f.target));
    await Promise.all(empty.map((f) => this.attachTo({ type: 'resource', id: f.target }, undefined)));
  }

  /** Targets we own, or up to our successor, have no better finger to find. */
  private fingerWorthFinding(target: Id): boolean {
    const successor = this.table.successors()[0];
    return !this.table.isResponsible(target) && successor !== undefined && ringDistance(this.host.self, target) > ringDistance(this.host.self, successor);
  }

  private startTimers(): void {
    const c = this.host.config.chord;
    // A node that lost the overlay joins again: one set of timers, not one per join.
    for (const t of this.timers.splice(0)) t.cancel();
    this.timers.push(
      this.host.clock.every(c.updateIntervalMs, () => void this.stabilize()),
      this.host.clock.every(c.fingerIntervalMs, () => void this.refreshNextFinger()),
    );
  }
}
