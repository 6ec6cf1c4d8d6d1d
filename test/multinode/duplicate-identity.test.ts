import { expect } from 'chai';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { callApi } from '../../scripts/api-client.js';
import { startNodeProcess, type NodeProcess } from '../../scripts/node-process.js';
import { settleApis } from '../helpers/settle.js';
import { runCli } from '../helpers/cli.js';

const OVERLAY = 'duplicate.test';

interface Status {
  nodeId: string;
  state: string;
  links: { nodeId: string; address: string }[];
}

/**
 * One Node-ID is one node: a second `reload-ppsp node` process with an identity that is in the
 * overlay already is refused and exits non-zero with the reason, and the node that holds the place
 * keeps its links and its storage. Real processes, driven through the CLI and the API only.
 */
describe('a second process with the same identity', function () {
  this.timeout(120_000);
  let dir: string;
  let config: string;
  let a: NodeProcess;
  let b: NodeProcess;
  const nodes: NodeProcess[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reload-duplicate-'));
    const init = await runCli(['ca', 'init', '--dir', join(dir, 'ca'), '--overlay', OVERLAY]);
    expect(init.code, init.stderr).to.equal(0);
    config = join(dir, 'ca', 'overlay.json');
    const doc = JSON.parse(await readFile(config, 'utf8')) as { chord: Record<string, number>; reliabilityTimerMs: number };
    doc.chord = { ...doc.chord, updateIntervalMs: 500, neighbourTimeoutMs: 2000 };
    // The refused process learns why from the answer to its next retransmission.
    doc.reliabilityTimerMs = 1000;
    await writeFile(config, JSON.stringify(doc));
    for (const name of ['a', 'b']) {
      const r = await runCli(['enroll', '--ca', join(dir, 'ca'), '--user', `${name}@${OVERLAY}`, '--out', join(dir, name)]);
      expect(r.code, r.stderr).to.equal(0);
    }
    nodes.push((a = await startNodeProcess({ config, identity: join(dir, 'a') })));
    nodes.push((b = await startNodeProcess({ config, identity: join(dir, 'b'), bootstrap: [a.listen] })));
    await settleApis(nodes.map((n) => n.api), 3);
  });

  after(async () => {
    const codes = await Promise.all(nodes.map((n) => n.stop()));
    await rm(dir, { recursive: true, force: true });
    expect(codes, 'exit codes after SIGTERM').to.deep.equal(nodes.map(() => 0));
  });

  const status = (n: NodeProcess) => callApi(n.api, 'GET', '/status') as Promise<Status>;

  /** B is joined, linked with A (and A with B, at B's own address), and storage through B works. */
  async function bHoldsItsPlace(value: string): Promise<void> {
    const sb = await status(b);
    expect(sb.state).to.equal('joined');
    expect(sb.links.map((l) => l.nodeId)).to.deep.equal([a.nodeId]);
    const sa = await status(a);
    expect(sa.links.map((l) => l.nodeId)).to.deep.equal([b.nodeId]);
    // A's link to B's Node-ID is still the one to process B: a ping from A reaches B, which
    // answers, and a value stored through B is found through A.
    expect(((await callApi(a.api, 'POST', '/ping', { destination: b.nodeId })) as { destination: string }).destination).to.equal(b.nodeId);
    const resource = `b@${OVERLAY}`;
    const stored = await runCli(['store', '--api', b.api, '--kind', 'user-value', '--resource', resource, '--value', value, '--json']);
    expect(stored.code, stored.stderr).to.equal(0);
    expect((JSON.parse(stored.stdout) as { replicas: string[] }).replicas.length).to.be.at.least(1);
    const fetched = await runCli(['fetch', '--api', a.api, '--kind', 'user-value', '--resource', resource]);
    expect(fetched.code, fetched.stderr).to.equal(0);
    expect(fetched.stdout).to.match(new RegExp(`^${value}  \\(signer b@${OVERLAY} ${b.nodeId}, `));
  }

  /**
   * Runs a second node with B's identity; it must exit 1 with the one-line reason. It has a data
   * directory of its own, as a copy of the identity on another machine would: B's own is locked
   * to B's process (test/cli/node-data.test.ts), and here the overlay must tell.
   */
  async function duplicateRefused(bootstrap: string, data: string): Promise<void> {
    const r = await runCli(['node', '--config', config, '--identity', join(dir, 'b'), '--data', join(dir, data), '--bootstrap', bootstrap], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stdout).not.to.match(/^ready/m);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('reload-ppsp: '));
    expect(errors, r.stderr).to.have.length(1);
    expect(errors[0]).to.match(new RegExp(`^reload-ppsp: Forbidden: Node-ID ${b.nodeId} is already in the overlay \\(another process runs this identity\\?\\)`));
    expect(r.stderr).not.to.match(/\n\s+at /);
  }

  it('bootstrapping through another node: refused with the reason and exit 1; the first keeps its links and storage', async () => {
    await bHoldsItsPlace('before');
    await duplicateRefused(a.listen, 'copy-1');
    await bHoldsItsPlace('after');
  });

  it('bootstrapping through the node itself: refused with the reason and exit 1; the first keeps its links and storage', async () => {
    await duplicateRefused(b.listen, 'copy-2');
    await bHoldsItsPlace('again');
  });
});
