/**
 * Storage on a node (RFC 6940 §7, §10.4): the Store/Fetch/Stat/Find handlers over the local
 * engine, replication of what this node holds, and the client side of the four methods — values
 * signed by this node's identity on the way out, every value's signature verified on the way in.
 */
import type { Identity } from '../../certs/identity.js';
import { fingerprintOf, type PeerCertificate, type TrustStore } from '../../certs/trust.js';
import type { Clock, Timer } from '../clock.js';
import type { OverlayConfig } from '../config.js';
import { ErrorCode, invalidMessage, ReloadError } from '../errors.js';
import { idEquals, idToHex, type Id } from '../id.js';
import type { Logger } from '../log.js';
import type { MethodHandler, RequestContext } from '../methods/dispatcher.js';
import type { Response, SigningOptions } from '../routing/message-transport.js';
import type { RoutingTable } from '../topology/routing-table.js';
import { EncodedBody } from '../wire/body.js';
import { MessageCode } from '../wire/codes.js';
import { answersOnEveryRoute, holderRoutes, withAnswersBeside } from '../routing/paths.js';
import type { Holder } from '../topology/topology.js';
import type { Destination } from '../wire/message.js';
import {
  decodeFetchAns, decodeFetchReq, decodeFindAns, decodeFindReq, decodeStatAns, decodeStatReq, decodeStoreAns, decodeStoreReq,
  encodeFetchAns, encodeFetchReq, encodeFindAns, encodeFindReq, encodeStatAns, encodeStatReq, encodeStoreAns, encodeStoreReq,
} from './codec.js';
import { signStoredData, verifyStoredData } from './data-signature.js';
import { entryKey, statCovers } from './kind-slot.js';
import type { KindRegistry } from './kinds.js';
import { Replicator } from './replicator.js';
import type { StorageBackend } from './storage-backend.js';
import { StorageEngine } from './storage-engine.js';
import { MAX_LIFETIME_SEC, MIN_LIFETIME_SEC, type DataSelector, type FindKindAnswer, type Kind, type StatKindAnswer, type StoredData, type StoredDataValue, type StoreKindAnswer, type StoreRequest } from './types.js';

export interface StorageHost {
  /** False on a client: it stores and fetches through the overlay but holds nothing for others. */
  serving: boolean;
  identity: Identity;
  trust: TrustStore;
  config: OverlayConfig;
  clock: Clock;
  log: Logger;
  kinds: KindRegistry;
  table: RoutingTable;
  /** This node's neighbours (successors and predecessors): the peers that may push replicas. */
  neighbours(): Id[];
  request(destinations: Destination[], code: number, body: unknown, timeoutMs?: number, signing?: SigningOptions): Promise<Response>;
  /** Destination lists a Fetch of `resource` goes out on: one route, or `lookupPaths` through different first hops. */
  routesTowards(resource: Id): Destination[][];
  /** With `lookupPaths` above 1, the nodes that should hold `resource` as the topology finds them, asked as well; else none. */
  replicaHolders(resource: Id): Promise<Holder[]>;
  /** Where the values held for others are kept; default in memory. */
  backend?: StorageBackend;
}

/** A fetched value whose signature checked out, with who signed it. */
export interface VerifiedValue {
  data: StoredData;
  signer: PeerCertificate;
}

export interface FetchResult {
  kindId: number;
  generation: bigint;
  values: VerifiedValue[];
  /** Values dropped because their signature or signer did not check out (RFC 6940 §7.4.2). */
  rejected: number;
  /** The node that answered. */
  from: string;
}

/** What this node stores itself and keeps alive (the storer refreshes, RFC 6940 §7.4.1). */
interface OwnValue {
  resource: Id;
  kindId: number;
  value: StoredDataValue;
  lifetimeSec: number;
  refreshAtMs: number;
}

/** Values this node refreshes at most. */
export const MAX_OWN_VALUES = 10_000;
/** A value is re-stored when this fraction of its lifetime has passed. */
export const REFRESH_AT = 0.5;

