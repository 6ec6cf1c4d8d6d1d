/**
 * The composition root of a RELOAD node: builds trust store, links, forwarder, transaction table
 * and method dispatcher from an overlay configuration and an identity, and runs them.
 * In this version a node accepts links from enrolled nodes, connects to bootstrap nodes and
 * answers Ping; joining the ring comes with the topology plugin.
 */
import type { Identity } from '../certs/identity.js';
import { TrustStore, type PeerCertificate } from '../certs/trust.js';
import { systemClock, type Clock } from './clock.js';
import type { BootstrapNode, OverlayConfig } from './config.js';
import { ErrorCode, ReloadError, isReloadError } from './errors.js';
import { idEquals, idFromHex, idToHex, isHexId, WILDCARD_ID, type Id } from './id.js';
import type { Link } from './link/link.js';
import { connectTls, listenTls, type TlsListener } from './link/tls-link.js';
import { silentLogger, type Logger } from './log.js';
import { Dispatcher, type MethodHandler } from './methods/dispatcher.js';
import { parsePingAnswer, pingHandler, pingRequestBody } from './methods/ping.js';
import { Forwarder, type HopDecision, type RoutingPolicy } from './routing/forwarder.js';
import { LinkTable } from './routing/link-table.js';
import { RoutingMetrics } from './routing/metrics.js';
import { TransactionTable } from './routing/transactions.js';
import { decodeCbor, encodeCbor } from './wire/cbor.js';
import { decodeErrorBody, encodeErrorBody, newTransactionId, overlayHash } from './wire/codec.js';
import { MessageCode, answerCodeOf, isRequestCode, messageCodeName } from './wire/codes.js';
import type { Destination, ForwardingHeader, MessageContents, WireMessage } from './wire/message.js';
import { PROTOCOL_VERSION } from './wire/message.js';
import { signMessage, verifyMessage } from './wire/sign.js';

export type NodeState = 'stopped' | 'starting' | 'serving' | 'stopping';

export interface NodeOptions {
  config: OverlayConfig;
  identity: Identity;
  /** Address to accept links on; port 0 picks a free one. Omit for a node that only dials out. */
  listen?: { host: string; port: number };
  /** Bootstrap nodes besides those in the config (the CLI's --bootstrap). */
  bootstrap?: BootstrapNode[];
  clock?: Clock;
  logger?: Logger;
  /** TLS handshake / connect timeout, ms. */
  connectTimeoutMs?: number;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** A verified response to a request this node sent. */
export interface Response {
  body: unknown;
  signer: PeerCertificate;
  /** Nodes the response passed through, the responder included (1 = direct neighbour). */
  hops: number;
  rttMs: number;
}

interface Arrived {
  contents: MessageContents;
  signer: PeerCertificate;
  header: ForwardingHeader;
}

const REASON_PREFIX = /^\[([a-z_]+)\] /;

export class Node {
  readonly config: OverlayConfig;
  readonly identity: Identity;
  readonly trust: TrustStore;
  readonly metrics = new RoutingMetrics();
  readonly dispatcher = new Dispatcher();
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly links: LinkTable;
  private readonly transactions: TransactionTable<Arrived>;
  private readonly forwarder: Forwarder;
  private listener: TlsListener | undefined;
  private stateValue: NodeState = 'stopped';

