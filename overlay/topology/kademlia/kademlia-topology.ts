/**
 * The Kademlia plugin's protocol around KademliaTable, on RELOAD's recursive routing: messages
 * still travel hop by hop through the same forwarder, each hop passing them to the XOR-closest
 * peer it knows, and every table entry is a peer this node holds a link to.
 *
 * - join: Attach to Resource-ID self through a bootstrap node reaches the XOR-closest peer (the
 *   admitting peer). Every peer we link to gets an Update exchange whose answer names the peers it
 *   knows closest to us, of which we link to those among the `k` closest to us of all we know: the
 *   lookup of our own id. Then each range of the id space is refreshed, a Join goes to the closest
 *   peer, and only then does every peer get an Update with `announce`, asking it to add us (as
 *   Chord joins the ring last, so no node answers for keys before its table is complete).
 * - refresh: every `refreshIntervalMs`, and at join, for each range of the id space farther than
 *   our closest peer (one per bit of prefix we share with it), an Attach is routed to a random id
 *   in it, and links to its owner. Routing, not peers' word, picks the contact (as Chord finds its
 *   fingers), so peers that lie about whom they know cannot fill the buckets.
 * - replica holders (for lookups over several paths): Kademlia's FIND_NODE without linking; the
 *   `alpha` closest known peers are asked (Update with the key as `want`) for theirs, round after
 *   round (replicaHolders).
 * - spreading: Updates name the siblings and every peer that is our only contact in its range; a
 *   peer that fills a range we knew nobody in is told to the siblings at once. A newcomer alone in
 *   its part of a neighbourhood is otherwise known only to the few it linked to, and the others
 *   would each take themselves for the owner of its keys.
 * - stabilization: every `updateIntervalMs` an Update exchange with each sibling; a sibling that
 *   does not answer within `neighbourTimeoutMs` has failed. A lost link removes the peer at once,
 *   and a lost sibling starts an immediate round, whose answers bring the next closest.
 * - ping-before-evict: a full bucket that refuses a newcomer names its oldest contacts; they are
 *   pinged through a queue bounded by `pingQueue`, and each one that fails is dropped and the
 *   newcomer added in its place.
 * - leave: Leave to every sibling with our siblings, so they can fill the gap at once.
 */
import PQueue from 'p-queue';
import { ErrorCode, ReloadError } from '../../errors.js';
import { idEquals, idToHex, type Id } from '../../id.js';
import type { Timer } from '../../clock.js';
import { pingRequestBody } from '../../methods/ping.js';
import { MessageCode } from '../../wire/codes.js';
import type { Destination } from '../../wire/message.js';
import { findAdmittingPeer } from '../admitting-peer.js';
import { dropUnanswering, SoonOnce } from '../upkeep.js';
import type { Holder, KademliaStatus, Topology, TopologyHost, TopologySender } from '../topology.js';
import { compareXorDistance, idInBucket, KademliaTable } from './kademlia-table.js';
import { encodeLeave, encodeUpdate, encodeUpdateAnswer, MAX_KADEMLIA_LIST, parseJoin, parseLeave, parseUpdate, parseUpdateAnswer } from './kademlia-messages.js';

/** Rounds of asking in one lookup: each asks the closest peers not yet asked. */
const LOOKUP_ROUNDS = 4;

/** Oldest contacts a full bucket names for pinging when it refuses a newcomer. */
const PING_COUNT = 1;

const node = (id: Id): Destination => ({ type: 'node', id });

export class KademliaTopology implements Topology {
  readonly table: KademliaTable;
  /** Attaches and lookups, `alpha` at once. */
  private readonly work: PQueue;
  private readonly pings: PQueue;
  /** Attaches queued or running, by peer hex: one at a time per peer. */
  private readonly attaching = new Map<string, Promise<boolean>>();
  /** Contacts being pinged before an eviction, by hex. */
  private readonly pinging = new Set<string>();
  private timers: Timer[] = [];
  /** Reactive recovery: one immediate round with the neighbours, however many losses asked for it. */
  private readonly repairSoon: SoonOnce;
  private stopped = false;
  /** Set at the end of the first join: from then on our Updates ask the peers to add us. */
  private joined = false;

