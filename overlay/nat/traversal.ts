/**
 * Links through NATs: what a node knows of its own reachability (reachability.ts), what it offers
 * in an Attach, and the ladder of ways a link is made, in the order ICE would prefer them:
 *
 * 1. direct: the requester dials the answerer's candidates (the answerer can be dialled, or does
 *    not know that it cannot);
 * 2. reversed: the answerer cannot be dialled but the requester can, so the answerer dials out,
 *    asked by the Attach itself;
 * 3. punched: neither can be dialled; both NATs keep ports: both connect at once (tls-punch.ts);
 *    one keeps ports and the other picks new ones: a birthday punch (tcp-spray.ts);
 * 4. relayed: the requester connects through the relay the answerer reserved (relay-server.ts),
 *    when both NATs pick new ports or a birthday punch missed;
 * 5. none: no way (the answerer found no relay).
 *
 * The answerer chooses, as it alone knows both sides; each end records how each link was made.
 */
import { parseHostPort, type BootstrapNode, type LinkLimitsConfig } from '../config.js';
import type { Clock } from '../clock.js';
import { ErrorCode, ReloadError } from '../errors.js';
import { compareIds, idFromHex, idToHex, type Id } from '../id.js';
import { dialFirst } from '../link/dial-first.js';
import type { Link } from '../link/link.js';
import type { Logger } from '../log.js';
import { formatCandidate, type AttachAnswer, type AttachPlan, type AttachRequest, type TraversalOffer } from '../methods/attach.js';
import type { Response } from '../routing/message-transport.js';
import type { Socket } from 'node:net';
import type { SprayTarget } from '../link/tcp-spray.js';
import { MessageCode } from '../wire/codes.js';
import { judgeReachability, parseReachabilityAnswer, reachabilityRequestBody, UNKNOWN_REACHABILITY, type ReachabilityAnswer, type ReachabilityStatus } from './reachability.js';
import { relayHandshake } from './relay-line.js';
import { parseRelayReserveAnswer } from './relay-methods.js';
import type { RelayServer } from './relay-server.js';

/** Birthday punches a node runs at once, as requester and answerer together; more go to the relay. */
export const SPRAYS_AT_ONCE = 2;

export type LinkMechanism = 'direct' | 'reversed' | 'punched' | 'relayed';

export interface TraversalHost {
  self: Id;
  clock: Clock;
  log: Logger;
  config: LinkLimitsConfig;
  /** The overlay's own links (the Channel below). */
  overlay: Channel;
  /** Dials only to prove an address works, and closes at once. */
  dialAndClose(target: BootstrapNode, peer: Id): Promise<void>;
  /** Where links are TCP (LinkFactory.sockets, with the node's link limits): punching, and TLS on a relayed connection. */
  sockets:
    | {
        reservePort(): Promise<number>;
        punch(to: BootstrapNode, from: number, peer: Id, tlsServer: boolean, limits: LinkLimits, spray?: SprayTarget): Promise<Link>;
        secure(raw: Socket, far: BootstrapNode, peer: Id, tlsServer: boolean, limits: LinkLimits): Promise<Link>;
      }
    | undefined;
  /** This node's relay for others, when it runs one. */
  relay(): RelayServer | undefined;
  /** The overlay links this node holds now (a relay to reserve at again is looked for among them). */
  links(): Link[];
  /** A request over one link (MessageTransport.requestOn). */
  ask(link: Link, code: number, body: unknown, timeoutMs: number): Promise<Response>;
}

/** A link's message bounds (the overlay's, or an application channel's). */
export interface LinkLimits {
  maxMessageBytes: number;
  queueLimit: number;
}

/**
 * Where a link goes: the overlay's connection table, or an application's channel (AppAttach).
 * The ladder is the same; what differs is how a link is dialled and who takes it.
 */
