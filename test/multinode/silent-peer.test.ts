import { expect } from 'chai';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { callApi } from '../../scripts/api-client.js';
import { startNodeProcess, type NodeProcess } from '../../scripts/node-process.js';
import { runCli } from '../helpers/cli.js';
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
    dir = await mkdtemp(join(tmpdir(), 'reload-silent-'));
    const init = await runCli(['ca', 'init', '--dir', join(dir, 'ca'), '--overlay', OVERLAY]);
    expect(init.code, init.stderr).to.equal(0);
    const config = join(dir, 'ca', 'overlay.json');
    const doc = JSON.parse(await readFile(config, 'utf8')) as { chord: object };
    doc.chord = { ...doc.chord, ...CHORD };
    await writeFile(config, JSON.stringify(doc));
    for (let i = 1; i <= NODES; i++) {
      const r = await runCli(['enroll', '--ca', join(dir, 'ca'), '--user', `n${i}@${OVERLAY}`, '--out', join(dir, `n${i}`)], { timeoutMs: 60_000 });
      expect(r.code, r.stderr).to.equal(0);
      nodes.push(await startNodeProcess({ config, identity: join(dir, `n${i}`), bootstrap: nodes[0] ? [nodes[0].listen] : [] }));
    }
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
