/**
 * Malicious peers for the simulator and the tests (issue 15), built on the links alone (what the
 * simulator may replace), so the node code stays the honest one: the peer joins, keeps its place
 * in the tables and sends and answers its own requests, but
 *
 * - drops every message it should forward, requests and answers alike;
 * - lies in its Update answers (with `colluders`): every Node-ID it would name is swapped for the
 *   colluder XOR-closest to it, re-signed with its own key, so that those who learn from it link
 *   to its accomplices instead of honest peers;
 * - serves stale values (with `stale`): it answers every Fetch with the first version it was sent
 *   of each value, which still verifies, since the storer signed it.
 */
import type { Identity } from '../../certs/identity.js';
import { idToHex, type Id } from '../../overlay/id.js';
import type { Link } from '../../overlay/link/link.js';
import { LinkDecorator } from '../../overlay/link/link-decorator.js';
import type { LinkFactory } from '../../overlay/link/link-factory.js';
import { compareXorDistance } from '../../overlay/topology/kademlia/kademlia-table.js';
import { decodeFetchReq, decodeFetchAns, decodeStoreReq, encodeFetchAns } from '../../overlay/storage/codec.js';
import type { StoredData } from '../../overlay/storage/types.js';
import { decodeCbor, encodeCbor } from '../../overlay/wire/cbor.js';
import { decodeContents, decodeMessage, decodeSecurity, encodeMessage } from '../../overlay/wire/codec.js';
import { MessageCode } from '../../overlay/wire/codes.js';
import type { WireMessage } from '../../overlay/wire/message.js';
import { signMessage } from '../../overlay/wire/sign.js';

export interface Adversary {
  /** Drops what it should forward while this is true. */
  drops(): boolean;
  /** With `colluders`: lies in every Update answer, naming colluders (never itself) instead of the peers it knows. */
  lies?: { identity: Identity; colluders(): Id[] };
  /** One per malicious node, shared by all its links: what it replays in its Fetch answers. */
  stale?: StaleValues;
}

/** Fetches whose answers are still to come, per node: enough for the simulator's pooled fetches. */
const OPEN_FETCHES = 1024;

/**
 * A node's memory of the first version of every value it was sent (by resource and Kind), and of
 * which resource each Fetch it was asked named, so that its answer can be swapped.
 */
export class StaleValues {
  private readonly first = new Map<string, StoredData[]>();
  private readonly asked = new Map<bigint, string>();

  constructor(private readonly identity: Identity) {}

  /** Remembers what an incoming StoreReq or FetchReq says. */
  heard(msg: WireMessage): void {
    const contents = decodeContents(msg.contentsBytes);
    if (contents.code === MessageCode.StoreReq) {
      const store = decodeStoreReq(contents.body, Number.MAX_SAFE_INTEGER);
      for (const k of store.kinds) {
        const key = `${idToHex(store.resource)}/${k.kindId}`;
        if (!this.first.has(key)) this.first.set(key, k.values);
      }
    } else if (contents.code === MessageCode.FetchReq) {
      if (this.asked.size >= OPEN_FETCHES) this.asked.delete(this.asked.keys().next().value!);
      this.asked.set(msg.header.transactionId, idToHex(decodeFetchReq(contents.body).resource));
    }
  }

  /** Our Fetch answer with each Kind's values swapped for their first version, re-signed; undefined if it is none. */
  replay(msg: WireMessage, contents: Contents): Uint8Array | undefined {
    const resource = this.asked.get(msg.header.transactionId);
    if (contents.code !== MessageCode.FetchAns || resource === undefined) return undefined;
    this.asked.delete(msg.header.transactionId);
    const answer = decodeFetchAns(contents.body, Number.MAX_SAFE_INTEGER);
    const kinds = answer.kinds.map((k) => ({ ...k, values: this.first.get(`${resource}/${k.kindId}`) ?? k.values }));
    const body = encodeFetchAns({ ...answer, kinds });
    return resign(msg, { ...contents, body }, this.identity);
  }
}

