/**
 * Seeded fuzz of every PPSP signalling parser and of the handlers themselves (with a fake host):
 * random items, mutated valid bodies and random CBOR bytes. Only ReloadError may escape —
 * Invalid_Message, or Not_Found from a handler for a swarm it does not know. Replay a failure
 * with FUZZ_SEED=<seed>.
 */
import { expect } from 'chai';
import type { PeerCertificate } from '../../../../certs/trust.js';
import { ErrorCode, ReloadError } from '../../../../overlay/errors.js';
import { idToHex, randomId } from '../../../../overlay/id.js';
import type { RequestContext } from '../../../../overlay/methods/dispatcher.js';
import { decodeCbor, encodeCbor } from '../../../../overlay/wire/cbor.js';
import { Availability } from '../../../../usages/ppsp/content/availability.js';
import { decodeProperties } from '../../../../usages/ppsp/signalling/properties.js';
import {
  decodeAvailabilityAns,
  decodePeerListAns,
  decodePeerListReq,
  decodePropertiesAns,
  decodePropertiesReq,
  decodeTransportAns,
  decodeTransportReq,
  encodePeerListReq,
  PeerView,
  signallingHandlers,
  type SignallingHost,
} from '../../../../usages/ppsp/signalling/signalling.js';
import { decodeAnnouncement, encodeAnnouncement } from '../../../../usages/ppsp/signalling/tracker.js';
import { decodeTransports } from '../../../../usages/ppsp/signalling/transports.js';
import { fuzzSeed, Prng } from '../../../helpers/prng.js';
import { arraysIn, randomItem, type FuzzPools } from '../../../helpers/cbor-fuzz.js';

const CASES = 3000;
const SWARM = '5a'.repeat(32);
const SWARM_BYTES = Buffer.from(SWARM, 'hex');
const POOLS: FuzzPools = {
  ints: [0, 1, 2, 3, 5, 64, 65, 255, 65535, 65536, 2 ** 22, 2 ** 32, 2 ** 53 - 1, 100_000_001],
  byteLengths: [0, 1, 15, 16, 17, 31, 32, 33],
  texts: ['', 'tls', 'overlay', 'quic', 'TLS', '127.0.0.1:80', '[::1]:1', 'a:0', 'x'.repeat(300), SWARM],
  extras: [SWARM_BYTES],
};

/** A valid body, then 1-3 edits: replace an item, drop one, repeat one, append one. */
function mutate(rng: Prng, valid: unknown): unknown {
  const value = structuredClone(valid);
  for (let edits = 1 + rng.int(3); edits > 0; edits--) {
    const lists = arraysIn(value);
    if (lists.length === 0) return randomItem(rng, POOLS, 0, 3);
    const list = rng.pick(lists);
    const at = rng.int(Math.max(1, list.length));
    switch (rng.int(4)) {
      case 0:
        list[at] = randomItem(rng, POOLS, 0, 3);
        break;
      case 1:
        list.splice(at, 1);
        break;
      case 2:
        if (list.length) list.splice(at, 0, structuredClone(list[at]));
        break;
      default:
        list.push(randomItem(rng, POOLS, 0, 3));
    }
  }
  return value;
}

const PROPS = [2, 1000, 8000, 2, 3600];
const ENTRY = [Uint8Array.from(randomId()), PROPS, [['tls', '10.0.0.1:7000'], ['overlay']]];
/** Valid bodies to mutate, by parser. */
const VALID: Record<string, unknown> = {
  PeerListReq: encodePeerListReq({ swarmId: SWARM, chunk: 3, count: 8, properties: decodeProperties(PROPS) }),
  PeerListAns: [[ENTRY, [Uint8Array.from(randomId()), null, []]]],
  AvailabilityAns: [20, [2, [[0, 3], [7, 19]]]],
  PropertiesReq: [SWARM_BYTES, PROPS],
  PropertiesAns: [PROPS],
  TransportReq: [SWARM_BYTES, [['tls', 'peer.example:443'], ['overlay']]],
  TransportAns: [[['overlay'], ['quic', 'x']]],
  Transports: [['tls', '[::1]:9'], ['overlay']],
  Properties: PROPS,
  Announcement: [1, PROPS, [['overlay']], 5],
};

const PARSERS: Record<string, (v: unknown) => unknown> = {
  PeerListReq: decodePeerListReq,
  PeerListAns: (v) => decodePeerListAns(v),
  AvailabilityAns: (v) => decodeAvailabilityAns(v, 20),
  PropertiesReq: decodePropertiesReq,
  PropertiesAns: decodePropertiesAns,
  TransportReq: decodeTransportReq,
  TransportAns: decodeTransportAns,
  Transports: (v) => decodeTransports(v),
  Properties: (v) => decodeProperties(v),
  Announcement: (v) => decodeAnnouncement(encodeCbor(v)),
};