const resourceDest = (id: Id): Destination[] => [{ type: 'resource', id }];

/** The selector of every value of a kind (RFC 6940 §7.4.2.1: empty ranges or keys mean all). */
function everything(kind: Readonly<Kind>): DataSelector {
  return kind.dataModel === 'single' ? { model: 'single' } : kind.dataModel === 'array' ? { model: 'array', ranges: [] } : { model: 'dictionary', keys: [] };
}

export class StorageService {
  readonly engine: StorageEngine;
  private readonly replicator: Replicator;
  private readonly own = new Map<string, OwnValue>();
  private lastStorageTimeMs = 0;
  private refreshTimer: Timer | undefined;

  constructor(private readonly host: StorageHost) {
    const { config } = host;
    this.engine = new StorageEngine({ kinds: host.kinds, trust: host.trust, clock: host.clock, hash: config.hash, maxBytes: config.storage.maxBytes, backend: host.backend });
    this.replicator = new Replicator(this.engine, {
      self: host.identity.nodeId,
      clock: host.clock,
      log: host.log,
      syncIntervalMs: config.storage.syncIntervalMs,
      replicaSet: (resource) => host.table.replicaSet(resource, config.storage.replicas),
      push: async (peer, request) => {
        await host.request([{ type: 'node', id: peer }], MessageCode.StoreReq, new EncodedBody(encodeStoreReq(request)));
      },
      heldByResponsible: async (resource, request) => {
        for (const kind of request.kinds) {
          const answer = await this.stat(kind.kindId, resource);
          if (answer.from === host.identity.nodeIdHex || !statCovers(answer.values, kind.values)) return false;
        }
        return true;
      },
      sweep: () => void this.engine.sweep(),
    });
  }

  start(): void {
    if (this.host.serving) this.replicator.start();
    this.refreshTimer = this.host.clock.every(this.host.config.storage.syncIntervalMs, () => void this.refreshDue());
  }

  stop(): void {
    this.replicator.stop();
    this.refreshTimer?.cancel();
  }

  /** The routing table changed: check replica sets. */
  topologyChanged(): void {
    this.replicator.changed();
  }

  /** Resolves once no replication round is running. */
  settled(): Promise<void> {
    return this.replicator.settled();
  }

  /** Store, Fetch, Stat and Find (RFC 6940 §7.4), each decoding its own body. */
  handlers(): MethodHandler[] {
    if (!this.host.serving) return [];
    return [
      { code: MessageCode.StoreReq, raw: true, handle: (_b, ctx) => this.onStore(ctx) },
      { code: MessageCode.FetchReq, raw: true, handle: (_b, ctx) => this.onFetch(ctx) },
      { code: MessageCode.StatReq, raw: true, handle: (_b, ctx) => this.onStat(ctx) },
      { code: MessageCode.FindReq, raw: true, handle: (_b, ctx) => this.onFind(ctx.raw) },
    ];
  }

  // ---- serving -------------------------------------------------------------------------------

  private async onStore(ctx: RequestContext): Promise<EncodedBody> {
    const req = decodeStoreReq(ctx.raw, this.host.config.maxMessageSize);
    const self = this.host.identity.nodeId;
    if (req.replicaNumber === 0) {
      if (!this.host.table.isResponsible(req.resource)) throw new ReloadError(ErrorCode.Not_Found, `this node is not responsible for ${idToHex(req.resource)}`, 'not_responsible');
      const generations = this.engine.store(req, ctx.signer);
      const replicas = await this.replicator.replicate(req.resource, true);
      return new EncodedBody(encodeStoreAns(generations.map((g) => ({ ...g, replicas }))));
    }
    // A replica: only from a peer that may hold this resource, and only if we should hold it too.
    const sender = ctx.signer.identity.nodeId;
    const set = this.host.table.replicaSet(req.resource, this.host.config.storage.replicas);
    if (!set.some((p) => idEquals(p, self))) throw new ReloadError(ErrorCode.Forbidden, `this node is not in the replica set of ${idToHex(req.resource)}`, 'not_a_replica');
    const plausible = set.some((p) => idEquals(p, sender)) || this.host.neighbours().some((p) => idEquals(p, sender));
    if (!plausible) throw new ReloadError(ErrorCode.Forbidden, `${ctx.signer.identity.nodeIdHex} is not in the replica set of ${idToHex(req.resource)}`, 'not_a_replica_source');
    const generations = this.engine.store(req, ctx.signer);
    this.replicator.heldBy(req.resource, sender);
    return new EncodedBody(encodeStoreAns(generations.map((g) => ({ ...g, replicas: [] }))));
  }

