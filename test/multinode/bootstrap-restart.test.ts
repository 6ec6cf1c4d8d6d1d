import { expect } from 'chai';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { callApi } from '../../scripts/api-client.js';
import { startNodeProcess, type NodeProcess } from '../../scripts/node-process.js';
import { freePort, runCli } from '../helpers/cli.js';
import { settleApis } from '../helpers/settle.js';

const OVERLAY = 'restart.test';
const CHORD = { updateIntervalMs: 500, fingerIntervalMs: 1000, neighbourTimeoutMs: 2000 };
/**
 * Bound on the overlay being whole again after the bootstrap node is back: the reconnection
 * backoff reaches 4-8 s by the time a restarted process is up (tsx start-up, RSA), plus a join.
 */
const HEAL_BOUND_MS = 40_000;

interface Status {
  nodeId: string;
  state: string;
  successors: string[];
  predecessors: string[];
  links: { nodeId: string }[];
}

/**
 * The bootstrap node restarted the README way (stopped, then started again with the same identity
 * and port) while a second node had joined through it: the second node notices it has lost the
 * overlay (state `disconnected`, stores refused), keeps trying its bootstrap node with backoff,
 * and joins again, so that the overlay is whole. Before, it stayed `joined` with no links and
 * the overlay split for good. Real processes, driven through the CLI and the API only.
 */
describe('restarting the bootstrap node', function () {
  this.timeout(180_000);
  let dir: string;
  let config: string;
  let port: number;
  let neighbourCount: number;
  let a: NodeProcess;
  let b: NodeProcess;
  const nodes = new Set<NodeProcess>();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reload-restart-'));
    const init = await runCli(['ca', 'init', '--dir', join(dir, 'ca'), '--overlay', OVERLAY]);
    expect(init.code, init.stderr).to.equal(0);
    config = join(dir, 'ca', 'overlay.json');
    const doc = JSON.parse(await readFile(config, 'utf8')) as { chord: Record<string, number> };
    doc.chord = { ...doc.chord, ...CHORD };
    neighbourCount = doc.chord.neighbourCount!;
    await writeFile(config, JSON.stringify(doc));
    const ids: string[] = [];
    for (const name of ['a', 'b']) {
      const r = await runCli(['enroll', '--ca', join(dir, 'ca'), '--user', `${name}@${OVERLAY}`, '--out', join(dir, name), '--json']);
      expect(r.code, r.stderr).to.equal(0);
      ids.push((JSON.parse(r.stdout) as { nodeId: string }).nodeId);
    }
    port = await freePort();
    a = await startA();
    b = await startNodeProcess({ config, identity: join(dir, 'b'), bootstrap: [`127.0.0.1:${port}`] });
    nodes.add(b);
    // The ring the waits below compare with is made of the Node-IDs the CA issued.
    expect([a.nodeId, b.nodeId]).to.deep.equal(ids);
  });

  after(async () => {
    const codes = await Promise.all([...nodes].map((n) => n.stop()));
    await rm(dir, { recursive: true, force: true });
    expect(codes, 'exit codes after SIGTERM').to.deep.equal([...nodes].map(() => 0));
  });

  async function startA(): Promise<NodeProcess> {
    const n = await startNodeProcess({ config, identity: join(dir, 'a'), listen: `127.0.0.1:${port}` });
    nodes.add(n);
    return n;
  }

  const status = (n: NodeProcess) => callApi(n.api, 'GET', '/status') as Promise<Status>;

  /** Polls until the overlay is whole (bounded), then pings both ways through the API. */
  async function expectWhole(boundMs: number): Promise<void> {
    await settleApis([a.api, b.api], neighbourCount, boundMs);
    for (const [from, to] of [[a, b], [b, a]] as const) {
      const r = (await callApi(from.api, 'POST', '/ping', { destination: to.nodeId })) as { destination: string };
      expect(r.destination).to.equal(to.nodeId);
    }
  }

  /** B, alone: not `joined`, and a store through it is an error (exit 1), not replicas=0. */
  async function expectBOutOfOverlay(): Promise<void> {
    const deadline = Date.now() + 10_000;
    let s: Status;
    while ((s = await status(b)).state !== 'disconnected' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(s.state).to.equal('disconnected');
    expect(s.links).to.deep.equal([]);
    const r = await runCli(['store', '--api', b.api, '--kind', 'user-value', '--resource', `b@${OVERLAY}`, '--value', 'lost?']);
    expect(r.code, r.stdout).to.equal(1);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.match(/^reload-ppsp: Not_Found: this node is not in the overlay: it lost every link and is getting back in \(state disconnected\)\n$/);
  }

  it('the second node joined through the bootstrap node: the overlay is whole', async () => {
    await expectWhole(15_000);
  });

  it('bootstrap stopped with SIGTERM (it leaves) and started again: the second node is out, then back, and the overlay is whole', async () => {
    expect(await a.stop()).to.equal(0);
    nodes.delete(a);
    await expectBOutOfOverlay();
    a = await startA();
    await expectWhole(HEAL_BOUND_MS);
  });

  it('bootstrap killed with SIGKILL (no Leave) and started again: the same', async () => {
    const exited = once(a.child, 'exit');
    a.child.kill('SIGKILL');
    await exited;
    nodes.delete(a);
    await expectBOutOfOverlay();
    a = await startA();
    await expectWhole(HEAL_BOUND_MS);
  });
});
