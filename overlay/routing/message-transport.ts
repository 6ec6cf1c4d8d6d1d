/**
 * RELOAD's message transport (RFC 6940 §6.2): end-to-end requests and answers on top of the
 * forwarder. Sending signs a request, retransmits it with the same transaction id every
 * `reliabilityTimerMs` until answered (at most `maxTransmissions` sends) and matches the answer.
 * Receiving verifies signature and certificate chain, dispatches requests by code, and answers
 * duplicates of a request from memory instead of running the method twice.
 */
import type { Identity } from '../../certs/identity.js';
import type { PeerCertificate, TrustStore } from '../../certs/trust.js';
import type { Clock } from '../clock.js';
import type { OverlayConfig } from '../config.js';
import { ErrorCode, ReloadError, isReloadError } from '../errors.js';
import { idEquals, idToHex, WILDCARD_ID, type Id } from '../id.js';
import type { Link } from '../link/link.js';
import type { Logger } from '../log.js';
import type { Dispatcher } from '../methods/dispatcher.js';
import { encodeBody } from '../wire/body.js';
import { decodeCbor } from '../wire/cbor.js';
import type { Random } from '../random.js';
import { decodeErrorBody, decodeSecurity, encodeErrorBody, newTransactionId, overlayHash } from '../wire/codec.js';
import { MessageCode, answerCodeOf, isRequestCode, messageCodeName } from '../wire/codes.js';
import { keepMessage, keptMessage } from '../wire/kept-message.js';
import { type Destination, type ForwardingHeader, type MessageContents, type WireMessage } from '../wire/message.js';
import { newHeader } from '../wire/header.js';
import { signMessage, verifyMessage } from '../wire/sign.js';
import { CertificateCache, unknownSigner } from './certificate-cache.js';
import { Forwarder, type RoutingPolicy } from './forwarder.js';
import type { RoutingMetrics } from './metrics.js';
import { RecentAnswers } from './recent-answers.js';
import { TransactionTable } from './transactions.js';

/** A verified answer to a request this node sent. */
export interface Response {
  /** The answer body decoded from CBOR. */
  readonly body: unknown;
  /** The answer body as it arrived, for codecs of their own. */
  raw: Uint8Array;
  signer: PeerCertificate;
  /** Links the answer crossed: 1 from a direct neighbour, 0 when this node answered itself. */
  hops: number;
  rttMs: number;
}

interface Arrived {
  contents: MessageContents;
  signer: PeerCertificate;
  header: ForwardingHeader;
  /** Answered by this node itself: no link was crossed. */
  local: boolean;
}

export interface MessageTransportOptions {
  identity: Identity;
  trust: TrustStore;
  config: OverlayConfig;
  clock: Clock;
  log: Logger;
  metrics: RoutingMetrics;
  dispatcher: Dispatcher;
  policy: RoutingPolicy;
  /** False once requests may carry only a reference to this node's certificate (RFC 6940 §8). */
  includeCertificate(): boolean;
  /** Draws transaction ids. */
  random: Random;
}

/** How one request is signed. */
export interface SigningOptions {
  /**
   * Carry this node's certificate even where a reference would do. A certificate-store lookup
   * asks for it: a lookup that needed one of its own at the node asked could, from node to node,
   * come round to a lookup already waiting, and every one of them would wait out its timeout.
   */
  withCertificate?: boolean;
}

/** Answers remembered for duplicate requests. */
export const RECENT_ANSWERS = 4096;

/** Error infos carry the reason tag first, "[no_route] ...", so the origin gets it back. */
const REASON_PREFIX = /^\[([a-z_]+)\] /;

function errorBody(error: ReloadError): Uint8Array {
  return encodeErrorBody({ code: error.code, info: `[${error.reason}] ${error.message}` });
}

export class MessageTransport {
  private readonly transactions: TransactionTable<Arrived>;
  private readonly recent: RecentAnswers;
  private readonly forwarder: Forwarder;
  private readonly self: Id;
  /** Signer certificates known here, so messages may carry a reference instead (RFC 6940 §8). */
  readonly certificates: CertificateCache;
  private closed = false;

  constructor(private readonly opts: MessageTransportOptions) {
    this.self = opts.identity.nodeId;
    this.transactions = new TransactionTable(opts.clock, { timeoutMs: opts.config.requestTimeoutMs, maxOutstanding: opts.config.maxOutstandingRequests });
    this.recent = new RecentAnswers(opts.clock, RECENT_ANSWERS);
    this.certificates = new CertificateCache(opts.trust, opts.clock);
    this.forwarder = new Forwarder({
      self: this.self,
      overlayHash: overlayHash(opts.config.overlay),
      configSequence: opts.config.sequence,
      initialTtl: opts.config.initialTtl,
      maxMessageSize: opts.config.maxMessageSize,
      policy: opts.policy,
      metrics: opts.metrics,
      log: opts.log.child('forwarder'),
      deliver: (msg, from) => this.deliver(msg, from),
      sendError: (request, error, link) => this.sendError(request, error, link),
    });
  }

