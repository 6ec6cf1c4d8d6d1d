import { expect } from 'chai';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { callApi } from '../../scripts/api-client.js';
import { startNodeProcess, type NodeProcess } from '../../scripts/node-process.js';
import { createOverlayDir } from '../helpers/overlay-dir.js';
import { settleApis } from '../helpers/settle.js';

const OVERLAY = 'silent-peer.test';
const CHORD = { updateIntervalMs: 500, fingerIntervalMs: 1000, neighbourTimeoutMs: 2000 };
const NODES = 4;

/**
 * A peer that stops answering while its TCP connections stay open (SIGSTOP: a hung process, or a
 * machine gone without a FIN) is noticed only by the neighbour timeout, not by a closed socket.
 * Real `reload-ppsp node` processes; the survivors' ring must equal the ground truth without it.
 */
describe('a silent peer: a node process stopped with SIGSTOP, its connections still open', function () {
  this.timeout(120_000);
  let dir: string;
  const nodes: NodeProcess[] = [];

  before(async () => {
    const names = Array.from({ length: NODES }, (_, i) => `n${i + 1}`);
    let config: string;
    ({ dir, config } = await createOverlayDir({ overlay: OVERLAY, names, patch: (doc) => (doc.chord = { ...(doc.chord as object), ...CHORD }) }));
    for (const name of names) nodes.push(await startNodeProcess({ config, identity: join(dir, name), bootstrap: nodes[0] ? [nodes[0].listen] : [] }));
    await settleApis(nodes.map((n) => n.api), 3);
  });

  after(async () => {
    for (const n of nodes) {
      // A stopped process cannot act on SIGTERM: wake it so that it exits.
      n.child.kill('SIGCONT');
      await n.stop();
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('is dropped by the neighbour timeout: the others settle to the ground truth without it and ping each other', async () => {
    const silent = nodes[2]!;
    const others = nodes.filter((n) => n !== silent);
    silent.child.kill('SIGSTOP');
    // Its sockets stay open, so nothing but the neighbour timeout can tell the others.
    await settleApis(others.map((n) => n.api), 3, 20 * CHORD.neighbourTimeoutMs);
    for (const from of others) {
      for (const to of others) {
        if (to === from) continue;
        const r = (await callApi(from.api, 'POST', '/ping', { destination: to.nodeId })) as { destination: string };
        expect(r.destination).to.equal(to.nodeId);
      }
    }
    const status = (await callApi(others[0]!.api, 'GET', '/status')) as { links: { nodeId: string }[] };
    expect(status.links.map((l) => l.nodeId)).not.to.include(silent.nodeId);
  });
});
