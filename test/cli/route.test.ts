import { expect } from 'chai';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { idFromHex, idToHex, resourceIdOf } from '../../overlay/id.js';
import { settleApis } from '../helpers/settle.js';
import { startNodeProcess, type NodeProcess } from '../../scripts/node-process.js';
import { runCli } from '../helpers/cli.js';
import { createOverlayDir } from '../helpers/overlay-dir.js';
import { RingTruth } from '../helpers/testnet.js';

const OVERLAY = 'route.test';

/** `reload-ppsp route` against three real node processes, checked against the ring's ground truth. */
describe('CLI: route', function () {
  this.timeout(90_000);
  let dir: string;
  let truth: RingTruth;
  const nodes: NodeProcess[] = [];

  before(async () => {
    const names = ['n1', 'n2', 'n3'];
    let config: string;
    let nodeIds: Record<string, string>;
    ({ dir, config, nodeIds } = await createOverlayDir({ overlay: OVERLAY, names, patch: (doc) => (doc.chord = { ...(doc.chord as object), updateIntervalMs: 500, neighbourTimeoutMs: 2000 }) }));
    for (const name of names) nodes.push(await startNodeProcess({ config, identity: join(dir, name), bootstrap: nodes[0] ? [nodes[0].listen] : [] }));
    truth = new RingTruth(names.map((name) => idFromHex(nodeIds[name]!)));
    // Routing is checked against the ground truth once the ring is.
    await settleApis(nodes.map((n) => n.api), 3);
  });

  after(async () => {
    const codes = await Promise.all(nodes.map((n) => n.stop()));
    await rm(dir, { recursive: true, force: true });
    expect(codes).to.deep.equal([0, 0, 0]);
  });

  it('routes a name to the responsible node: NAME -> resource id, responsible node, hops, time', async () => {
    for (const [i, name] of ['alice@route.test', 'bob@route.test', 'carol@route.test'].entries()) {
      const r = await runCli(['route', name, '--api', nodes[i]!.api]);
      expect(r.code, r.stderr).to.equal(0);
      const resource = idToHex(resourceIdOf(name, 'sha1'));
      const m = new RegExp(`^${name} -> ${resource} responsible ([0-9a-f]{32}) hops=(\\d+) time=\\d+ ms$`).exec(r.stdout.trim());
      expect(m, r.stdout).to.not.equal(null);
      expect(m![1]).to.equal(truth.responsible(resourceIdOf(name, 'sha1')));
      // In a 3-node ring every node is a neighbour: 1 hop, or 0 when the asked node owns the name.
      expect(Number(m![2])).to.equal(m![1] === nodes[i]!.nodeId ? 0 : 1);
    }
  });

  it('takes a Resource-ID in hex and prints JSON with --json', async () => {
    const resource = nodes[1]!.nodeId; // a node's own id: that node is responsible for it
    const r = await runCli(['route', resource.toUpperCase(), '--api', nodes[0]!.api, '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(j).to.include({ name: resource.toUpperCase(), resource, responsible: resource });
    expect(j.hops).to.be.a('number');
    expect(j.rttMs).to.be.a('number');
  });

  it('hashes names with the overlay\'s hash (sha1 by default)', async () => {
    const r = await runCli(['route', 'alice@route.test', '--api', nodes[0]!.api, '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const resource = resourceIdOf('alice@route.test', 'sha1');
    expect(JSON.parse(r.stdout)).to.include({ resource: idToHex(resource), responsible: truth.responsible(resource) });
  });

  it('turns mistakes into one line on stderr and a non-zero exit', async () => {
    const cases: [string[], number, RegExp][] = [
      [['route', '--api', nodes[0]!.api], 2, /exactly one NAME or Resource-ID/],
      [['route', 'a', 'b', '--api', nodes[0]!.api], 2, /route takes only NAME-OR-HEX; unexpected "b"/],
      [['route', 'alice'], 2, /missing --api/],
      [['route', 'alice', '--api', '127.0.0.1:1'], 1, /cannot reach the node API at 127\.0\.0\.1:1/],
    ];
    for (const [args, code, message] of cases) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).to.equal(code);
      expect(r.stderr.trim().split('\n'), r.stderr).to.have.length(1);
      expect(r.stderr, args.join(' ')).to.match(message);
    }
    const help = await runCli(['route', '--help']);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.match(/^Usage: reload-ppsp route NAME-OR-HEX/);
  });
});
