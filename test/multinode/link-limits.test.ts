/**
 * No single source of connections keeps a node out of its overlay (issue 11), over real TLS:
 * one enrolled certificate dialing more connections than the node has link slots, and a handful of
 * certificates that fill the table with silent links, while honest nodes join through the node
 * under attack and then reach each other.
 */
import { expect } from 'chai';
import { systemClock } from '../../overlay/clock.js';
import { newOverlayConfig, type OverlayConfig } from '../../overlay/config.js';
import type { Identity } from '../../certs/identity.js';
import { connectTls, type TlsLink } from '../../overlay/link/tls-link.js';
import { Node } from '../../overlay/node.js';
import { portOf } from '../../scripts/local-ring.js';
import { allPairsPing } from '../helpers/ping.js';
import { sharedPki, TEST_OVERLAY, type TestPki } from '../helpers/pki.js';
import { FAST_CHORD } from '../helpers/testnet.js';
import { waitFor } from '../helpers/wait.js';

describe('link limits over TLS: an attacker cannot lock honest peers out', function () {
  this.timeout(120_000);
  let pki: TestPki;
  let nodes: Node[] = [];
  let held: TlsLink[] = [];

  before(async () => {
    pki = await sharedPki();
  });

  afterEach(async () => {
    for (const link of held) link.close();
    await Promise.all(nodes.map((n) => n.stop({ leave: false })));
    nodes = [];
    held = [];
  });

  function config(maxLinks: number, links: Partial<OverlayConfig['links']>): OverlayConfig {
    const base = newOverlayConfig(TEST_OVERLAY, pki.ca.certPem);
    return { ...base, maxLinks, chord: { ...base.chord, ...FAST_CHORD }, links: { ...base.links, ...links } };
  }

  async function startNode(cfg: OverlayConfig, bootstrapPort?: number): Promise<Node> {
    const node = new Node({
      config: cfg,
      identity: await pki.enroll(),
      listen: { host: '127.0.0.1', port: 0 },
      bootstrap: bootstrapPort ? [{ host: '127.0.0.1', port: bootstrapPort }] : [],
    });
    nodes.push(node);
    await node.start();
    return node;
  }

  /** Opens `count` TLS links to `port` as `identity` at once and holds them without ever answering. */
  async function hold(identity: Identity, port: number, count: number, cfg: OverlayConfig): Promise<TlsLink[]> {
    const dial = () => connectTls({ host: '127.0.0.1', port, identity, trust: pki.trust, clock: systemClock, maxMessageBytes: cfg.maxMessageSize, queueLimit: 16 });
    const links = (await Promise.allSettled(Array.from({ length: count }, dial))).flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    held.push(...links);
    return links;
  }

  it('one certificate opens 40 connections to a node with 16 link slots: 3 honest nodes join through it and every pair pings; the extra connections are closed and counted', async () => {
    const cfg = config(16, { maxPerNode: 2, greetingTimeoutMs: 3000 });
    const target = await startNode(cfg);
    const attacker = await pki.enroll('mallory@test.reload');
    const links = await hold(attacker, portOf(target), 40, cfg);
    expect(links, 'the TLS handshakes themselves succeed: the certificate is a valid one').to.have.length(40);
    // All but the links one Node-ID may hold are refused as they arrive.
    await waitFor(() => links.filter((l) => l.open).length <= 2, 10_000, 'the extra links closed');

    const honest = [];
    for (let i = 0; i < 3; i++) honest.push(await startNode(cfg, portOf(target)));
    expect(honest.map((n) => n.state)).to.deep.equal(['joined', 'joined', 'joined']);
    expect(await allPairsPing([target, ...honest])).to.deep.equal([]);

    // The links it kept never answer a Ping, so they go too, within the greeting and probe timeouts.
    await waitFor(() => links.every((l) => !l.open), 20_000, 'every attacker link closed');
    const refused = target.metrics.linkDropCount('per_node_limit');
    const silent = target.metrics.linkDropCount('silent');
    expect(refused, 'refused for the per-Node-ID limit').to.be.at.least(38 - 2 * silent);
    expect(silent, 'closed for silence').to.be.at.least(1);
    expect(target.metrics.render()).to.match(/^reload_links_dropped_total\{reason="per_node_limit"\} \d+$/m);
    expect(target.linkList().map((l) => l.remoteNodeIdHex)).to.not.include(attacker.nodeIdHex);
  });

  it('6 certificates fill a 6-slot table with silent links: 3 honest nodes joining evict them, and every pair pings', async () => {
    // A long greeting, so the silent links would hold their slots for the whole test.
    const cfg = config(6, { greetingTimeoutMs: 120_000 });
    const target = await startNode(cfg);
    const squatters = (await Promise.all(Array.from({ length: 6 }, () => pki.enroll()))).map((id) => hold(id, portOf(target), 1, cfg));
    const links = (await Promise.all(squatters)).flat();
    expect(links).to.have.length(6);
    await waitFor(() => target.linkList().length === 6, 10_000, 'the table full of squatters');

    const honest = [];
    for (let i = 0; i < 3; i++) honest.push(await startNode(cfg, portOf(target)));
    expect(await allPairsPing([target, ...honest])).to.deep.equal([]);
    expect(target.metrics.linkDropCount('evicted_for_newcomer'), 'squatters evicted').to.be.at.least(3);
    expect(links.filter((l) => !l.open).length, 'closed squatter links').to.be.at.least(3);
    const honestIds = new Set(honest.map((n) => n.nodeIdHex));
    expect(target.linkList().filter((l) => honestIds.has(l.remoteNodeIdHex)), 'a link to every honest node').to.have.length(3);
  });

  it('an application channel (as the PPSP data channel) takes at most maxApplicationLinksPerNode links from one certificate; the rest are refused and counted', async () => {
    const cfg = config(256, { maxApplicationLinksPerNode: 4 });
    const target = await startNode(cfg);
    const accepted: string[] = [];
    const served = await target.serveApplication(0xf00d, { host: '127.0.0.1', port: 0, maxMessageBytes: 1 << 16, queueLimit: 16, onLink: (l) => accepted.push(l.remoteNodeIdHex) });
    try {
      const port = Number(/:(\d+)$/.exec(served.address)![1]);
      const links = await hold(await pki.enroll('mallory@test.reload'), port, 20, cfg);
      expect(links).to.have.length(20);
      await waitFor(() => target.metrics.linkDropCount('application_per_node_limit') === 16, 10_000, '16 refusals');
      await waitFor(() => links.filter((l) => l.open).length === 4, 10_000, 'the 4 accepted links alone open');
      expect(accepted).to.have.length(4);
      const other = await hold(await pki.enroll(), port, 1, cfg);
      await waitFor(() => accepted.length === 5, 10_000, 'another Node-ID still gets in');
      expect(other[0]!.open).to.equal(true);
    } finally {
      await served.close();
    }
  });
});
