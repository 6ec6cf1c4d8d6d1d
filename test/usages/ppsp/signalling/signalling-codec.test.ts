import { expect } from 'chai';
import { ErrorCode } from '../../../../overlay/errors.js';
import { idFromHex, idToHex, randomId } from '../../../../overlay/id.js';
import { decodeCbor, encodeCbor } from '../../../../overlay/wire/cbor.js';
import type { PeerProperties } from '../../../../usages/ppsp/signalling/properties.js';
import {
  decodeAvailabilityAns,
  decodePeerListAns,
  decodePeerListReq,
  decodePropertiesReq,
  decodeTransportReq,
  encodePeerListReq,
  MAX_PEER_LIST,
  PeerView,
  pickSimilar,
} from '../../../../usages/ppsp/signalling/signalling.js';
import { decodeAnnouncement, encodeAnnouncement, SWARM_KIND, swarmResource } from '../../../../usages/ppsp/signalling/tracker.js';
import { expectReloadError } from '../../../helpers/expect-reload-error.js';
import { Prng } from '../../../helpers/prng.js';

const SWARM = '0f'.repeat(32);
const p = (accessType: PeerProperties['accessType'], upKbps: number): PeerProperties => ({ accessType, upKbps, downKbps: upKbps, nat: 'nat', uptimeSec: 60 });

describe('ppsp signalling codecs', () => {
  it('PeerListReq: golden bytes and round trip, with and without a chunk', () => {
    const req = { swarmId: SWARM, count: 5, properties: p('wifi', 100) };
    const bytes = encodeCbor(encodePeerListReq(req));
    expect(Buffer.from(bytes).toString('hex')).to.equal(`845820${'0f'.repeat(32)}f60585021864186402183c`);
    expect(decodePeerListReq(decodeCbor(bytes))).to.deep.equal(req);
    expect(decodePeerListReq(decodeCbor(encodeCbor(encodePeerListReq({ ...req, chunk: 7 }))))).to.deep.equal({ ...req, chunk: 7 });
  });

  it('PeerListReq: count 1..64, swarm 32 bytes', () => {
    const body = encodePeerListReq({ swarmId: SWARM, count: 1, properties: p('fixed', 1) });
    expectReloadError(() => decodePeerListReq([body[0], null, MAX_PEER_LIST + 1, body[3]]), ErrorCode.Invalid_Message, { message: /PeerListReq\.count/ });
    expectReloadError(() => decodePeerListReq([body[0], null, 0, body[3]]), ErrorCode.Invalid_Message, { message: /PeerListReq\.count/ });
    expectReloadError(() => decodePeerListReq([new Uint8Array(33), null, 1, body[3]]), ErrorCode.Invalid_Message, { message: /PeerListReq\.swarm/ });
    expectReloadError(() => encodePeerListReq({ swarmId: 'XY', count: 1, properties: p('fixed', 1) }), ErrorCode.Invalid_Message, { reason: 'bad_swarm_id' });
  });

  it('PeerListAns: bounded by the requested count, no Node-ID twice', () => {
    const id = randomId();
    const entry = [Uint8Array.from(id), null, [['overlay']]];
    expect(decodePeerListAns([[entry]])).to.deep.equal([{ nodeId: id, nodeIdHex: idToHex(id), transports: [{ type: 'overlay' }] }]);
    // A peer entry outlives the answer's buffer: its Node-ID must not be a view into it.
    const body = decodeCbor(encodeCbor([[entry]])) as [[Uint8Array, null, unknown[]][]];
    const [decoded] = decodePeerListAns(body);
    body[0][0]![0].fill(0);
    expect(decoded!.nodeId).to.deep.equal(id);
    expectReloadError(() => decodePeerListAns([[entry, [randomId(), null, []]]], 1), ErrorCode.Invalid_Message, { reason: 'too_many_items' });
    expectReloadError(() => decodePeerListAns([[entry, entry]]), ErrorCode.Invalid_Message, { message: /listed twice/ });
    expectReloadError(() => decodePeerListAns([[[new Uint8Array(15), null, []]]]), ErrorCode.Invalid_Message, { message: /peers\[0\]\.nodeId/ });
  });

  it('AvailabilityAns: the chunk count must be the swarm\'s', () => {
    const a = decodeAvailabilityAns([10, [2, [[0, 3]]]], 10);
    expect(a.count).to.equal(4);
    expectReloadError(() => decodeAvailabilityAns([11, [2, [[0, 3]]]], 10), ErrorCode.Invalid_Message, { message: /chunkCount/ });
    expectReloadError(() => decodeAvailabilityAns([10, [9, []]], 10), ErrorCode.Invalid_Message, { reason: 'unknown_availability_tag' });
  });

  it('PropertiesReq and TransportReq', () => {
    expect(decodePropertiesReq([null, [0, 1, 1, 0, 0]])).to.deep.equal({ properties: { accessType: 'fixed', upKbps: 1, downKbps: 1, nat: 'unknown', uptimeSec: 0 } });
    expect(decodeTransportReq([Buffer.from(SWARM, 'hex'), [['overlay']]])).to.deep.equal({ swarmId: SWARM, transports: [{ type: 'overlay' }] });
    expectReloadError(() => decodeTransportReq([Buffer.from(SWARM, 'hex')]), ErrorCode.Invalid_Message, { message: /TransportReq must be an array of 2 items/ });
  });

  it('tracker entries: round trip, version, size bound, resource = H(swarm hex)', () => {
    const a = { properties: p('mobile', 300), transports: [{ type: 'tls' as const, address: '10.0.0.1:7000' }, { type: 'overlay' as const }], haveCount: 12 };
    expect(decodeAnnouncement(encodeAnnouncement(a))).to.deep.equal(a);
    const noHave = { properties: a.properties, transports: [] };
    expect(decodeAnnouncement(encodeAnnouncement(noHave))).to.deep.equal(noHave);
    expectReloadError(() => decodeAnnouncement(encodeCbor([2, [0, 1, 1, 0, 0], [], null])), ErrorCode.Invalid_Message, { message: /announcement\.version/ });
    const long = Array.from({ length: 8 }, (_, i) => ({ type: 'tls' as const, address: `${'h'.repeat(60)}.${'x'.repeat(60)}.${'y'.repeat(60)}.example${i}:${1000 + i}` }));
    expectReloadError(() => encodeAnnouncement({ properties: a.properties, transports: long }), ErrorCode.Data_Too_Large);
    expect(SWARM_KIND).to.include({ dataModel: 'dictionary', accessControl: 'NODE-ID-MATCH' });
    expect(idToHex(swarmResource(SWARM.toUpperCase(), 'sha1'))).to.equal(idToHex(swarmResource(SWARM, 'sha1')));
  });
});

