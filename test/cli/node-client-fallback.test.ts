/**
 * `reload-ppsp node` as real processes over TLS on loopback: a node that nobody can dial and that
 * finds no relay joins as a client on its own, says so, and still reaches the overlay and is
 * reached through its peer. It listens on 127.0.0.2 and dials out from 127.0.0.1, so its peers see
 * it where nothing listens for it; the overlay's only peer relays for nobody (links.relayCircuits 0).
 */
import { expect } from 'chai';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startNodeProcess, type NodeProcess } from '../../scripts/node-process.js';
import { runCli } from '../helpers/cli.js';
import { createOverlayDir, type OverlayDir } from '../helpers/overlay-dir.js';

describe('CLI: node falls back to a client when nobody can reach it', function () {
  this.timeout(120_000);
  let overlay: OverlayDir;
  const nodes: NodeProcess[] = [];
  const logs: string[] = [];

  before(async () => {
    overlay = await createOverlayDir({
      overlay: 'fallback.test',
      names: ['peer', 'hidden'],
      patch: (doc) => {
        doc.links = { relayCircuits: 0 };
      },
    });
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await rm(overlay.dir, { recursive: true, force: true });
  });

  it('joins as a client, says why, and pings and is pinged through its peer', async () => {
    const peer = await startNodeProcess({ config: overlay.config, identity: join(overlay.dir, 'peer') });
    nodes.push(peer);
    const hidden = await startNodeProcess({ config: overlay.config, identity: join(overlay.dir, 'hidden'), listen: '127.0.0.2:0', bootstrap: [peer.listen], onLog: (l) => logs.push(l) });
    nodes.push(hidden);
    expect(logs.join('\n')).to.match(/cannot be dialled and found no relay: peers behind NATs could not link to it, so it can take part only as a client: joining as a client/);
    const status = await runCli(['status', '--api', hidden.api, '--json']);
    expect(status.code, status.stderr).to.equal(0);
    const s = JSON.parse(status.stdout) as { state: string; role: string; successors: string[]; reachability: { dialable: boolean; relay: unknown } };
    expect(s).to.deep.include({ state: 'joined', role: 'client', successors: [peer.nodeId] });
    expect(s.reachability).to.deep.include({ dialable: false, relay: null });
    const out = await runCli(['ping', peer.nodeId, '--api', hidden.api]);
    expect(out.code, out.stderr).to.equal(0);
    const back = await runCli(['ping', hidden.nodeId, '--api', peer.api]);
    expect(back.code, back.stderr).to.equal(0);
    // The peer is still a peer: it could be dialled.
    const p = JSON.parse((await runCli(['status', '--api', peer.api, '--json'])).stdout) as { role: string };
    expect(p.role).to.equal('peer');
  });
});
