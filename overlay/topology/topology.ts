/**
 * The topology plugin interface (RFC 6940 §6.4.1): what a plugin such as CHORD-RELOAD tells the
 * node (responsibility, next hop, replica set) and the hooks the node calls (join, Update, Join,
 * Leave, link loss). The node owns links and messages; the plugin owns routing state and the
 * protocol that keeps it right, and reaches the network only through `TopologyHost`.
 */
import type { PeerCertificate } from '../../certs/trust.js';
import type { Clock } from '../clock.js';
import type { OverlayConfig } from '../config.js';
import type { Id } from '../id.js';
import type { Link } from '../link/link.js';
import type { Logger } from '../log.js';
import type { Random } from '../random.js';
import type { Destination } from '../wire/message.js';
import type { RoutingTable } from './routing-table.js';

/** An answer to a request the host sent for the plugin. */
export interface HostResponse {
  body: unknown;
  signer: PeerCertificate;
  hops: number;
}

/** What the node lends a topology plugin. */
export interface TopologyHost {
  readonly self: Id;
  readonly config: OverlayConfig;
  readonly clock: Clock;
  readonly random: Random;
  readonly log: Logger;
  /** Sends a signed request and waits for its verified answer (throws ReloadError). */
  request(destinations: Destination[], code: number, body: unknown, timeoutMs?: number): Promise<HostResponse>;
  /** The open link to a node, if any. */
  linkTo(id: Id): Link | undefined;
  /** Links to the bootstrap nodes in config order, dialing those not linked; unreachable ones are skipped. */
  bootstrapLinks(): Promise<Link[]>;
  /**
   * Opens a direct link to the node that `destination` reaches (RFC 6940 §6.5.1 Attach): an Attach
   * request through the overlay, then TLS to the answer's candidates. `via` source-routes the
   * Attach through a node (§10.6). Resolves with the link (an existing one if already linked).
   */
  attach(destination: Destination, via?: Id): Promise<Link>;
  /** Attach without a link: which node `destination` reaches; its address joins the peer cache. */
  lookUp(destination: Destination, via?: Id): Promise<Id>;
  /** The routing table changed (a peer added or removed): responsibilities may have moved. */
  tableChanged(): void;
}

/** The routing state CHORD-RELOAD (and a client, its one peer as successor) shows in `GET /status`. */
export interface RingStatus {
  topology: 'CHORD-RELOAD' | 'client';
  successors: string[];
  predecessors: string[];
  fingers: { index: number; target: string; peer: string | null }[];
}

/** The routing state the Kademlia plugin shows in `GET /status`. */
export interface KademliaStatus {
  topology: 'KADEMLIA';
  /** The XOR-closest peers, closest first. */
  siblings: string[];
  /** k-buckets from the farthest (depth 1: the half of the id space without this node) to the node's own. */
  buckets: { depth: number; contacts: string[] }[];
}

/** What a plugin shows in `GET /status`, told apart by `topology`. */
export type TopologyStatus = RingStatus | KademliaStatus;

/** Who sent a topology message, as the node verified it. */
export interface TopologySender {
  signer: PeerCertificate;
  /** True when the message came straight over a link bound to the signer (RFC 6940 §6.4.2.1). */
  adjacent: boolean;
}

export interface Topology {
  readonly table: RoutingTable;
  /** Joins the overlay through the bootstrap links (§10.5); resolves once joined. */
  join(signal?: AbortSignal): Promise<void>;
  /** Leaves gracefully, handing neighbours over (§10.7.3), and stops timers. */
  leave(): Promise<void>;
  /** Stops timers without telling anyone (a crash, or after leave). */
  stop(): void;
  /** UpdateReq body -> UpdateAns body. */
  onUpdate(body: unknown, from: TopologySender): unknown;
  /** JoinReq body -> JoinAns body. */
  onJoin(body: unknown, from: TopologySender): unknown;
  /** LeaveReq body -> LeaveAns body. */
  onLeave(body: unknown, from: TopologySender): unknown;
  /** The peers whose failure or arrival moves responsibility (Chord: successors and predecessors). */
  neighbours(): Id[];
  /** A link went down: the peer may have failed. */
  onLinkDown(peer: Id): void;
  status(): TopologyStatus;
  /**
   * The `count` nodes that should hold `resource` (the owner and its replica set), closest first,
   * found by asking the overlay rather than taking the owner's word for it, so that a Fetch can ask
   * each of them (RFC 6940 §13.5). An empty list when this topology cannot tell.
   */
  replicaHolders(resource: Id, count: number): Promise<Holder[]>;
}

/** A node found by asking, and the chains of nodes to source-route through to reach it (one empty chain when linked or routed plainly). */
export interface Holder {
  id: Id;
  ways: Id[][];
}