  /** Fetch from local data, or from the replicas when this peer has nothing there (see fromReplicas). */
  private async onFetch(ctx: RequestContext): Promise<EncodedBody> {
    const req = decodeFetchReq(ctx.raw);
    const local = this.engine.fetch(req.resource, req.specifiers);
    if (local.kinds.some((k) => k.values.length > 0)) return new EncodedBody(encodeFetchAns(local));
    const max = this.host.config.maxMessageSize;
    return (await this.fromReplicas(ctx, req.resource, (raw) => decodeFetchAns(raw, max).kinds.some((k) => k.values.length > 0))) ?? new EncodedBody(encodeFetchAns(local));
  }

  private async onStat(ctx: RequestContext): Promise<EncodedBody> {
    const req = decodeStatReq(ctx.raw);
    const local = this.engine.stat(req.resource, req.specifiers);
    if (local.some((k) => k.values.length > 0)) return new EncodedBody(encodeStatAns(local));
    return (await this.fromReplicas(ctx, req.resource, (raw) => decodeStatAns(raw).some((k) => k.values.length > 0))) ?? new EncodedBody(encodeStatAns(local));
  }

  /**
   * A responsible peer that holds nothing at a resource may have just taken the range over (a
   * join, a failure) before the copies reached it: it passes the request to the replicas, by
   * Node-ID so that they answer from their own data only, and answers with the first that has some.
   */
  private async fromReplicas(ctx: RequestContext, resource: Id, hasValues: (raw: Uint8Array) => boolean): Promise<EncodedBody | undefined> {
    if (ctx.header.destinations.at(-1)?.type !== 'resource') return undefined;
    const self = this.host.identity.nodeId;
    for (const replica of this.host.table.replicaSet(resource, this.host.config.storage.replicas).filter((p) => !idEquals(p, self))) {
      try {
        const res = await this.host.request([{ type: 'node', id: replica }], ctx.code, new EncodedBody(ctx.raw));
        if (hasValues(res.raw)) {
          this.replicator.changed();
          return new EncodedBody(res.raw);
        }
      } catch (e) {
        this.host.log.debug(`replica ${idToHex(replica)} could not help: ${(e as Error).message}`);
      }
    }
    return undefined;
  }

  private onFind(raw: Uint8Array): EncodedBody {
    const req = decodeFindReq(raw);
    return new EncodedBody(encodeFindAns(this.engine.find(req.target, req.kindIds)));
  }

  // ---- client side ---------------------------------------------------------------------------

