/**
 * Malicious peers for the simulator and the tests (issue 15), built on the links alone (what the
 * simulator may replace), so the node code stays the honest one: the peer joins, keeps its place
 * in the tables and sends and answers its own requests, but
 *
 * - drops every message it should forward, requests and answers alike;
 * - lies in its Update answers (with `colluders`): every Node-ID it would name is swapped for the
 *   colluder XOR-closest to it, re-signed with its own key, so that those who learn from it link
 *   to its accomplices instead of honest peers.
 */
import type { Identity } from '../../certs/identity.js';
import { idToHex, type Id } from '../../overlay/id.js';
import type { Link } from '../../overlay/link/link.js';
import { LinkDecorator } from '../../overlay/link/link-decorator.js';
import type { LinkFactory } from '../../overlay/link/link-factory.js';
import { compareXorDistance } from '../../overlay/topology/kademlia/kademlia-table.js';
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
    inner.on('message', (bytes: Uint8Array) => this.emit('message', bytes));
  }

  override send(bytes: Uint8Array): boolean {
    const { lies } = this.adversary;
    const drops = this.adversary.drops();
    if (!drops && !lies) return this.inner.send(bytes);
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
    return this.inner.send(lies ? this.lie(msg, lies) ?? bytes : bytes);
  }

  /** The message re-signed with colluders named in it, if it is an Update answer; else undefined. */
  private lie(msg: WireMessage, lie: NonNullable<Adversary['lies']>): Uint8Array | undefined {
    const contents = decodeContents(msg.contentsBytes);
    const colluders = lie.colluders().filter((c) => idToHex(c) !== lie.identity.nodeIdHex);
    if (contents.code !== MessageCode.UpdateAns || colluders.length === 0) return undefined;
    const body = encodeCbor(swapIds(decodeCbor(contents.body), colluders));
    const withCertificate = decodeSecurity(msg.securityBytes).certificates.length > 0;
    return encodeMessage(signMessage(msg.header, { ...contents, body }, lie.identity, { includeCertificate: withCertificate }));
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
