/**
 * The PPSP signalling usage on a real overlay: 11 nodes over mutual TLS on 127.0.0.1, the usage
 * attached to each before it starts. Ground truth for peer lists is computed here from the
 * properties the test gave each node, not with the code's similarity function.
 */
import { expect } from 'chai';
import { ErrorCode, ReloadError } from '../../../../overlay/errors.js';
import { idToHex } from '../../../../overlay/id.js';
import type { Node } from '../../../../overlay/node.js';
import { Availability, AVAILABILITY_BITMAP, AVAILABILITY_RANGES } from '../../../../usages/ppsp/content/availability.js';
import { PpspCode } from '../../../../usages/ppsp/signalling/codes.js';
import { PpspSignallingUsage } from '../../../../usages/ppsp/signalling/ppsp-signalling-usage.js';
import type { PeerProperties } from '../../../../usages/ppsp/signalling/properties.js';
import { encodePeerListReq } from '../../../../usages/ppsp/signalling/signalling.js';
import { members, swarmResource, SWARM_KIND } from '../../../../usages/ppsp/signalling/tracker.js';
import { rejection } from '../../../helpers/rejection.js';
import { settleNodes } from '../../../helpers/settle.js';
import { startTestnet, type Testnet } from '../../../helpers/testnet.js';

const SWARM = 'ab'.repeat(32);
const OTHER_SWARM = 'cd'.repeat(32);
const LIFETIME_SEC = 4;

/** Node roles by start index. */
const RESPONDER = 0;
const REQUESTER = 1;
const SIMILAR = [2, 3, 4];
const DIFFERENT = [5, 6, 7];
const SAME_NAT = [8, 9];
const OUTSIDER = 10;

const props = (accessType: PeerProperties['accessType'], upKbps: number, nat: PeerProperties['nat'], uptimeSec: number): PeerProperties => ({ accessType, upKbps, downKbps: 4 * upKbps, nat, uptimeSec });

/** What each node says about itself. */
const PROPERTIES: PeerProperties[] = [
  props('fixed', 10_000, 'public', 100),
  props('mobile', 500, 'nat', 600),
  props('mobile', 400, 'nat', 500),
  props('mobile', 600, 'nat', 700),
  props('mobile', 500, 'nat', 50),
  props('fixed', 50_000, 'public', 600),
  props('fixed', 100_000, 'public', 600),
  props('fixed', 80_000, 'public', 600),
  props('wifi', 2000, 'nat', 600),
  props('wifi', 3000, 'nat', 600),
  props('fixed', 1000, 'public', 600),
];

/**
 * The test's own ranking of a candidate for a requester: tier 0 = same access type, same NAT
 * status and upload capacity within a factor of 2; tier 1 = same NAT status; tier 2 = the rest.
 */
function tier(req: PeerProperties, p: PeerProperties): number {
  const ratio = Math.max(req.upKbps, p.upKbps) / Math.max(1, Math.min(req.upKbps, p.upKbps));
  if (p.accessType === req.accessType && p.nat === req.nat && ratio <= 2) return 0;
  return p.nat === req.nat ? 1 : 2;
}