/** `msg` with new contents, signed again by `identity` (the adversary itself, which sent it). */
type Contents = ReturnType<typeof decodeContents>;

function resign(msg: WireMessage, contents: Contents, identity: Identity): Uint8Array {
  const withCertificate = decodeSecurity(msg.securityBytes).certificates.length > 0;
  return encodeMessage(signMessage(msg.header, contents, identity, { includeCertificate: withCertificate }));
}

/** A Node-ID list entry: 16 bytes. */
const isNodeId = (v: unknown): v is Uint8Array => v instanceof Uint8Array && v.length === 16;

/** `body` with every Node-ID in its lists swapped for the colluder XOR-closest to it. */
function swapIds(body: unknown, colluders: Id[]): unknown {
  if (isNodeId(body)) return colluders.reduce((best, c) => (compareXorDistance(c, best, body) < 0 ? c : best), colluders[0]!);
  if (Array.isArray(body)) {
    const swapped = body.map((item) => swapIds(item, colluders));
    // A list of ids stays a list of distinct ids.
    if (swapped.length > 0 && swapped.every(isNodeId)) return [...new Map(swapped.map((id) => [idToHex(id), id])).values()];
    return swapped;
  }
  return body;
}

class AdversaryLink extends LinkDecorator {
  constructor(
    inner: Link,
    private readonly adversary: Adversary,
  ) {
    super(inner);
    inner.on('message', (bytes: Uint8Array) => {
      if (adversary.stale) this.hear(bytes, adversary.stale);
      this.emit('message', bytes);
    });
  }

  private hear(bytes: Uint8Array, stale: StaleValues): void {
    try {
      stale.heard(decodeMessage(bytes, Number.MAX_SAFE_INTEGER));
    } catch {
      // Not a message it can read: the node itself refuses it.
    }
  }

  override send(bytes: Uint8Array): boolean {
    const { lies, stale } = this.adversary;
    const drops = this.adversary.drops();
    if (!drops && !lies && !stale) return this.inner.send(bytes);
    let msg: WireMessage;
    try {
      msg = decodeMessage(bytes, Number.MAX_SAFE_INTEGER);
    } catch {
      return this.inner.send(bytes);
    }
    // A frame this node forwards carries its earlier hops and itself in the via list; one it sends
    // has only itself. Reported as sent: the peer before it cannot tell, and waits for an answer
    // that never comes.
    if (msg.header.via.length > 1) return drops ? true : this.inner.send(bytes);
    // Decoded once here: every frame a malicious node sends of its own passes this way.
    const contents = decodeContents(msg.contentsBytes);
    return this.inner.send((lies && this.lie(msg, contents, lies)) || stale?.replay(msg, contents) || bytes);
  }

  /** The message re-signed with colluders named in it, if it is an Update answer; else undefined. */
  private lie(msg: WireMessage, contents: Contents, lie: NonNullable<Adversary['lies']>): Uint8Array | undefined {
    if (contents.code !== MessageCode.UpdateAns) return undefined;
    const colluders = lie.colluders().filter((c) => idToHex(c) !== lie.identity.nodeIdHex);
    if (colluders.length === 0) return undefined;
    const body = encodeCbor(swapIds(decodeCbor(contents.body), colluders));
    return resign(msg, { ...contents, body }, lie.identity);
  }
}

/** Links from `factory` that misbehave as `adversary` says. */
export function adversaryLinks(factory: LinkFactory, adversary: Adversary): LinkFactory {
  return {
    listen: (opts) => factory.listen({ ...opts, onLink: (link) => opts.onLink(new AdversaryLink(link, adversary)) }),
    dial: async (opts) => new AdversaryLink(await factory.dial(opts), adversary),
  };
}

/** Links that drop what they forward while `dropping()` is true (no lies). */
export function droppingLinks(factory: LinkFactory, dropping: () => boolean): LinkFactory {
  return adversaryLinks(factory, { drops: dropping });
}