  /** Bytes from a link; never throws. */
  receive(bytes: Uint8Array, link: Link): void {
    this.forwarder.receive(bytes, link);
  }

  /** Fails every outstanding request; later requests fail at once. */
  close(): void {
    this.closed = true;
    this.transactions.failAll(new ReloadError(ErrorCode.Request_Timeout, 'node stopped', 'node_stopped'));
  }

  /**
   * Sends a request and waits for its verified answer. A non-error answer to a Node-ID must be
   * signed by that node (RFC 6940 §6.3.4); an Error answer rejects with its ReloadError.
   */
  request(destinations: Destination[], code: number, body: unknown, timeoutMs?: number, signing: SigningOptions = {}): Promise<Response> {
    return this.exchange(destinations, code, body, timeoutMs, (msg) => this.forwarder.originate(msg), signing);
  }

  /**
   * A request to the node at the other end of one particular link, sent on that link whatever the
   * routing table says (a probe of that link: is it alive, which process answers?).
   */
  requestOn(link: Link, code: number, body: unknown, timeoutMs?: number): Promise<Response> {
    return this.exchange([{ type: 'node', id: link.remoteNodeId }], code, body, timeoutMs, (msg) => this.forwarder.sendOn(link, msg));
  }

  /** See Forwarder.refuseLink. */
  refuseLink(link: Link, error: ReloadError): void {
    this.forwarder.refuseLink(link, error);
  }

  /** Signs, sends with `put` (again every reliability timer) and waits for the verified answer. */
  private async exchange(destinations: Destination[], code: number, body: unknown, timeoutMs: number | undefined, put: (msg: WireMessage) => void, signing: SigningOptions = {}): Promise<Response> {
    if (!isRequestCode(code)) throw new RangeError(`${messageCodeName(code)} is not a request code`);
    if (this.closed) throw new ReloadError(ErrorCode.Request_Timeout, 'node is stopped', 'node_stopped');
    const { clock, config, metrics } = this.opts;
    const header = this.newHeader(destinations, newTransactionId(this.opts.random));
    // Sent again until answered: kept off encoder buffers (see kept-message.ts).
    const kept = keepMessage(signMessage(header, { code, body: encodeBody(body), extensions: [] }, this.opts.identity, { includeCertificate: signing.withCertificate === true || this.opts.includeCertificate() }));
    const started = clock.now();
    const answer = this.transactions.begin(header.transactionId, timeoutMs);
    let sends = 0;
    const send = () => {
      sends++;
      put(keptMessage(kept));
      metrics.countMessage('out', code);
    };
    try {
      send();
    } catch (e) {
      this.transactions.fail(header.transactionId, e as Error);
    }
    const retransmit = clock.every(config.reliabilityTimerMs, () => {
      if (sends >= config.maxTransmissions || !this.transactions.has(header.transactionId)) return retransmit.cancel();
      try {
        send();
      } catch (e) {
        this.opts.log.debug(`retransmission of ${messageCodeName(code)} failed: ${(e as Error).message}`);
      }
    });
    let arrived: Arrived;
    try {
      arrived = await answer;
    } finally {
      retransmit.cancel();
    }
    const rttMs = clock.now() - started;
    metrics.observeRtt(rttMs);
    if (arrived.contents.code === MessageCode.Error) throw this.errorFrom(arrived);
    if (arrived.contents.code !== answerCodeOf(code)) {
      throw new ReloadError(ErrorCode.Invalid_Message, `expected ${messageCodeName(answerCodeOf(code))}, got ${messageCodeName(arrived.contents.code)}`, 'wrong_answer');
    }
    const target = destinations.length === 1 ? destinations[0] : undefined;
    if (target?.type === 'node' && !idEquals(target.id, WILDCARD_ID) && !idEquals(target.id, arrived.signer.identity.nodeId)) {
      throw new ReloadError(ErrorCode.Forbidden, `answer signed by ${arrived.signer.identity.nodeIdHex}, not by ${idToHex(target.id)}`, 'wrong_responder');
    }
    const raw = arrived.contents.body;
    return {
      get body() {
        return decodeCbor(raw);
      },
      raw,
      signer: arrived.signer,
      hops: arrived.local ? 0 : arrived.header.via.length,
      rttMs,
    };
  }

  private newHeader(destinations: Destination[], transactionId: bigint): ForwardingHeader {
    return newHeader(this.opts.config, destinations, [], transactionId);
  }