describe('ppsp signalling over a TLS overlay of 11 nodes', function () {
  this.timeout(120_000);
  let net: Testnet;
  const usages: PpspSignallingUsage[] = [];
  const node = (i: number): Node => net.nodes[i]!;
  const usage = (i: number): PpspSignallingUsage => usages[i]!;
  const indexOf = (hex: string): number => net.nodes.findIndex((n) => n.nodeIdHex === hex);

  before(async () => {
    net = await startTestnet(11, {
      beforeStart: (n, i) => {
        const u = new PpspSignallingUsage({ properties: PROPERTIES[i]!, announceLifetimeSec: LIFETIME_SEC });
        u.attach(n);
        usages[i] = u;
      },
    });
    // Tracker entries go to the responsible peers of a settled ring, not to a stale view of it.
    await settleNodes(net.nodes);
    await Promise.all(usages.map((u) => u.start()));
    for (let i = 0; i < OUTSIDER; i++) await usage(i).joinSwarm(SWARM, { haveCount: i });
    // The responder joined first; what it learns of the later members comes from the tracker.
    const fetched = await usage(RESPONDER).refreshMembers(SWARM);
    expect(fetched).to.have.length(OUTSIDER - 1);
  });

  after(async () => {
    await net?.stopAll();
  });

  describe('the tracker (swarm membership in the overlay)', () => {
    it('lists every member with its properties and transports, fetched by a non-member', async () => {
      const { peers, rejected } = await members(node(OUTSIDER), SWARM);
      expect(rejected).to.equal(0);
      expect(peers.map((p) => indexOf(p.nodeIdHex)).sort((a, b) => a - b)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      for (const p of peers) {
        const i = indexOf(p.nodeIdHex);
        expect(p.properties).to.deep.equal(PROPERTIES[i]);
        expect(p.transports).to.deep.equal([{ type: 'overlay' }]);
        expect(p.haveCount).to.equal(i);
      }
    });

    it('keeps entries alive past their lifetime: the storer refreshes them', async () => {
      await new Promise((r) => setTimeout(r, LIFETIME_SEC * 1500));
      const { peers } = await members(node(OUTSIDER), SWARM);
      expect(peers).to.have.length(10);
    });

    it('refuses an entry under another node\'s Node-ID (NODE-ID-MATCH: Forbidden)', async () => {
      const victim = node(SIMILAR[0]!);
      const value = { model: 'dictionary' as const, key: Uint8Array.from(victim.nodeId), value: { exists: true, value: new Uint8Array([1]) } };
      const e = await rejection<ReloadError>(node(OUTSIDER).storage.store(SWARM_KIND.name, swarmResource(SWARM, net.config.hash), value, { lifetimeSec: 60 }));
      expect(e).to.be.instanceOf(ReloadError);
      expect(e.code, e.message).to.equal(ErrorCode.Forbidden);
      expect(e.message).to.match(/NODE-ID-MATCH/);
      const { peers } = await members(node(OUTSIDER), SWARM);
      expect(peers.find((p) => p.nodeIdHex === victim.nodeIdHex)?.properties).to.deep.equal(PROPERTIES[SIMILAR[0]!]);
    });
  });

  describe('peer lists (seed §4.2.1)', () => {
    const req = PROPERTIES[REQUESTER]!;
    /** The candidates of the responder's view in the test's ground-truth tiers. */
    const candidates = () => [...SIMILAR, ...DIFFERENT, ...SAME_NAT];

    for (const count of [1, 2, 3, 5, 8, 64]) {
      it(`count ${count}: at most that many, never the requester or the responder, the most similar first`, async () => {
        const list = await usage(REQUESTER).peerList(node(RESPONDER).nodeId, SWARM, count);
        const got = list.map((p) => indexOf(p.nodeIdHex));
        const expectedLength = Math.min(count, candidates().length);
        expect(got).to.have.length(expectedLength);
        expect(new Set(got).size).to.equal(got.length);
        expect(got).to.not.include(REQUESTER);
        expect(got).to.not.include(RESPONDER);
        // Ground truth: a candidate of a worse tier is listed only when every better one is.
        const tiers = got.map((i) => tier(req, PROPERTIES[i]!));
        for (const t of [0, 1, 2]) {
          const available = candidates().filter((i) => tier(req, PROPERTIES[i]!) < t).length;
          if (tiers.some((x) => x === t)) expect(tiers.filter((x) => x < t).length, `tier ${t} in ${got}`).to.equal(available);
        }
        expect(tiers, 'most similar first').to.deep.equal([...tiers].sort((a, b) => a - b));
        for (const p of list) expect(p.properties).to.deep.equal(PROPERTIES[indexOf(p.nodeIdHex)]);
      });
    }

    it('count 3 gives exactly the three similar peers', async () => {
      const list = await usage(REQUESTER).peerList(node(RESPONDER).nodeId, SWARM, 3);
      expect(list.map((p) => indexOf(p.nodeIdHex)).sort()).to.deep.equal(SIMILAR);
    });

    it('a fixed-line requester gets the fixed-line peers first', async () => {
      const list = await usage(DIFFERENT[0]!).peerList(node(RESPONDER).nodeId, SWARM, 2);
      expect(list.map((p) => indexOf(p.nodeIdHex)).sort()).to.deep.equal(DIFFERENT.slice(1));
    });

    it('a chunk peer list leaves out peers known to lack the chunk', async () => {
      const holders = new Set([...DIFFERENT, SAME_NAT[0]!].map((i) => node(i).nodeIdHex));
      usage(RESPONDER).setPeerHasChunk((swarmId, hex, chunk) => (swarmId === SWARM && chunk === 5 ? holders.has(hex) : undefined));
      try {
        const list = await usage(REQUESTER).peerList(node(RESPONDER).nodeId, SWARM, 3, { chunk: 5 });
        const got = list.map((p) => indexOf(p.nodeIdHex));
        expect(got).to.have.length(3);
        expect(got[0], 'the holder sharing the requester\'s NAT status first').to.equal(SAME_NAT[0]);
        for (const i of got) expect(holders.has(node(i).nodeIdHex)).to.equal(true);
        const unknownChunk = await usage(REQUESTER).peerList(node(RESPONDER).nodeId, SWARM, 3, { chunk: 6 });
        expect(unknownChunk.map((p) => indexOf(p.nodeIdHex)).sort()).to.deep.equal(SIMILAR);
      } finally {
        usage(RESPONDER).setPeerHasChunk(undefined);
      }
    });

    it('teaches the responder the requester (peer exchange) and the requester the peers', async () => {
      await usage(SIMILAR[1]!).peerList(node(RESPONDER).nodeId, SWARM, 4);
      expect(usage(SIMILAR[1]!).knownPeers(SWARM).map((p) => indexOf(p.nodeIdHex))).to.include.members(SIMILAR.filter((i) => i !== SIMILAR[1]));
      const known = usage(RESPONDER).knownPeers(SWARM).find((p) => p.nodeIdHex === node(SIMILAR[1]!).nodeIdHex);
      expect(known?.properties).to.deep.equal(PROPERTIES[SIMILAR[1]!]);
    });

    it('a swarm the responder takes no part in is Not_Found', async () => {
      const e = await rejection<ReloadError>(usage(REQUESTER).peerList(node(OUTSIDER).nodeId, SWARM, 3));
      expect(e.code, e.message).to.equal(ErrorCode.Not_Found);
      expect(e.reason).to.equal('unknown_swarm');
    });

    it('a count above 64 is Invalid_Message', async () => {
      const body = encodePeerListReq({ swarmId: SWARM, count: 1, properties: req });
      body[2] = 65;
      const e = await rejection<ReloadError>(node(REQUESTER).request([{ type: 'node', id: node(RESPONDER).nodeId }], PpspCode.PeerListReq, body));
      expect(e.code, e.message).to.equal(ErrorCode.Invalid_Message);
      expect(e.message).to.match(/PeerListReq\.count/);
    });
  });

  describe('data availability (seed §4.2.2)', () => {
    before(() => {
      usage(SIMILAR[0]!).setLocalAvailability((swarmId) => {
        if (swarmId !== SWARM) return undefined;
        const a = new Availability(1000);
        a.setRange({ first: 0, last: 499 });
        a.set(700);
        return a;
      });
      usage(SIMILAR[1]!).setLocalAvailability((swarmId) => {
        if (swarmId !== SWARM) return undefined;
        const a = new Availability(16);
        for (let i = 0; i < 16; i += 2) a.set(i);
        return a;
      });
    });

    it('answers the tagged structure (ranges or bitmap, whichever is smaller)', async () => {
      const ranges = await usage(REQUESTER).availability(node(SIMILAR[0]!).nodeId, SWARM, 1000);
      expect([...ranges.ranges()]).to.deep.equal([{ first: 0, last: 499 }, { first: 700, last: 700 }]);
      const res = await node(REQUESTER).request([{ type: 'node', id: node(SIMILAR[0]!).nodeId }], PpspCode.AvailabilityReq, [Buffer.from(SWARM, 'hex')]);
      expect((res.body as [number, [number, unknown]])[1][0]).to.equal(AVAILABILITY_RANGES);
      const bitmap = await node(REQUESTER).request([{ type: 'node', id: node(SIMILAR[1]!).nodeId }], PpspCode.AvailabilityReq, [Buffer.from(SWARM, 'hex')]);
      expect(bitmap.body).to.deep.equal([16, [AVAILABILITY_BITMAP, new Uint8Array([0xaa, 0xaa])]]);
    });

    it('refuses an unknown swarm with Not_Found', async () => {
      const e = await rejection<ReloadError>(usage(REQUESTER).availability(node(SIMILAR[0]!).nodeId, OTHER_SWARM, 1000));
      expect(e.code, e.message).to.equal(ErrorCode.Not_Found);
      const none = await rejection<ReloadError>(usage(REQUESTER).availability(node(DIFFERENT[0]!).nodeId, SWARM, 1000));
      expect(none.code, none.message).to.equal(ErrorCode.Not_Found);
    });

    it('a chunk count other than the swarm\'s is Invalid_Message at the requester', async () => {
      const e = await rejection<ReloadError>(usage(REQUESTER).availability(node(SIMILAR[0]!).nodeId, SWARM, 999));
      expect(e.code, e.message).to.equal(ErrorCode.Invalid_Message);
    });
  });

  describe('property exchange (seed §4.2.3)', () => {
    it('carries both directions in one round trip', async () => {
      const theirs = await usage(SAME_NAT[0]!).exchangeProperties(node(DIFFERENT[2]!).nodeId, SWARM);
      expect(theirs).to.deep.equal(PROPERTIES[DIFFERENT[2]!]);
      const known = usage(DIFFERENT[2]!).knownPeers(SWARM).find((p) => p.nodeIdHex === node(SAME_NAT[0]!).nodeIdHex);
      expect(known?.properties).to.deep.equal(PROPERTIES[SAME_NAT[0]!]);
      expect(usage(SAME_NAT[0]!).knownPeers(SWARM).find((p) => p.nodeIdHex === node(DIFFERENT[2]!).nodeIdHex)?.properties).to.deep.equal(PROPERTIES[DIFFERENT[2]!]);
    });

    it('works without a swarm, from a node in none', async () => {
      expect(await usage(OUTSIDER).exchangeProperties(node(RESPONDER).nodeId)).to.deep.equal(PROPERTIES[RESPONDER]);
    });
  });

  describe('transport negotiation (seed §4.5)', () => {
    const [a, b, c, d] = [SIMILAR[0]!, SIMILAR[1]!, SIMILAR[2]!, DIFFERENT[0]!];
    before(() => {
      usage(a).setTlsAddress('127.0.0.1:40001');
      usage(b).setTlsAddress('127.0.0.1:40002');
      usage(c).setTransports([{ type: 'overlay' }]);
      usage(d).setTransports([{ type: 'tls', address: '127.0.0.1:40004' }]);
    });

    it('two peers with tls pick tls (the responder\'s address)', async () => {
      const r = await usage(a).negotiateTransport(node(b).nodeId, SWARM);
      expect(r.transport).to.deep.equal({ type: 'tls', address: '127.0.0.1:40002' });
      expect(r.theirs).to.deep.equal([{ type: 'tls', address: '127.0.0.1:40002' }, { type: 'overlay' }]);
      expect(usage(b).knownPeers(SWARM).find((p) => p.nodeIdHex === node(a).nodeIdHex)?.transports).to.deep.equal(usage(a).transports);
    });

    it('a peer without tls gets overlay, in either direction', async () => {
      expect((await usage(a).negotiateTransport(node(c).nodeId, SWARM)).transport).to.deep.equal({ type: 'overlay' });
      expect((await usage(c).negotiateTransport(node(a).nodeId, SWARM)).transport).to.deep.equal({ type: 'overlay' });
    });

    it('nothing in common is a clear error', async () => {
      const e = await rejection<ReloadError>(usage(c).negotiateTransport(node(d).nodeId, SWARM));
      expect(e.code).to.equal(ErrorCode.Not_Found);
      expect(e.reason).to.equal('no_common_transport');
      expect(e.message).to.match(/ours overlay; theirs tls 127\.0\.0\.1:40004/);
    });

    it('the new transports reach the tracker on re-announce', async () => {
      await usage(a).reannounce();
      const { peers } = await members(node(OUTSIDER), SWARM);
      expect(peers.find((p) => p.nodeIdHex === node(a).nodeIdHex)?.transports).to.deep.equal([{ type: 'tls', address: '127.0.0.1:40001' }, { type: 'overlay' }]);
    });
  });

  describe('malformed bodies', () => {
    const garbage: [number, unknown, RegExp][] = [
      [PpspCode.PeerListReq, null, /PeerListReq must be an array of 4 items/],
      [PpspCode.PeerListReq, [new Uint8Array(31), null, 3, [0, 1, 1, 0, 0]], /PeerListReq\.swarm/],
      [PpspCode.PeerListReq, [Buffer.from(SWARM, 'hex'), -1, 3, [0, 1, 1, 0, 0]], /PeerListReq\.chunk/],
      [PpspCode.PeerListReq, [Buffer.from(SWARM, 'hex'), null, 0, [0, 1, 1, 0, 0]], /PeerListReq\.count/],
      [PpspCode.PeerListReq, [Buffer.from(SWARM, 'hex'), null, 3, [9, 1, 1, 0, 0]], /PeerListReq\.properties\.accessType/],
      [PpspCode.AvailabilityReq, [], /AvailabilityReq must be an array of 1 items/],
      [PpspCode.AvailabilityReq, ['ab'.repeat(32)], /AvailabilityReq\.swarm/],
      [PpspCode.PropertiesReq, [null, [0, 1, 1, 7, 0]], /PropertiesReq\.properties\.nat/],
      [PpspCode.TransportReq, [Buffer.from(SWARM, 'hex'), [['tls', 'nowhere']]], /TransportReq\.transports\[0\]\.address/],
      [PpspCode.TransportReq, [Buffer.from(SWARM, 'hex'), 'tls'], /TransportReq\.transports/],
      [PpspCode.SwarmLeaveReq, [1, 2], /SwarmLeaveReq/],
    ];
    it('each is Invalid_Message naming the field, and the node keeps serving', async () => {
      for (const [code, body, message] of garbage) {
        const e = await rejection<ReloadError>(node(REQUESTER).request([{ type: 'node', id: node(RESPONDER).nodeId }], code, body));
        expect(e, `${code.toString(16)} ${JSON.stringify(body)}`).to.be.instanceOf(ReloadError);
        expect(e.code, e.message).to.equal(ErrorCode.Invalid_Message);
        expect(e.message).to.match(message);
      }
      expect(node(RESPONDER).state).to.equal('joined');
      expect(await usage(REQUESTER).peerList(node(RESPONDER).nodeId, SWARM, 3)).to.have.length(3);
    });
  });

  describe('leaving a swarm', () => {
    it('withdraws from the tracker and says goodbye to the peers it knows', async () => {
      const leaver = SAME_NAT[1]!;
      await usage(leaver).refreshMembers(SWARM);
      expect(usage(RESPONDER).knownPeers(SWARM).map((p) => p.nodeIdHex)).to.include(node(leaver).nodeIdHex);
      await usage(leaver).leaveSwarm(SWARM);
      const { peers } = await members(node(OUTSIDER), SWARM);
      expect(peers.map((p) => p.nodeIdHex)).to.not.include(node(leaver).nodeIdHex);
      expect(peers).to.have.length(9);
      expect(usage(RESPONDER).knownPeers(SWARM).map((p) => p.nodeIdHex)).to.not.include(node(leaver).nodeIdHex);
      const list = await usage(REQUESTER).peerList(node(RESPONDER).nodeId, SWARM, 64);
      expect(list.map((p) => idToHex(p.nodeId))).to.not.include(node(leaver).nodeIdHex);
      const e = await rejection<ReloadError>(usage(REQUESTER).peerList(node(leaver).nodeId, SWARM, 3));
      expect(e.code).to.equal(ErrorCode.Not_Found);
    });

    it('a peer the data plane found gone can be forgotten', () => {
      const gone = node(DIFFERENT[1]!).nodeIdHex;
      expect(usage(RESPONDER).forgetPeer(SWARM, gone)).to.equal(true);
      expect(usage(RESPONDER).knownPeers(SWARM).map((p) => p.nodeIdHex)).to.not.include(gone);
      expect(usage(RESPONDER).forgetPeer(SWARM, gone)).to.equal(false);
    });
  });
});