export interface Channel {
  /** Application-ID; undefined for overlay links. */
  app: number | undefined;
  limits: LinkLimits;
  /** This node's listen address for the channel, if it listens. */
  listenAddress(): BootstrapNode | undefined;
  /** The link this node holds to `peer` on this channel already, if any. */
  existing(peer: Id): Link | undefined;
  /** Dials a peer's candidate, requiring its Node-ID; the link is taken with adopt. */
  dial(candidate: BootstrapNode, peer: Id): Promise<Link>;
  /**
   * Takes a link this node made, whichever way: the overlay adds it to its table; an application's
   * channel hands the answerer's to the application (the requester returns its own to the caller).
   * False when refused.
   */
  adopt(link: Link, side: 'requester' | 'answerer'): boolean;
}

/** An offer made for one Attach, with the local port a punch would start from. */
export interface PreparedOffer {
  offer: TraversalOffer;
  punchFrom: number | undefined;
}

const WILDCARDS = new Set(['0.0.0.0', '::']);

export class Traversal {
  private statusValue: ReachabilityStatus = UNKNOWN_REACHABILITY;
  private readonly mechanisms = new WeakMap<Link, LinkMechanism>();
  private readonly setup = new WeakMap<Link, number>();
  /** Requesters waiting for a peer to dial them (reversal), by peer hex. */
  private readonly waiting = new Map<string, Set<(link: Link) => void>>();
  private dialBacks = 0;
  /** Birthday punches running (each holds punchSpraySockets sockets). */
  private sprays = 0;
  /** The relay this node reserved at, when nobody can dial it. */
  private reservation: { link: Link; at: BootstrapNode } | undefined;
  private stopped = false;

  constructor(private readonly host: TraversalHost) {}

  get status(): ReachabilityStatus {
    return this.statusValue;
  }

  /** How a link was made; a link nobody recorded was dialled or accepted directly. */
  mechanism(link: Link): LinkMechanism {
    return this.mechanisms.get(link) ?? 'direct';
  }

  /**
   * Asks up to `reachabilityPeers` of the links this node dialled what they see it as, and to
   * dial it back. A node without a listener cannot be dialled whatever they say.
   */
  async check(dialled: Link[]): Promise<void> {
    // A join starts the node (again): reservations may be made.
    this.stopped = false;
    const { reachabilityPeers, traversalTimeoutMs, dialBackTimeoutMs } = this.host.config;
    const asked = dialled.filter((l) => l.open).slice(0, reachabilityPeers);
    if (asked.length === 0) return;
    const listen = this.host.overlay.listenAddress();
    // The peer's dial-back has dialBackTimeoutMs; its answer comes after that.
    const answers = await Promise.all(
      asked.map(async (link) => {
        try {
          const res = await this.host.ask(link, MessageCode.ReachabilityReq, reachabilityRequestBody(listen?.port), dialBackTimeoutMs + traversalTimeoutMs);
          return { answer: parseReachabilityAnswer(res.body), link };
        } catch (e) {
          this.host.log.debug(`reachability: ${link.remoteNodeIdHex} did not answer: ${(e as Error).message}`);
          return undefined;
        }
      }),
    );
    const got = answers.filter((a): a is { answer: ReachabilityAnswer; link: Link } => a !== undefined);
    const judged = judgeReachability(got);
    this.statusValue = listen ? judged : { ...judged, dialable: false };
    this.host.log.info(`reachability: seen as ${this.statusValue.observed ?? 'unknown'}, dialable ${this.statusValue.dialable ?? 'unknown'}, NAT ${this.statusValue.mapping ?? 'unknown'}`);
    if (this.statusValue.dialable === false && this.host.sockets && !this.reservation?.link.open) await this.reserveRelay(got.map((a) => a.link));
  }