  /** A message has reached the end of its destination list here: verify it, then act on it. */
  private deliver(msg: WireMessage, from: Link | undefined, lookedUp = false): void {
    const { metrics, log } = this.opts;
    if (!from) msg = { ...msg, header: { ...msg.header, via: [...msg.header.via, { type: 'node', id: this.self }] } };
    let verified;
    try {
      verified = verifyMessage(msg, this.opts.trust, this.opts.clock.now(), { knownCertificate: (hash) => this.certificates.get(hash) });
    } catch (e) {
      const error = isReloadError(e) ? e : new ReloadError(ErrorCode.Invalid_Message, (e as Error).message);
      if (error.reason === 'unknown_signer' && !lookedUp) return this.deliverAfterLookup(msg, from);
      metrics.countError(error.code, 'unverified');
      log.debug(`dropped an unverifiable message: ${error.message}`);
      return;
    }
    this.certificates.remember(verified.signer.der, verified.signer.fingerprint);
    const { contents, signer } = verified;
    metrics.countMessage('in', contents.code);
    if (!isRequestCode(contents.code)) {
      if (!this.transactions.complete(msg.header.transactionId, { contents, signer, header: msg.header, local: !from })) {
        metrics.countError(ErrorCode.Invalid_Message, 'unsolicited_answer');
      }
      return;
    }
    const key = `${signer.identity.nodeIdHex}:${msg.header.transactionId}`;
    const seen = this.recent.begin(key);
    if (seen === 'busy') return;
    // The same answer again, along the path this copy of the request took: the origin retransmits
    // because the first answer did not arrive, perhaps because a node on the old path left. The
    // signature does not cover the forwarding header (RFC 6940 §6.3.4), so re-addressing keeps it valid.
    if (seen !== 'new') return this.send({ ...seen, header: this.newHeader([...msg.header.via].reverse(), msg.header.transactionId) }, 'repeated answer');
    this.answer(msg, contents, signer, from).then(
      (answer) => this.recent.finish(key, answer),
      (e: Error) => log.error(`could not answer ${messageCodeName(contents.code)}: ${e.message}`),
    );
  }

  /** The signer's certificate was only referenced: fetch it from the certificate store, then retry. */
  private deliverAfterLookup(msg: WireMessage, from: Link | undefined): void {
    const origin = msg.header.via[0]!;
    let fingerprint: string;
    try {
      fingerprint = Buffer.from(decodeSecurity(msg.securityBytes).signature.signer.certHash).toString('hex');
    } catch {
      return this.opts.metrics.countError(ErrorCode.Invalid_Message, 'unverified');
    }
    void this.certificates.resolve(origin.id as Id, fingerprint).then((der) => {
      if (der) return this.deliver(msg, from, true);
      this.opts.metrics.countError(ErrorCode.Forbidden, 'unverified');
      this.opts.log.debug(unknownSigner(fingerprint).message);
    });
  }

  private async answer(request: WireMessage, contents: MessageContents, signer: PeerCertificate, link: Link | undefined): Promise<WireMessage> {
    let code: number;
    let body: Uint8Array;
    try {
      const critical = contents.extensions.find((x) => x.critical);
      if (critical) throw new ReloadError(ErrorCode.Unknown_Extension, `critical extension ${critical.type} is not supported`);
      const handler = this.opts.dispatcher.handlerFor(contents.code);
      const raw = contents.body;
      const result = await handler.handle(handler.raw ? undefined : decodeCbor(raw), { header: request.header, signer, link, raw, code: contents.code });
      code = answerCodeOf(contents.code);
      body = encodeBody(result);
    } catch (e) {
      const error = isReloadError(e) ? e : new ReloadError(ErrorCode.Invalid_Message, 'the request could not be processed', 'handler_failed');
      if (!isReloadError(e)) {
        // A handler bug, not the requester's bad input: counted like the forwarder's faults.
        this.opts.metrics.countFault('handler');
        this.opts.log.error(`handler for ${messageCodeName(contents.code)} failed: ${(e as Error).stack ?? e}`);
      }
      this.opts.metrics.countError(error.code, 'answered');
      code = MessageCode.Error;
      body = errorBody(error);
    }
    const path = [...request.header.via].reverse();
    const answer = signMessage(this.newHeader(path, request.header.transactionId), { code, body, extensions: [] }, this.opts.identity);
    this.opts.metrics.countMessage('out', code);
    this.send(answer, `answer to ${messageCodeName(contents.code)}`);
    return answer;
  }

  private send(msg: WireMessage, what: string): void {
    try {
      this.forwarder.originate(msg);
    } catch (e) {
      this.opts.metrics.countError(isReloadError(e) ? e.code : ErrorCode.Invalid_Message, 'reply_failed');
      this.opts.log.debug(`could not send the ${what}: ${(e as Error).message}`);
    }
  }

  /** An error found while forwarding: answered on the link the request came from. */
  private sendError(request: WireMessage, error: ReloadError, link: Link): void {
    // A forged via list cannot be trusted as a return path: answer the previous hop only.
    const path = error.reason === 'forged_via' ? [{ type: 'node' as const, id: link.remoteNodeId }] : [...request.header.via].reverse();
    const msg = signMessage(this.newHeader(path, request.header.transactionId), { code: MessageCode.Error, body: errorBody(error), extensions: [] }, this.opts.identity);
    this.forwarder.sendOn(link, msg);
  }

  private errorFrom(arrived: Arrived): ReloadError {
    const { code, info } = decodeErrorBody(arrived.contents.body);
    const reason = REASON_PREFIX.exec(info)?.[1];
    const text = info.replace(REASON_PREFIX, '').replace(/^[A-Za-z_]+: /, '');
    return new ReloadError(code, `${text} (reported by ${arrived.signer.identity.nodeIdHex})`, reason);
  }
}