  constructor(private readonly opts: NodeOptions) {
    this.config = opts.config;
    this.identity = opts.identity;
    if (opts.identity.overlay !== opts.config.overlay) {
      throw new ReloadError(ErrorCode.Incompatible_with_Overlay, `identity is enrolled in overlay "${opts.identity.overlay}", the config is for "${opts.config.overlay}"`);
    }
    this.clock = opts.clock ?? systemClock;
    this.log = (opts.logger ?? silentLogger).child('node');
    this.trust = new TrustStore(opts.config.rootCerts, opts.config.overlay);
    this.transactions = new TransactionTable(this.clock, {
      timeoutMs: opts.config.requestTimeoutMs,
      maxOutstanding: opts.config.maxOutstandingRequests,
    });
    this.links = new LinkTable(
      opts.config.maxLinks,
      (bytes, link) => this.forwarder.receive(bytes, link),
      (link, error) => this.log.info(`link to ${link.remoteNodeIdHex} closed${error ? `: ${error.message}` : ''}`),
    );
    this.forwarder = new Forwarder({
      self: this.identity.nodeId,
      overlayHash: overlayHash(opts.config.overlay),
      configSequence: opts.config.sequence,
      initialTtl: opts.config.initialTtl,
      maxMessageSize: opts.config.maxMessageSize,
      policy: this.directLinksOnly(),
      metrics: this.metrics,
      deliver: (msg, from) => this.deliver(msg, from),
      sendError: (request, error, link) => this.sendError(request, error, link),
    });
    this.dispatcher.register(pingHandler(this.clock));
  }

  get nodeId(): Id {
    return this.identity.nodeId;
  }

  get nodeIdHex(): string {
    return this.identity.nodeIdHex;
  }

  get state(): NodeState {
    return this.stateValue;
  }