  constructor(private readonly host: TopologyHost) {
    this.repairSoon = new SoonOnce(host, () => !this.stopped, () => this.updateSiblings());
    const c = host.config.kademlia;
    this.table = new KademliaTable(host.self, {
      k: c.k,
      pingCount: PING_COUNT,
      siblingCount: c.siblingCount,
      onFullBucket: (oldest, newcomer) => this.pingBeforeEvict(oldest, newcomer),
    });
    this.work = new PQueue({ concurrency: c.alpha });
    this.pings = new PQueue({ concurrency: c.alpha });
  }

  async join(signal?: AbortSignal): Promise<void> {
    const boots = await this.host.bootstrapLinks();
    const log = this.host.log;
    if (boots.length > 0) {
      log.debug(`join: linked to bootstrap ${boots.map((l) => l.remoteNodeIdHex).join(', ')}; Attach to Resource-ID self through it`);
      const admitting = await findAdmittingPeer(this.host, this.host.self, boots.map((l) => l.remoteNodeId), signal);
      this.add(admitting);
      await this.exchangeNear(admitting, this.joined);
      await this.work.onIdle();
      signal?.throwIfAborted();
      log.debug(`join: own id looked up; ${this.table.peers().length} peers; refreshing the far buckets`);
      await this.refreshBuckets();
      signal?.throwIfAborted();
      const closest = this.table.siblings()[0] ?? admitting;
      await this.host.request([node(closest)], MessageCode.JoinReq, [this.host.self]);
      // Only now do we ask to be added: a node in others' tables answers for the keys it is
      // closest to, and should not before its own table is complete.
      this.joined = true;
      log.debug(`join: Join answered by ${idToHex(closest)}; announced to ${this.table.peers().length} peers`);
      const siblings = this.table.siblings();
      const others = this.table.peers().filter((p) => !siblings.some((s) => idEquals(s, p)));
      await Promise.all([this.updateSiblings(), ...others.map((p) => this.exchangeNear(p, true))]);
    }
    this.joined = true;
    signal?.throwIfAborted();
    this.startTimers();
  }