  /**
   * Asks again, over links this node dialled (their local port is not the listen port), so that a
   * node whose network changed while it runs learns it: every links.reachabilityIntervalMs.
   */
  async recheck(): Promise<void> {
    if (this.stopped) return;
    const listenPort = this.host.overlay.listenAddress()?.port;
    const dialled = this.host.links().filter((l) => l.localAddress === undefined || !l.localAddress.endsWith(`:${listenPort}`));
    const before = JSON.stringify(this.statusValue);
    await this.check(dialled);
    if (JSON.stringify(this.statusValue) !== before) this.host.log.warn(`reachability changed while running: seen as ${this.statusValue.observed}, dialable ${this.statusValue.dialable}, NAT ${this.statusValue.mapping}`);
  }

  /** The relay this node holds a place at ("ip:port" and its Node-ID), for GET /status. */
  get relayStatus(): { nodeId: string; address: string } | null {
    const r = this.reservation;
    return r?.link.open ? { nodeId: r.link.remoteNodeIdHex, address: formatCandidate(r.at) } : null;
  }

  /** Serves RelayReserveReq: only a node others can dial is any use as a relay. */
  serveReservation(link: Link): BootstrapNode {
    const relay = this.host.relay();
    const host = this.candidates(this.host.overlay)[0]?.host;
    if (!relay?.port || this.statusValue.dialable === false || !host) throw new ReloadError(ErrorCode.Forbidden, 'this node does not relay (it runs no relay, or cannot be dialled itself)', 'not_a_relay');
    relay.reserve(link);
    return { host, port: relay.port };
  }

  /**
   * Serves RelayIncomingReq from the relay we reserved at: connect to it and be the TLS server
   * for `source`, on the channel asked for.
   */
  acceptCircuit(link: Link, circuit: string, source: string, channel: Channel): void {
    const r = this.reservation;
    if (!r || r.link !== link) throw new ReloadError(ErrorCode.Forbidden, 'no reservation of this node at that relay', 'not_reserved');
    const { traversalTimeoutMs } = this.host.config;
    void (async () => {
      const raw = await relayHandshake(r.at, `ACCEPT ${circuit}`, this.host.clock, traversalTimeoutMs);
      const relayed = this.mark(await this.host.sockets!.secure(raw, r.at, idFromHex(source), true, channel.limits), 'relayed');
      if (!channel.adopt(relayed, 'answerer')) relayed.close();
    })().catch((e: Error) => this.host.log.debug(`relayed link from ${source} failed: ${e.message}`));
  }

  /**
   * The addresses this node offers on a channel: its listen address, and before it the address
   * peers reached it at when that differs (a forwarded port) or the listen address is a wildcard.
   */
  candidates(channel: Channel): BootstrapNode[] {
    const listen = channel.listenAddress();
    if (!listen) return [];
    const seenHost = this.publicHost();
    if (seenHost && this.statusValue.dialable === true && seenHost !== listen.host) {
      const reflexive = { host: seenHost, port: listen.port };
      return WILDCARDS.has(listen.host) ? [reflexive] : [reflexive, listen];
    }
    return [listen];
  }

  /** Serves a dial-back (ReachabilityReq): null when this node runs maxDialBacks already. */
  async dialBack(target: BootstrapNode, peer: Id): Promise<boolean | null> {
    if (this.dialBacks >= this.host.config.maxDialBacks) return null;
    this.dialBacks++;
    try {
      await this.host.dialAndClose(target, peer);
      return true;
    } catch {
      return false;
    } finally {
      this.dialBacks--;
    }
  }

  /**
   * What a requester that wants a link offers: reachability, and when it cannot be dialled, a punch
   * port (its NAT keeps ports) or its public address for a birthday punch (its NAT picks new ones).
   */
  async prepare(): Promise<PreparedOffer> {
    const { dialable } = this.statusValue;
    const from = dialable === false && this.canPunch() ? await this.host.sockets!.reservePort() : undefined;
    const at = from === undefined ? undefined : this.publicAt(from);
    const offer: TraversalOffer = { dialable, punch: at };
    if (dialable === false && this.canBeSprayed()) offer.spray = this.publicHost();
    return { offer, punchFrom: at ? from : undefined };
  }