  /**
   * Signs a value with this node's identity and stores it at the responsible peer, which
   * replicates it. The node keeps refreshing it before its lifetime runs out, until a delete.
   */
  async store(kindRef: string | number, resource: Id, value: StoredDataValue, opts: { lifetimeSec?: number; generation?: bigint } = {}): Promise<StoreKindAnswer & { responsible: string }> {
    const kind = this.host.kinds.resolve(kindRef);
    const lifetimeSec = opts.lifetimeSec ?? this.host.config.storage.defaultLifetimeSec;
    if (!Number.isInteger(lifetimeSec) || lifetimeSec < MIN_LIFETIME_SEC || lifetimeSec > MAX_LIFETIME_SEC) {
      throw invalidMessage(`a lifetime must be from ${MIN_LIFETIME_SEC} to ${MAX_LIFETIME_SEC} s, not ${lifetimeSec} (a delete is a tombstone)`, 'bad_lifetime');
    }
    // A refresh that starts while this store is in flight would be signed later and so win over
    // it (a withdrawn entry would come back): the slot's old value stops being refreshed first.
    const key = this.ownKey(resource, kind.id, value);
    const previous = this.own.get(key);
    this.own.delete(key);
    let answer: StoreKindAnswer & { responsible: string };
    try {
      answer = await this.storeSigned(kind.id, resource, value, lifetimeSec, opts.generation ?? 0n);
    } catch (e) {
      // Refused or unanswered: what was stored before is still there, so it is still refreshed.
      if (previous && !this.own.has(key)) this.own.set(key, previous);
      throw e;
    }
    this.remember(resource, kind.id, value, lifetimeSec);
    return answer;
  }

  /**
   * Fetches values and verifies each one's signature against its signer's certificate. With
   * `lookupPaths` above 1 it goes over several routes and to every replica holder the topology
   * finds, and the answer holding the newest value that verifies wins: a peer that serves a stale
   * copy cannot sign a newer one in the storer's name.
   */
  async fetch(kindRef: string | number, resource: Id, selector?: DataSelector, signing?: SigningOptions): Promise<FetchResult> {
    const kind = this.host.kinds.resolve(kindRef);
    const specifiers = [{ kindId: kind.id, generation: 0n, selector: selector ?? everything(kind) }];
    const body = encodeFetchReq({ resource, specifiers });
    const send = (destinations: Destination[]) => this.fetchOn(destinations, resource, kind.id, body, signing);
    const answers = await withAnswersBeside(answersOnEveryRoute(this.host.routesTowards(resource), send), this.holderAnswers(resource, send));
    const newest = (r: FetchResult) => Math.max(-1, ...r.values.map((v) => v.data.storageTimeMs));
    return answers.reduce((a, b) => (newest(b) > newest(a) ? b : a));
  }

  /**
   * The answers of each replica holder the topology names, asked by Node-ID so that each answers
   * from its own data: an owner that serves a stale value is outvoted by the newer one a holder has.
   */
  private async holderAnswers(resource: Id, send: (destinations: Destination[]) => Promise<FetchResult>): Promise<FetchResult[]> {
    const self = this.host.identity.nodeId;
    const routes = (await this.host.replicaHolders(resource)).filter((h) => !idEquals(h.id, self)).flatMap((h) => holderRoutes(h));
    return routes.length === 0 ? [] : answersOnEveryRoute(routes, send).catch(() => []);
  }

  private async fetchOn(destinations: Destination[], resource: Id, kindId: number, body: Uint8Array, signing?: SigningOptions): Promise<FetchResult> {
    const res = await this.host.request(destinations, MessageCode.FetchReq, new EncodedBody(body), undefined, signing);
    const answer = decodeFetchAns(res.raw, this.host.config.maxMessageSize);
    const certs = new Map(answer.certificates.map((der) => [fingerprintOf(der), der]));
    const kindAnswer = answer.kinds.find((k) => k.kindId === kindId) ?? { kindId, generation: 0n, values: [] };
    const values: VerifiedValue[] = [];
    let rejected = 0;
    for (const data of kindAnswer.values) {
      try {
        const der = certs.get(Buffer.from(data.signature.certHash).toString('hex'));
        if (!der) throw new ReloadError(ErrorCode.Forbidden, 'the answer lacks the signer\'s certificate', 'unknown_signer');
        const signer = this.host.trust.verify(der, this.host.clock.now());
        verifyStoredData(resource, kindId, data, signer, this.host.trust);
        values.push({ data, signer });
      } catch (e) {
        rejected++;
        this.host.log.warn(`dropped a fetched value of ${idToHex(resource)}: ${(e as Error).message}`);
      }
    }
    if (values.length === 0 && rejected > 0) throw new ReloadError(ErrorCode.Forbidden, `every value fetched from ${res.signer.identity.nodeIdHex} failed its signature check`, 'bad_data_signature');
    return { kindId, generation: kindAnswer.generation, values, rejected, from: res.signer.identity.nodeIdHex };
  }

