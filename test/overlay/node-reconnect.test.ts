import { ringStatus } from '../helpers/ring-check.js';
import { expect } from 'chai';
import type { Identity } from '../../certs/identity.js';
import { newOverlayConfig, type OverlayConfig } from '../../overlay/config.js';
import { ReloadError } from '../../overlay/errors.js';
import { resourceIdOf } from '../../overlay/id.js';
import { Node } from '../../overlay/node.js';
import type { CachedPeer, PeerCacheStore } from '../../overlay/peer-cache-store.js';
import { rejection } from '../helpers/rejection.js';
import { sharedPki, TEST_OVERLAY } from '../helpers/pki.js';
import { FAST_CHORD, portOf } from '../helpers/testnet.js';
import { waitFor } from '../helpers/wait.js';

/** A PeerCacheStore that keeps what the node saved, for the test to look at. */
class MemoryPeerCacheStore implements PeerCacheStore {
  saved: CachedPeer[] = [];
  load(): CachedPeer[] {
    return this.saved;
  }
  save(peers: CachedPeer[]): void {
    this.saved = peers;
  }
}

/**
 * Bound on getting back in: reconnection attempts come after about 1, 2, 4 and 8 s (with jitter),
 * each dialing the dead bootstrap node first, then the cached peers, then a Chord join.
 */
const BACK_BOUND_MS = 30_000;

describe('overlay/node: losing every link and getting back in', function () {
  this.timeout(60_000);
  let config: OverlayConfig;
  let ids: Identity[];
  const started: Node[] = [];

  before(async () => {
    const pki = await sharedPki();
    const base = newOverlayConfig(TEST_OVERLAY, pki.ca.certPem);
    config = { ...base, chord: { ...base.chord, ...FAST_CHORD } };
    ids = await Promise.all([pki.enroll(), pki.enroll(), pki.enroll()]);
  });

  afterEach(async () => {
    await Promise.all(started.splice(0).map((n) => n.stop()));
  });

  async function startNode(identity: Identity, opts: { bootstrap?: Node[]; port?: number; peerCacheStore?: PeerCacheStore } = {}): Promise<Node> {
    const n = new Node({
      config,
      identity,
      listen: { host: '127.0.0.1', port: opts.port ?? 0 },
      bootstrap: (opts.bootstrap ?? []).map((b) => ({ host: '127.0.0.1', port: portOf(b) })),
      peerCacheStore: opts.peerCacheStore,
    });
    started.push(n);
    await n.start();
    return n;
  }

  it('a node whose bootstrap node is gone for good gets back in through a cached peer, and joins again', async () => {
    const [ia, ib, ic] = ids as [Identity, Identity, Identity];
    const a = await startNode(ia);
    const c = await startNode(ic, { bootstrap: [a] });
    const cache = new MemoryPeerCacheStore();
    const b = await startNode(ib, { bootstrap: [a], peerCacheStore: cache });
    await waitFor(() => cache.saved.some((p) => p.nodeIdHex === c.nodeIdHex), 10_000, 'B caches C\'s address');
    const cPort = portOf(c);

    // Both of B's peers crash: B has no link left.
    await a.stop({ leave: false });
    await c.stop({ leave: false });
    await waitFor(() => b.state === 'disconnected', 10_000, 'B disconnected');
    expect(b.linkList()).to.deep.equal([]);
    // Out of the overlay, B's empty table would make it responsible for every id: refused instead.
    const e = await rejection(b.storage.store('user-value', resourceIdOf(ib.user, config.hash), { model: 'single', value: { exists: true, value: Buffer.from('x') } }));
    expect(e).to.be.instanceOf(ReloadError);
    expect((e as ReloadError).reason).to.equal('not_in_overlay');

    // C comes back on its address, as a new overlay of its own; A never does.
    const c2 = await startNode(ic, { port: cPort });
    await waitFor(() => b.state === 'joined', BACK_BOUND_MS, 'B joined again');
    await waitFor(() => ringStatus(b).successors.join() === c2.nodeIdHex && ringStatus(c2).successors.join() === b.nodeIdHex, 10_000, 'a ring of B and C');
    expect((await b.ping(c2.nodeId)).responder).to.equal(c2.nodeIdHex);
    expect((await c2.ping(b.nodeId)).responder).to.equal(b.nodeIdHex);
  });

  it('a node that started the overlay and whose peers all left (Leave) is the overlay again: still joined', async () => {
    const [ia, ib] = ids as [Identity, Identity];
    const a = await startNode(ia);
    const b = await startNode(ib, { bootstrap: [a] });
    await waitFor(() => a.linkList().length === 1);
    await b.stop();
    await waitFor(() => a.linkList().length === 0);
    expect(a.state).to.equal('joined');
    const stored = await a.storage.store('user-value', resourceIdOf(ia.user, config.hash), { model: 'single', value: { exists: true, value: Buffer.from('alone') } });
    expect(stored.responsible).to.equal(a.nodeIdHex);
  });
});