  /** The answerer's side of an Attach: its candidates and plan, and the reversal or punch started. */
  async answer(request: AttachRequest, requester: Id, channel: Channel): Promise<AttachAnswer> {
    const candidates = this.candidates(channel);
    const plan = await this.choose(request);
    const failed = (how: string) => (e: Error) => this.host.log.debug(`${how} to ${idToHex(requester)} failed: ${e.message}`);
    if (plan.kind === 'reverse') this.host.clock.after(0, () => void this.reverse(request.candidates, requester, channel).catch(failed('reversal')));
    if (plan.kind === 'punch') {
      const from = plan.from;
      this.host.clock.after(0, () => void this.punch(request.traversal!.punch!, from, requester, channel, 'answerer').catch(failed('punch')));
      return { candidates, plan: { kind: 'punch', at: plan.at, relay: plan.relay } };
    }
    if (plan.kind === 'spray') {
      const offer = request.traversal!;
      // We keep ports: we spray from our announced port at its address; else at its punch port.
      const target: SprayTarget = plan.from !== undefined ? { role: 'fixed', host: offer.spray!, port: 0, localPort: plan.from, sockets: this.host.config.punchSpraySockets } : { role: 'spread', host: offer.punch!.host, port: offer.punch!.port, sockets: this.host.config.punchSpraySockets };
      this.host.clock.after(0, () => void this.spray(target, requester, channel, 'answerer').catch(failed('birthday punch')));
      return { candidates, plan: { kind: 'spray', at: plan.at, relay: plan.relay } };
    }
    return { candidates, plan };
  }

  /**
   * The requester's side once the answer came: the link, made as the answerer planned. How long
   * that took is kept with the link (setupMs).
   */
  async link(peer: Id, answer: AttachAnswer, prepared: PreparedOffer, channel: Channel): Promise<Link> {
    const started = this.host.clock.now();
    const link = await this.make(peer, answer, prepared, channel);
    this.setup.set(link, this.host.clock.now() - started);
    return link;
  }

  /** Milliseconds the ladder took to make a link this node asked for; undefined for others. */
  setupMs(link: Link): number | undefined {
    return this.setup.get(link);
  }

  private async make(peer: Id, answer: AttachAnswer, prepared: PreparedOffer, channel: Channel): Promise<Link> {
    switch (answer.plan.kind) {
      case 'direct': {
        const link = await dialFirst(answer.candidates, (c) => channel.dial(c, peer), () => new ReloadError(ErrorCode.Not_Found, `${idToHex(peer)} offers no address`, 'no_candidates'));
        return this.take(link, channel, 'requester');
      }
      case 'reverse':
        return this.mark(await this.dialledBy(peer, channel), 'reversed');
      case 'punch': {
        const { at, relay } = answer.plan;
        if (prepared.punchFrom === undefined) throw new ReloadError(ErrorCode.Invalid_Message, `${idToHex(peer)} planned a punch this node did not offer`, 'bad_plan');
        const from = prepared.punchFrom;
        return this.orRelay(() => this.punch(at, from, peer, channel, 'requester'), peer, relay, channel);
      }
      case 'spray': {
        const { at, relay } = answer.plan;
        const sockets = this.host.config.punchSpraySockets;
        // Whichever side keeps ports offered a punch port: that side sprays from it.
        const target: SprayTarget = prepared.punchFrom !== undefined ? { role: 'fixed', host: at.host, port: 0, localPort: prepared.punchFrom, sockets } : { role: 'spread', host: at.host, port: at.port, sockets };
        return this.orRelay(() => this.spray(target, peer, channel, 'requester'), peer, relay, channel);
      }
      case 'relay':
        return this.relayTo(peer, answer.plan.at, channel);
      case 'none':
        throw new ReloadError(ErrorCode.Not_Found, `no way to link to ${idToHex(peer)}: neither end can be dialled and a punch cannot be aimed (a relay is needed)`, 'no_traversal');
    }
  }

