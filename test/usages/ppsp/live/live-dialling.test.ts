/**
 * A viewer whose tracker lists many members that refuse it (they announced the channel but serve no
 * descriptor, as viewers that have just come do) still reaches the one that serves, and dials each
 * refuser less and less often instead of every redial interval. Real TLS between in-process nodes.
 */
import { expect } from 'chai';
import { startPpspNet, type PpspNet } from '../../../helpers/ppsp-net.js';
import { waitFor } from '../../../helpers/wait.js';

const REDIAL_MS = 300;
const REFUSERS = 6;

describe('live channel: dialling members that refuse', function () {
  this.timeout(60_000);
  let net: PpspNet | undefined;
  afterEach(async () => {
    await net?.stop();
    net = undefined;
  });

  it('a viewer with room for 2 peers among 6 refusers reaches the source, and backs off from each refuser', async () => {
    const viewerIndex = REFUSERS + 1;
    const dials = new Map<string, number>();
    net = await startPpspNet(REFUSERS + 2, {
      live: { maxPeers: 2, redialIntervalMs: REDIAL_MS },
      data: (i) =>
        i !== viewerIndex
          ? {}
          : {
              wrapLink: (link) => {
                dials.set(link.remoteNodeIdHex, (dials.get(link.remoteNodeIdHex) ?? 0) + 1);
                return link;
              },
            },
    });
    const source = await net.usages[0]!.live.broadcast({ name: 'dialling', chunkSize: 4096 });
    const feed = setInterval(() => source.write(Buffer.alloc(2048, 3)), 31);
    try {
      // Members of the channel in the tracker with no live swarm behind them: every handshake is refused.
      for (let i = 1; i <= REFUSERS; i++) await net.usages[i]!.signalling.joinSwarm(source.swarmId, { live: true });
      const startedAt = Date.now();
      const viewer = (await net.usages[viewerIndex]!.live.watch(source.swarmId)).swarm;
      await waitFor(() => (viewer.playback?.figures(Date.now()).chunksOnTime ?? 0) > 10, 30_000, 'the viewer plays');
      await new Promise((r) => setTimeout(r, 3000));
      const elapsed = Date.now() - startedAt;
      // Backoff doubling from the redial interval: the n-th dial comes at least REDIAL·(2^(n-1) - 1) after the first.
      const most = 1 + Math.ceil(Math.log2(elapsed / REDIAL_MS + 1));
      const refusers = net.net.nodes.slice(1, REFUSERS + 1).map((n) => n.nodeIdHex);
      const counts = refusers.map((r) => dials.get(r) ?? 0);
      expect(counts.every((c) => c <= most), `dials per refuser ${counts.join(', ')} in ${elapsed} ms; at most ${most} with backoff`).to.equal(true);
      expect(counts.reduce((a, b) => a + b), 'the refusers were tried').to.be.greaterThan(0);
      expect(viewer.figures().peers).to.include(net.net.nodes[0]!.nodeIdHex);
    } finally {
      clearInterval(feed);
    }
  });
});
