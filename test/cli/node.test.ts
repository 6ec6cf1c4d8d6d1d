import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNodeProcess, type NodeProcess } from '../../scripts/node-process.js';
import { settleApis } from '../helpers/settle.js';
import { runCli } from '../helpers/cli.js';

/** `reload-ppsp node`, `status` and `ping` as real processes, driven only through the CLI and the API. */
describe('CLI: node, status, ping', function () {
  this.timeout(90_000);
  let dir: string;
  const nodes: NodeProcess[] = [];
  const ids: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reload-cli-node-'));
    const init = await runCli(['ca', 'init', '--dir', join(dir, 'ca'), '--overlay', 'cli.test']);
    expect(init.code, init.stderr).to.equal(0);
    for (const name of ['n1', 'n2', 'n3']) {
      const r = await runCli(['enroll', '--ca', join(dir, 'ca'), '--user', `${name}@cli.test`, '--out', join(dir, name), '--json']);
      expect(r.code, r.stderr).to.equal(0);
      ids.push((JSON.parse(r.stdout) as { nodeId: string }).nodeId);
    }
  });

  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await rm(dir, { recursive: true, force: true });
  });

  it('starts nodes that print "ready", link by --bootstrap and ping each other over TLS', async () => {
    const config = join(dir, 'ca', 'overlay.json');
    nodes.push(await startNodeProcess({ config, identity: join(dir, 'n1') }));
    for (const name of ['n2', 'n3']) nodes.push(await startNodeProcess({ config, identity: join(dir, name), bootstrap: [nodes[0]!.listen] }));
    expect(nodes.map((n) => n.nodeId)).to.deep.equal(ids);
    await settleApis(nodes.map((n) => n.api), 3);

    const status = await runCli(['status', '--api', nodes[0]!.api, '--json']);
    expect(status.code, status.stderr).to.equal(0);
    const s = JSON.parse(status.stdout) as { nodeId: string; state: string; links: { nodeId: string }[] };
    expect(s.nodeId).to.equal(ids[0]);
    expect(s.state).to.equal('joined');
    expect(s.links.map((l) => l.nodeId).sort()).to.deep.equal([ids[1], ids[2]].sort());

    const human = await runCli(['status', '--api', nodes[1]!.api]);
    expect(human.stdout).to.match(new RegExp(`^node\\s+${ids[1]} \\(n2@cli.test\\)$`, 'm'));
    expect(human.stdout).to.match(/^links\s+2$/m);
    expect(human.stdout).to.match(/^successors\s+[0-9a-f]{32} [0-9a-f]{32}$/m);

    for (const [from, to] of [[1, 0], [2, 0], [0, 1], [0, 2]] as const) {
      const ping = await runCli(['ping', ids[to]!, '--api', nodes[from]!.api, '--json']);
      expect(ping.code, ping.stderr).to.equal(0);
      expect(JSON.parse(ping.stdout)).to.include({ destination: ids[to], hops: 1 });
    }
    const text = await runCli(['ping', ids[0]!, '--api', nodes[1]!.api]);
    expect(text.stdout).to.match(new RegExp(`^reply from ${ids[0]}: hops=1 time=\\d+ ms$`, 'm'));
  });

  it('reports an unreachable Node-ID with the RELOAD error and exit code 1', async () => {
    const r = await runCli(['ping', 'ab'.repeat(16), '--api', nodes[1]!.api]);
    expect(r.code).to.equal(1);
    expect(r.stderr.trim().split('\n')).to.have.length(1);
    expect(r.stderr).to.match(/^reload-ppsp: Not_Found: no route/);
  });

  it('stops cleanly on SIGTERM with exit code 0', async () => {
    const n = nodes.pop()!;
    expect(await n.stop()).to.equal(0);
    const s = JSON.parse((await runCli(['status', '--api', nodes[0]!.api, '--json'])).stdout) as { links: unknown[] };
    expect(s.links).to.have.length(1);
  });

  it('turns user mistakes into one line on stderr and a non-zero exit', async () => {
    const config = join(dir, 'ca', 'overlay.json');
    const cases: [string[], number, RegExp][] = [
      [['node', '--identity', join(dir, 'n1')], 2, /missing --config/],
      [['node', '--config', config, '--identity', join(dir, 'nobody')], 1, /cannot read .*node\.key.*reload-ppsp enroll/],
      [['node', '--config', join(dir, 'nope.json'), '--identity', join(dir, 'n1')], 1, /cannot read overlay config/],
      [['node', '--config', config, '--identity', join(dir, 'n1'), '--listen', 'localhost'], 2, /--listen: "localhost" is not HOST:PORT/],
      [['node', '--config', config, '--identity', join(dir, 'n1'), '--frobnicate'], 2, /Unknown option '--frobnicate'/],
      [['status', '--api', '127.0.0.1:1'], 1, /cannot reach the node API at 127\.0\.0\.1:1/],
      [['ping', 'xyz', '--api', nodes[0]!.api], 1, /not a Node-ID/],
      [['ping', '--api', nodes[0]!.api], 2, /exactly one NODE-ID/],
      [['frobnicate'], 2, /unknown command "frobnicate"/],
    ];
    for (const [args, code, message] of cases) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).to.equal(code);
      expect(r.stderr.trim().split('\n'), r.stderr).to.have.length(1);
      expect(r.stderr, args.join(' ')).to.match(message);
      expect(r.stderr).not.to.match(/\n\s+at /);
    }
  });

  it('prints help for every command with --help and exit code 0', async () => {
    for (const cmd of [['node'], ['status'], ['ping'], ['demo'], ['bench'], ['ca', 'init'], ['enroll']]) {
      const r = await runCli([...cmd, '--help']);
      expect(r.code, cmd.join(' ')).to.equal(0);
      expect(r.stdout).to.match(new RegExp(`^Usage: reload-ppsp ${cmd.join(' ')}`));
    }
  });
});