  /** A punch, and the answerer's relay when it misses (a NAT or firewall no punch gets through). */
  private async orRelay(punch: () => Promise<Link>, peer: Id, relay: BootstrapNode | undefined, channel: Channel): Promise<Link> {
    try {
      return await punch();
    } catch (e) {
      if (!relay) throw e;
      this.host.log.debug(`punch to ${idToHex(peer)} missed (${(e as Error).message}); through its relay`);
      return this.relayTo(peer, relay, channel);
    }
  }

  /**
   * A link came in on a channel: it may be the reversal a requester waits for, which then takes it
   * (true); otherwise it is the channel's as usual.
   */
  claim(link: Link, app: number | undefined): boolean {
    const key = waitKey(link.remoteNodeIdHex, app);
    const waiters = this.waiting.get(key);
    if (!waiters) return false;
    this.waiting.delete(key);
    for (const resolve of waiters) resolve(link);
    return true;
  }

  private async choose(
    request: AttachRequest,
  ): Promise<Exclude<AttachPlan, { kind: 'punch' | 'relay' | 'spray' }> | { kind: 'relay'; at: BootstrapNode } | { kind: 'punch'; at: BootstrapNode; relay: BootstrapNode | undefined; from: number } | { kind: 'spray'; at: BootstrapNode; relay: BootstrapNode | undefined; from: number | undefined }> {
    const offer = request.traversal;
    if (!offer || this.statusValue.dialable !== false) return { kind: 'direct' };
    if (offer.dialable !== false && request.candidates.length > 0) return { kind: 'reverse' };
    const relay = this.reservation?.link.open ? this.reservation.at : undefined;
    if (offer.punch && this.canPunch()) {
      const from = await this.host.sockets!.reservePort();
      const at = this.publicAt(from);
      if (at) return { kind: 'punch', at, relay, from };
    }
    const host = this.publicHost();
    if (host && this.sprays < SPRAYS_AT_ONCE && this.host.config.punchSpraySockets > 0) {
      // One side keeps ports, the other picks new ones: a birthday punch, the relay if it misses.
      if (offer.punch && this.canBeSprayed()) return { kind: 'spray', at: { host, port: offer.punch.port }, relay, from: undefined };
      if (offer.spray && this.canPunch()) {
        const from = await this.host.sockets!.reservePort();
        return { kind: 'spray', at: { host, port: from }, relay, from };
      }
    }
    if (relay) return { kind: 'relay', at: relay };
    return { kind: 'none' };
  }

  /** No more reservations once the node stops (its links closing would start new ones). */
  stop(): void {
    this.stopped = true;
  }

  /**
   * Asks the peers we dialled, in turn, for a place at their relay. A reservation ends with its
   * link; then the node looks again among the links it holds.
   */
  private async reserveRelay(candidates: Link[]): Promise<void> {
    for (const link of candidates) {
      if (this.stopped || !link.open) continue;
      try {
        const res = await this.host.ask(link, MessageCode.RelayReserveReq, [], this.host.config.traversalTimeoutMs);
        const reservation = { link, at: parseRelayReserveAnswer(res.body) };
        this.reservation = reservation;
        this.host.log.info(`reserved a place at the relay of ${link.remoteNodeIdHex} (${this.relayStatus?.address})`);
        link.once('close', () => {
          if (this.reservation !== reservation || this.stopped) return;
          this.reservation = undefined;
          void this.reserveRelay(this.host.links());
        });
        return;
      } catch (e) {
        this.host.log.debug(`no relay at ${link.remoteNodeIdHex}: ${(e as Error).message}`);
      }
    }
    this.host.log.warn('cannot be dialled and found no relay: peers behind NATs that change ports will not reach this node');
  }

  private async relayTo(peer: Id, at: BootstrapNode, channel: Channel): Promise<Link> {
    const line = `CONNECT ${idToHex(peer)} ${idToHex(this.host.self)}${channel.app === undefined ? '' : ` ${channel.app}`}`;
    const raw = await relayHandshake(at, line, this.host.clock, this.host.config.traversalTimeoutMs);
    return this.take(this.mark(await this.host.sockets!.secure(raw, at, peer, false, channel.limits), 'relayed'), channel, 'requester');
  }