  /** The bound listen address ("host:port"), once serving. */
  get listenAddress(): string | undefined {
    const a = this.listener?.address;
    return a ? (a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`) : undefined;
  }

  /** Registers a method handler (the overlay's own, or a usage's). */
  registerMethod(handler: MethodHandler): void {
    this.dispatcher.register(handler);
  }

  async start(): Promise<void> {
    if (this.stateValue !== 'stopped') throw new Error(`node is ${this.stateValue}`);
    this.stateValue = 'starting';
    try {
      if (this.opts.listen) {
        this.listener = await listenTls({
          ...this.opts.listen,
          identity: this.identity,
          trust: this.trust,
          clock: this.clock,
          maxMessageBytes: this.config.maxMessageSize,
          queueLimit: this.config.linkQueueLimit,
          onLink: (link) => this.addLink(link),
          onRefused: (addr, error) => {
            this.metrics.countError(isReloadError(error) ? error.code : ErrorCode.Forbidden, 'link_refused');
            this.log.warn(`refused a link from ${addr}: ${error.message}`);
          },
        });
        this.log.info(`listening on ${this.listenAddress}`);
      }
      for (const b of [...this.config.bootstrap, ...(this.opts.bootstrap ?? [])]) {
        if (this.listener && b.port === this.listener.address.port && b.host === this.listener.address.host) continue;
        try {
          const link = await this.connect(b.host, b.port);
          this.log.info(`linked to bootstrap ${b.host}:${b.port} (node ${link.remoteNodeIdHex})`);
        } catch (e) {
          this.log.warn(`skipping bootstrap ${b.host}:${b.port}: ${(e as Error).message}`);
        }
      }
      this.stateValue = 'serving';
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  async stop(): Promise<void> {
    if (this.stateValue === 'stopped' || this.stateValue === 'stopping') return;
    this.stateValue = 'stopping';
    this.transactions.failAll(new ReloadError(ErrorCode.Request_Timeout, 'node stopped', 'node_stopped'));
    await this.listener?.close();
    this.listener = undefined;
    this.links.closeAll();
    this.stateValue = 'stopped';
  }

  /** Opens a TLS link to a node, optionally requiring its Node-ID. */
  async connect(host: string, port: number, expectedNodeId?: Id): Promise<Link> {
    const link = await connectTls({
      host,
      port,
      identity: this.identity,
      trust: this.trust,
      clock: this.clock,
      maxMessageBytes: this.config.maxMessageSize,
      queueLimit: this.config.linkQueueLimit,
      expectedNodeId,
      timeoutMs: this.opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    });
    this.addLink(link);
    return link;
  }

  /** Links in use, one per remote node. */
  linkList(): Link[] {
    return this.links.links();
  }

  /**
   * Sends a request and waits for its verified answer. A non-error answer to a Node-ID must be
   * signed by that node (RFC 6940 §6.3.4); an Error answer rejects with its ReloadError.
   */
  async request(destinations: Destination[], code: number, body: unknown, timeoutMs?: number): Promise<Response> {
    if (!isRequestCode(code)) throw new RangeError(`${messageCodeName(code)} is not a request code`);
    if (this.stateValue !== 'serving') throw new ReloadError(ErrorCode.Request_Timeout, `node is ${this.stateValue}`, 'node_not_serving');
    const header = this.newHeader(destinations, newTransactionId());
    const msg = signMessage(header, { code, body: encodeCbor(body), extensions: [] }, this.identity);
    const started = this.clock.now();
    const answer = this.transactions.begin(header.transactionId, timeoutMs);
    try {
      this.forwarder.originate(msg);
      this.metrics.countMessage('out', code);
    } catch (e) {
      this.transactions.fail(header.transactionId, e as Error);
    }
    const arrived = await answer;
    const rttMs = this.clock.now() - started;
    this.metrics.observeRtt(rttMs);
    if (arrived.contents.code === MessageCode.Error) throw this.errorFrom(arrived);
    if (arrived.contents.code !== answerCodeOf(code)) {
      throw new ReloadError(ErrorCode.Invalid_Message, `expected ${messageCodeName(answerCodeOf(code))}, got ${messageCodeName(arrived.contents.code)}`, 'wrong_answer');
    }
    const target = destinations.length === 1 ? destinations[0] : undefined;
    if (target?.type === 'node' && !idEquals(target.id, WILDCARD_ID) && !idEquals(target.id, arrived.signer.identity.nodeId)) {
      throw new ReloadError(ErrorCode.Forbidden, `answer signed by ${arrived.signer.identity.nodeIdHex}, not by ${idToHex(target.id)}`, 'wrong_responder');
    }
    return { body: decodeCbor(arrived.contents.body), signer: arrived.signer, hops: arrived.header.via.length, rttMs };
  }

  /** Pings a Node-ID (hex or bytes) through the overlay. */
  async ping(destination: Id | string, timeoutMs?: number): Promise<{ rttMs: number; hops: number; responder: string }> {
    const id = typeof destination === 'string' ? parseNodeId(destination) : destination;
    const res = await this.request([{ type: 'node', id }], MessageCode.PingReq, pingRequestBody(), timeoutMs);
    parsePingAnswer(res.body);
    return { rttMs: res.rttMs, hops: res.hops, responder: res.signer.identity.nodeIdHex };
  }

  private addLink(link: Link): void {
    if (this.stateValue === 'stopping' || this.stateValue === 'stopped') {
      link.close();
      return;
    }
    if (this.links.add(link)) this.log.info(`link up with ${link.remoteNodeIdHex} (${link.remoteUser}) at ${link.remoteAddress}`);
  }

  /** Until a topology plugin is in place, a node reaches only the nodes it has a link to. */
  private directLinksOnly(): RoutingPolicy {
    return {
      nextHop: (dest): HopDecision => {
        const link = dest.type === 'node' ? this.links.get(dest.id) : undefined;
        return link ? { kind: 'link', link } : { kind: 'none' };
      },
    };
  }

  private newHeader(destinations: Destination[], transactionId: bigint): ForwardingHeader {
    return {
      overlay: overlayHash(this.config.overlay),
      configSequence: this.config.sequence,
      version: PROTOCOL_VERSION,
      ttl: this.config.initialTtl,
      transactionId,
      maxResponseLength: 0,
      via: [],
      destinations,
      options: [],
    };
  }

  /** A message has reached the end of its destination list here: verify it, then act on it. */
  private deliver(msg: WireMessage, from: Link | undefined): void {
    if (!from) msg = { ...msg, header: { ...msg.header, via: [...msg.header.via, { type: 'node', id: this.nodeId }] } };
    let verified;
    try {
      verified = verifyMessage(msg, this.trust, this.clock.now());
    } catch (e) {
      const error = isReloadError(e) ? e : new ReloadError(ErrorCode.Invalid_Message, (e as Error).message);
      this.metrics.countError(error.code, 'unverified');
      this.log.debug(`dropped an unverifiable message: ${error.message}`);
      return;
    }
    const { contents, signer } = verified;
    this.metrics.countMessage('in', contents.code);
    if (!isRequestCode(contents.code)) {
      if (!this.transactions.complete(msg.header.transactionId, { contents, signer, header: msg.header })) {
        this.metrics.countError(ErrorCode.Invalid_Message, 'unsolicited_answer');
      }
      return;
    }
    void this.answer(msg, contents, signer, from);
  }

  private async answer(request: WireMessage, contents: MessageContents, signer: PeerCertificate, link: Link | undefined): Promise<void> {
    let code: number;
    let body: Uint8Array;
    try {
      const critical = contents.extensions.find((x) => x.critical);
      if (critical) throw new ReloadError(ErrorCode.Unknown_Extension, `critical extension ${critical.type} is not supported`);
      const handler = this.dispatcher.handlerFor(contents.code);
      const result = await handler.handle(decodeCbor(contents.body), { header: request.header, signer, link });
      code = answerCodeOf(contents.code);
      body = encodeCbor(result);
    } catch (e) {
      const error = isReloadError(e) ? e : new ReloadError(ErrorCode.Invalid_Message, 'the request could not be processed', 'handler_failed');
      if (!isReloadError(e)) this.log.error(`handler for ${messageCodeName(contents.code)} failed: ${(e as Error).stack ?? e}`);
      this.metrics.countError(error.code, 'answered');
      code = MessageCode.Error;
      body = encodeErrorBody({ code: error.code, info: `[${error.reason}] ${error.message}` });
    }
    this.reply(request, code, body, [...request.header.via].reverse());
  }

  private sendError(request: WireMessage, error: ReloadError, link: Link): void {
    // A forged via list cannot be trusted as a return path: answer the previous hop only.
    const path = error.reason === 'forged_via' ? [{ type: 'node' as const, id: link.remoteNodeId }] : [...request.header.via].reverse();
    const body = encodeErrorBody({ code: error.code, info: `[${error.reason}] ${error.message}` });
    const msg = signMessage(this.newHeader(path, request.header.transactionId), { code: MessageCode.Error, body, extensions: [] }, this.identity);
    this.forwarder.sendOn(link, msg);
  }

  private reply(request: WireMessage, code: number, body: Uint8Array, path: Destination[]): void {
    const msg = signMessage(this.newHeader(path, request.header.transactionId), { code, body, extensions: [] }, this.identity);
    this.metrics.countMessage('out', code);
    try {
      this.forwarder.originate(msg);
    } catch (e) {
      this.metrics.countError(isReloadError(e) ? e.code : ErrorCode.Invalid_Message, 'reply_failed');
      this.log.debug(`could not send the answer to ${messageCodeName(code - 1)}: ${(e as Error).message}`);
    }
  }

  private errorFrom(arrived: Arrived): ReloadError {
    const { code, info } = decodeErrorBody(arrived.contents.body);
    const reason = REASON_PREFIX.exec(info)?.[1];
    const text = info.replace(REASON_PREFIX, '').replace(/^[A-Za-z_]+: /, '');
    return new ReloadError(code, `${text} (reported by ${arrived.signer.identity.nodeIdHex})`, reason);
  }
}

export function parseNodeId(text: string): Id {
  if (!isHexId(text)) throw new ReloadError(ErrorCode.Invalid_Message, `"${text}" is not a Node-ID (32 hex digits)`, 'bad_node_id');
  return idFromHex(text);
}