function fakeHost(): SignallingHost {
  const view = new PeerView();
  for (let i = 0; i < 20; i++) view.learn(randomId(), { properties: decodeProperties([i % 3, 100 * i, 100 * i, i % 3, i]) });
  const availability = new Availability(20);
  availability.setRange({ first: 2, last: 9 });
  return {
    nodeId: randomId(),
    properties: () => decodeProperties(PROPS),
    transports: () => [{ type: 'overlay' }],
    view: (s) => (s === SWARM ? view : undefined),
    localAvailability: (s) => (s === SWARM ? availability : undefined),
    peerHasChunk: (_s, hex) => (hex.endsWith('0') ? false : undefined),
    random: Math.random,
  };
}

function expectOnlyReloadErrors(run: () => unknown, allowed: ErrorCode[], what: () => string): 'ok' | 'refused' {
  try {
    run();
    return 'ok';
  } catch (e) {
    if (!(e instanceof ReloadError) || !allowed.includes(e.code)) throw new Error(`${what()}: ${String(e)}\n${(e as Error).stack}`);
    return 'refused';
  }
}

describe('ppsp signalling fuzz', function () {
  this.timeout(60_000);
  const seed = fuzzSeed();

  for (const name of Object.keys(PARSERS)) {
    it(`${name}: ${CASES} random and mutated inputs raise Invalid_Message only (seed ${seed})`, () => {
      const rng = new Prng(seed);
      const parse = PARSERS[name]!;
      expect(expectOnlyReloadErrors(() => parse(VALID[name]), [], () => `${name} valid body`)).to.equal('ok');
      const counts = { ok: 0, refused: 0 };
      for (let i = 0; i < CASES; i++) {
        const input = i % 3 === 0 ? randomItem(rng, POOLS, 0, 3) : mutate(rng, VALID[name]);
        counts[expectOnlyReloadErrors(() => parse(input), [ErrorCode.Invalid_Message], () => `${name} case ${i}, seed ${seed}`)]++;
      }
      expect(counts.refused).to.be.greaterThan(0);
    });
  }

  it(`random CBOR bytes as tracker entries raise Invalid_Message only (seed ${seed})`, () => {
    const rng = new Prng(seed);
    const valid = encodeAnnouncement({ properties: decodeProperties(PROPS), transports: [{ type: 'overlay' }], haveCount: 5 });
    for (let i = 0; i < CASES; i++) {
      const bytes = i % 2 ? rng.bytes(rng.int(64)) : Uint8Array.from(valid).map((b) => (rng.chance(0.1) ? rng.next() & 0xff : b)).subarray(0, rng.int(valid.length + 1));
      expectOnlyReloadErrors(() => decodeAnnouncement(bytes), [ErrorCode.Invalid_Message], () => `entry case ${i}, seed ${seed}`);
    }
  });

  it(`every handler refuses bad bodies with a ReloadError only (seed ${seed})`, async () => {
    const rng = new Prng(seed);
    const handlers = signallingHandlers(fakeHost());
    const requester = randomId();
    const ctx = { signer: { identity: { nodeId: requester, nodeIdHex: idToHex(requester) } } as PeerCertificate } as RequestContext;
    const bodies: Record<number, unknown> = {
      0x4101: VALID.PeerListReq,
      0x4103: [SWARM_BYTES],
      0x4105: VALID.PropertiesReq,
      0x4107: VALID.TransportReq,
      0x4109: [SWARM_BYTES],
    };
    for (const h of handlers) {
      const valid = bodies[h.code];
      expect(valid, `a valid body for 0x${h.code.toString(16)}`).to.not.equal(undefined);
      const answer = await h.handle(structuredClone(valid), ctx);
      decodeCbor(encodeCbor(answer)); // encodable
      for (let i = 0; i < CASES; i++) {
        const input = i % 3 === 0 ? randomItem(rng, POOLS, 0, 3) : mutate(rng, valid);
        try {
          const out = await h.handle(input, ctx);
          encodeCbor(out);
        } catch (e) {
          if (!(e instanceof ReloadError) || ![ErrorCode.Invalid_Message, ErrorCode.Not_Found].includes(e.code)) {
            throw new Error(`handler 0x${h.code.toString(16)} case ${i}, seed ${seed}: ${String(e)}`);
          }
        }
      }
    }
  });
});