describe('ppsp peer view and similar-peer picking', () => {
  it('merges what it learns and evicts the least recently heard of', () => {
    const view = new PeerView(3);
    const ids = Array.from({ length: 4 }, () => randomId());
    view.learn(ids[0]!, { properties: p('fixed', 1) });
    view.learn(ids[0]!, { transports: [{ type: 'overlay' }] });
    expect(view.get(idToHex(ids[0]!))).to.deep.include({ properties: p('fixed', 1), transports: [{ type: 'overlay' }] });
    view.learn(ids[1]!, {});
    view.learn(ids[2]!, {});
    view.learn(ids[0]!, {}); // heard of again: now the most recent
    view.learn(ids[3]!, {});
    expect(view.size).to.equal(3);
    expect(view.get(idToHex(ids[1]!))).to.equal(undefined);
    expect(view.forget(idToHex(ids[0]!))).to.equal(true);
    expect(view.list().map((e) => e.nodeIdHex)).to.deep.equal([ids[2]!, ids[3]!].map(idToHex));
  });

  it('orders by similarity, unknown properties last, and breaks ties at random', () => {
    const entry = (hex: string, properties?: PeerProperties) => ({ nodeId: idFromHex(hex.repeat(32)), nodeIdHex: hex.repeat(32), transports: [], ...(properties ? { properties } : {}) });
    const twins = ['1', '2', '3'].map((h) => entry(h, p('mobile', 100)));
    const far = entry('4', p('fixed', 100_000));
    const unknown = entry('5');
    const all = [unknown, far, ...twins];
    const rng = new Prng(7);
    const firsts = new Set<string>();
    for (let i = 0; i < 60; i++) {
      const picked = pickSimilar(all, p('mobile', 100), 5, () => rng.next() / 2 ** 32);
      expect(picked.slice(3).map((e) => e.nodeIdHex)).to.deep.equal([far.nodeIdHex, unknown.nodeIdHex]);
      expect(new Set(picked.slice(0, 3).map((e) => e.nodeIdHex))).to.deep.equal(new Set(twins.map((e) => e.nodeIdHex)));
      firsts.add(picked[0]!.nodeIdHex);
    }
    expect(firsts.size, 'each twin comes first sometimes').to.equal(3);
    expect(pickSimilar(all, p('mobile', 100), 2)).to.have.length(2);
  });
});