  async stat(kindRef: string | number, resource: Id, selector?: DataSelector): Promise<StatKindAnswer & { from: string }> {
    const kind = this.host.kinds.resolve(kindRef);
    const specifiers = [{ kindId: kind.id, generation: 0n, selector: selector ?? everything(kind) }];
    const res = await this.host.request(resourceDest(resource), MessageCode.StatReq, new EncodedBody(encodeStatReq({ resource, specifiers })));
    const kinds = decodeStatAns(res.raw);
    return { ...(kinds.find((k) => k.kindId === kind.id) ?? { kindId: kind.id, generation: 0n, values: [] }), from: res.signer.identity.nodeIdHex };
  }

  async find(kindRefs: (string | number)[], target: Id): Promise<FindKindAnswer[]> {
    const kindIds = kindRefs.map((k) => this.host.kinds.resolve(k).id);
    const res = await this.host.request(resourceDest(target), MessageCode.FindReq, new EncodedBody(encodeFindReq({ target, kindIds })));
    return decodeFindAns(res.raw);
  }

  private async storeSigned(kindId: number, resource: Id, value: StoredDataValue, lifetimeSec: number, generation: bigint): Promise<StoreKindAnswer & { responsible: string }> {
    // Storage times must grow even when two stores fall in one millisecond (anti-rollback, §7.4.1).
    const storageTimeMs = (this.lastStorageTimeMs = Math.max(this.host.clock.now(), this.lastStorageTimeMs + 1));
    const data = signStoredData(this.host.identity, resource, kindId, { storageTimeMs, lifetimeSec, value });
    const req: StoreRequest = { resource, replicaNumber: 0, kinds: [{ kindId, generation, values: [data] }], certificates: [this.host.identity.certDer] };
    const res = await this.host.request(resourceDest(resource), MessageCode.StoreReq, new EncodedBody(encodeStoreReq(req)));
    const answer = decodeStoreAns(res.raw).find((k) => k.kindId === kindId);
    if (!answer) throw new ReloadError(ErrorCode.Invalid_Message, 'StoreAns lacks the stored kind', 'bad_store_answer');
    return { ...answer, responsible: res.signer.identity.nodeIdHex };
  }

  private ownKey(resource: Id, kindId: number, value: StoredDataValue): string {
    return `${idToHex(resource)}:${kindId}:${entryKey(value)}`;
  }

  private remember(resource: Id, kindId: number, value: StoredDataValue, lifetimeSec: number): void {
    const key = this.ownKey(resource, kindId, value);
    // Appends have no stable slot to refresh; deletes need no refreshing.
    if (!value.value.exists || (value.model === 'array' && value.index === 0xffffffff)) {
      this.own.delete(key);
      return;
    }
    if (!this.own.has(key) && this.own.size >= MAX_OWN_VALUES) return;
    this.own.set(key, { resource, kindId, value, lifetimeSec, refreshAtMs: this.host.clock.now() + lifetimeSec * 1000 * REFRESH_AT });
  }

  private async refreshDue(): Promise<void> {
    const now = this.host.clock.now();
    for (const [key, v] of this.own) {
      if (v.refreshAtMs > now) continue;
      v.refreshAtMs = now + v.lifetimeSec * 1000 * REFRESH_AT;
      try {
        await this.storeSigned(v.kindId, v.resource, v.value, v.lifetimeSec, 0n);
      } catch (e) {
        this.host.log.warn(`refresh of ${key} failed: ${(e as Error).message}`);
      }
    }
  }
}