  /** Hands a link to its channel; closes it and rejects when the channel has no room. */
  private take(link: Link, channel: Channel, side: 'requester' | 'answerer'): Link {
    if (channel.adopt(link, side)) return link;
    link.close();
    throw new ReloadError(ErrorCode.Forbidden, `no room for a link to ${link.remoteNodeIdHex}`, 'link_refused');
  }

  /** Our NAT picks new ports, but a birthday punch (tcp-spray.ts) can still meet one of them. */
  private canBeSprayed(): boolean {
    const { mapping, observed } = this.statusValue;
    return this.host.sockets !== undefined && observed !== null && mapping === 'port-changing' && this.host.config.punchSpraySockets > 0;
  }

  private async spray(target: SprayTarget, peer: Id, channel: Channel, side: 'requester' | 'answerer'): Promise<Link> {
    this.sprays++;
    try {
      const link = await this.host.sockets!.punch({ host: target.host, port: target.port }, target.localPort ?? 0, peer, target.role === 'fixed', channel.limits, target);
      return this.take(this.mark(link, 'punched'), channel, side);
    } finally {
      this.sprays--;
    }
  }

  /** A punch can be aimed at us: the links are sockets and our NAT, if any, keeps ports. */
  private canPunch(): boolean {
    const { mapping, observed } = this.statusValue;
    return this.host.sockets !== undefined && observed !== null && (mapping === 'none' || mapping === 'port-preserving');
  }

  /** Our public address with a given port (the NAT keeps it). */
  private publicAt(port: number): BootstrapNode | undefined {
    const host = this.publicHost();
    return host ? { host, port } : undefined;
  }

  /** The address our peers see us at, without the port. */
  private publicHost(): string | undefined {
    const { observed } = this.statusValue;
    return observed === null ? undefined : parseHostPort(observed).host;
  }

  private async reverse(candidates: BootstrapNode[], requester: Id, channel: Channel): Promise<void> {
    if (channel.existing(requester)) return;
    const link = await dialFirst(candidates, (c) => channel.dial(c, requester), () => new Error('no candidates'));
    this.take(this.mark(link, 'reversed'), channel, 'answerer');
  }

  private async punch(to: BootstrapNode, from: number, peer: Id, channel: Channel, side: 'requester' | 'answerer'): Promise<Link> {
    const link = await this.host.sockets!.punch(to, from, peer, compareIds(this.host.self, peer) < 0, channel.limits);
    return this.take(this.mark(link, 'punched'), channel, side);
  }

  private mark(link: Link, how: LinkMechanism): Link {
    this.mechanisms.set(link, how);
    return link;
  }

  /** Resolves with the link `peer` dials to us on `channel` (reversal), or rejects after traversalTimeoutMs. */
  private dialledBy(peer: Id, channel: Channel): Promise<Link> {
    const existing = channel.existing(peer);
    if (existing) return Promise.resolve(existing);
    const key = waitKey(idToHex(peer), channel.app);
    const timeoutMs = this.host.config.traversalTimeoutMs;
    return new Promise<Link>((resolve, reject) => {
      const waiters = this.waiting.get(key) ?? new Set();
      this.waiting.set(key, waiters);
      const done = (link: Link) => {
        timer.cancel();
        resolve(link);
      };
      const timer = this.host.clock.after(timeoutMs, () => {
        waiters.delete(done);
        if (waiters.size === 0) this.waiting.delete(key);
        reject(new ReloadError(ErrorCode.Request_Timeout, `${idToHex(peer)} did not dial back within ${timeoutMs} ms`, 'reversal_timeout'));
      });
      waiters.add(done);
    });
  }
}

function waitKey(peerHex: string, app: number | undefined): string {
  return app === undefined ? peerHex : `${peerHex}/${app}`;
}