  async leave(): Promise<void> {
    const siblings = this.table.siblings();
    this.stop();
    const body = encodeLeave({ leaving: this.host.self, siblings: [...siblings] });
    const timeout = this.host.config.kademlia.neighbourTimeoutMs;
    await Promise.allSettled(siblings.map((n) => this.host.request([node(n)], MessageCode.LeaveReq, body, timeout)));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.splice(0)) t.cancel();
    this.work.clear();
    this.pings.clear();
  }

  onUpdate(body: unknown, from: TopologySender): unknown {
    const update = parseUpdate(body);
    const sender = from.signer.identity.nodeId;
    // Only a request over the sender's own link proves it is up and reachable from here.
    if (from.adjacent && update.announce) {
      if (this.table.has(sender)) this.table.touch(sender);
      else this.add(sender);
    }
    this.learn(update.siblings, sender);
    return encodeUpdateAnswer(this.table.closest(update.want, this.host.config.kademlia.k, true));
  }

  onJoin(body: unknown, from: TopologySender): unknown {
    const joining = parseJoin(body);
    if (!idEquals(joining, from.signer.identity.nodeId)) throw new ReloadError(ErrorCode.Forbidden, 'Join names another node than its signer', 'join_id_mismatch');
    this.add(joining);
    return [];
  }

  onLeave(body: unknown, from: TopologySender): unknown {
    const leave = parseLeave(body);
    if (!idEquals(leave.leaving, from.signer.identity.nodeId)) throw new ReloadError(ErrorCode.Forbidden, 'Leave names another node than its signer', 'leave_id_mismatch');
    this.host.log.info(`${idToHex(leave.leaving)} is leaving`);
    this.forget(leave.leaving);
    this.learn(leave.siblings, undefined);
    return [];
  }

  neighbours(): Id[] {
    return [...this.table.siblings()];
  }

  onLinkDown(peer: Id): void {
    this.forget(peer);
  }

  status(): KademliaStatus {
    return {
      topology: 'KADEMLIA',
      siblings: this.table.siblings().map(idToHex),
      buckets: this.table.bucketList().map((b) => ({ depth: b.depth, contacts: b.contacts.map(idToHex) })),
    };
  }

  /**
   * One Update exchange: tells `peer` our siblings (and, with `announce`, to add us); its answer
   * names the peers it knows closest to `want`. Undefined when it failed.
   */
  private async exchange(peer: Id, want: Id, announce: boolean, through: Id[] = []): Promise<Id[] | undefined> {
    const body = encodeUpdate({ want, announce, siblings: this.advertised() });
    try {
      const answer = await this.host.request([...through.map(node), node(peer)], MessageCode.UpdateReq, body, this.host.config.kademlia.neighbourTimeoutMs);
      return parseUpdateAnswer(answer.body);
    } catch (e) {
      this.host.log.debug(`Update to ${idToHex(peer)} failed: ${(e as Error).message}`);
      return undefined;
    }
  }

  /** An exchange that asks for the peers closest to us and links to those worth it. False when it failed. */
  private async exchangeNear(peer: Id, announce: boolean): Promise<boolean> {
    const named = await this.exchange(peer, this.host.self, announce);
    if (named) this.learnClosest(named, peer);
    return named !== undefined;
  }

  /**
   * Links to the peers `teller` named closest to us that rank among the `k` closest to us of all we
   * know, and that our table would keep. A liar that names its accomplices in place of our
   * neighbours thus loses to the nodes we already know nearer; an honest answer names nodes nearer
   * than ours, and is taken.
   */
  private learnClosest(named: Id[], teller: Id): void {
    for (const id of this.table.rankedAmongClosest(named, this.host.config.kademlia.k)) if (this.table.wouldKeep(id)) void this.attachTo(id, teller);
  }

  /** What our Updates name: the siblings, and each peer that is our only contact in its range. */
  private advertised(): Id[] {
    const siblings = this.table.siblings();
    const sole = this.table.soleContacts().filter((p) => !siblings.some((s) => idEquals(s, p)));
    return [...siblings, ...sole].slice(0, MAX_KADEMLIA_LIST);
  }

  /** Peers named by another: link to those the table would keep. */
  private learn(ids: Id[], teller: Id | undefined): void {
    for (const id of ids) if (this.table.wouldKeep(id)) void this.attachTo(id, teller);
  }

  /**
   * Links to `peer` (deduplicated, `alpha` at once), adds it, and announces us to it: its answer
   * names the peers it knows closest to us, which is how a join finds its neighbourhood.
   */
  private attachTo(peer: Id, via: Id | undefined): Promise<boolean> {
    const key = idToHex(peer);
    const pending = this.attaching.get(key);
    if (pending) return pending;
    const run = this.work
      .add(async () => {
        if (this.stopped || !this.table.wouldKeep(peer)) return false;
        const link = await this.host.attach(node(peer), via);
        if (!idEquals(link.remoteNodeId, peer) || !this.add(peer)) return false;
        await this.exchangeNear(peer, this.joined);
        return true;
      })
      .then(
        (added) => added === true,
        (e: Error) => {
          this.host.log.debug(`Attach to ${key} failed: ${e.message}`);
          return false;
        },
      )
      .finally(() => this.attaching.delete(key));
    this.attaching.set(key, run);
    return run;
  }

  /**
   * The `count` nodes XOR-closest to `resource`, its replica holders, found by asking (FIND_NODE)
   * without linking to them: the closest known not yet asked are asked for theirs, `alpha` a
   * round and no two named by the same node, for up to LOOKUP_ROUNDS rounds. Everything named is
   * ranked together with what we know, so a liar's accomplices are outranked by the nodes an
   * honest answer names, and cannot fill a round's questions.
   *
   * A node we have no link to is asked, and returned, with the chains of nodes that led to it (up
   * to `alpha`, one per node that named it): each named the next and holds a link to it, and their
   * answers reached us, so a request source-routed along a chain meets no other node on its way. A
   * liar names only its accomplices, so one of the chains to a node an honest node named holds no liar.
   */
  async replicaHolders(resource: Id, count: number): Promise<Holder[]> {
    const { k, alpha } = this.host.config.kademlia;
    const found = new Map<string, Holder>();
    const hear = (id: Id, way: Id[]) => {
      const known = found.get(idToHex(id));
      if (!known) found.set(idToHex(id), { id, ways: [way] });
      else if (known.ways.length < alpha && !known.ways.some((w) => w.length === 0)) known.ways.push(way);
    };
    for (const id of this.table.closest(resource, k, true)) hear(id, []);
    const best = () => [...found.values()].sort((a, b) => compareXorDistance(a.id, b.id, resource)).slice(0, k);
    const asked = new Set([idToHex(this.host.self)]);
    for (let round = 0; round < LOOKUP_ROUNDS && !this.stopped; round++) {
      const ask: Holder[] = [];
      const tellers = new Set<string>();
      for (const h of best()) {
        const teller = h.ways[0]!.at(-1);
        if (ask.length === alpha || asked.has(idToHex(h.id)) || (teller && tellers.has(idToHex(teller)))) continue;
        if (teller) tellers.add(idToHex(teller));
        ask.push(h);
      }
      if (ask.length === 0) break;
      for (const h of ask) asked.add(idToHex(h.id));
      const answers = await Promise.all(ask.map(async (h) => ({ teller: h, named: (await this.exchange(h.id, resource, false, h.ways[0])) ?? [] })));
      for (const { teller, named } of answers) for (const id of named) hear(id, [...teller.ways[0]!, teller.id]);
    }
    return best().slice(0, count);
  }

  /**
   * Links to the owner of a random id in each range of the id space farther than our closest peer
   * (KademliaTable.ranges), one after another, by an Attach routed to it: routing ends at the node
   * the overlay holds closest, not at one a peer chose to name, so a liar cannot fill our buckets
   * with its accomplices (asking for the closest, as FIND_NODE does, let them take a third of the
   * entries with a fifth of the nodes).
   */
  private async refreshBuckets(): Promise<void> {
    for (const r of this.table.ranges()) {
      if (this.stopped) return;
      const target = idInBucket(r.prefix, r.depth, this.host.random.bytes(16));
      try {
        const link = await this.host.attach({ type: 'resource', id: target });
        if (!idEquals(link.remoteNodeId, this.host.self) && this.add(link.remoteNodeId)) await this.exchangeNear(link.remoteNodeId, this.joined);
      } catch (e) {
        this.host.log.debug(`refresh: Attach towards ${idToHex(target)} failed: ${(e as Error).message}`);
      }
    }
  }

  /** The stabilization round: an Update exchange with every sibling; one that does not answer has failed. */
  private async updateSiblings(): Promise<void> {
    const siblings = this.table.siblings();
    const results = await Promise.all(siblings.map(async (s) => [s, await this.exchangeNear(s, true)] as const));
    for (const [peer, ok] of results) if (!ok && !this.stopped) this.fail(peer);
  }

  /** A full bucket refused `newcomer`: ping its oldest contacts, replace each that fails. */
  private pingBeforeEvict(oldest: Id[], newcomer: Id): void {
    const c = this.host.config.kademlia;
    for (const old of oldest) {
      const key = idToHex(old);
      if (this.stopped || this.pinging.has(key) || this.pinging.size >= c.pingQueue) continue;
      this.pinging.add(key);
      void this.pings
        .add(async () => {
          try {
            await this.host.request([node(old)], MessageCode.PingReq, pingRequestBody(), c.neighbourTimeoutMs);
            this.table.touch(old);
          } catch {
            this.fail(old);
            if (this.host.linkTo(newcomer)) this.add(newcomer);
          }
        })
        .finally(() => this.pinging.delete(key));
    }
  }

  private forget(peer: Id): void {
    const wasSibling = this.table.siblings().some((s) => idEquals(s, peer));
    if (!this.table.remove(peer)) return;
    this.host.tableChanged();
    if (wasSibling) this.repairSoon.schedule();
  }

  /**
   * Adds a peer to the table, telling the host when the table changed. A peer that fills a range
   * we had no contact in is told to the siblings at once (once joined): the nodes near us most
   * likely lack it too, and each one that did passes it on the same way.
   */
  private add(peer: Id): boolean {
    const changed = this.table.add(peer);
    if (!changed) return false;
    this.host.tableChanged();
    if (this.timers.length > 0 && this.table.isSoleContact(peer)) this.repairSoon.schedule();
    return true;
  }

  /** A peer did not answer: drop its link, which removes it and starts repair. */
  private fail(peer: Id): void {
    dropUnanswering(this.host, peer, 'peer stopped answering', (p) => this.forget(p));
  }

  private startTimers(): void {
    const c = this.host.config.kademlia;
    // A node that lost the overlay joins again: one set of timers, not one per join.
    for (const t of this.timers.splice(0)) t.cancel();
    this.timers.push(
      this.host.clock.every(c.updateIntervalMs, () => void this.updateSiblings()),
      this.host.clock.every(c.refreshIntervalMs, () => void this.refreshBuckets()),
    );
  }
}
