/**
 * `reload-ppsp node --ppspp-transport IP:PORT`: node processes that offer ppspp move a swarm's data
 * over PPSPP datagrams (RFC 7574 over UDP), and a `seed --tls-only` swarm over TLS only.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { callApi } from '../../scripts/api-client.js';
import { startNodeProcess, type NodeProcess } from '../../scripts/node-process.js';
import { runCli } from '../helpers/cli.js';
import { settleApis } from '../helpers/settle.js';

type Opened = Record<'direct' | 'reversed' | 'punched' | 'relayed' | 'overlay' | 'ppspp', number>;

describe('CLI: swarms over the ppspp transport (node --ppspp-transport)', function () {
  this.timeout(180_000);
  let dir: string;
  const nodes: NodeProcess[] = [];
  let content: Buffer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reload-cli-ppspp-transport-'));
    expect((await runCli(['ca', 'init', '--dir', join(dir, 'ca'), '--overlay', 'udp.test'])).code).to.equal(0);
    for (const name of ['n1', 'n2', 'n3']) {
      const r = await runCli(['enroll', '--ca', join(dir, 'ca'), '--user', `${name}@udp.test`, '--out', join(dir, name)]);
      expect(r.code, r.stderr).to.equal(0);
      nodes.push(await startNodeProcess({ config: join(dir, 'ca', 'overlay.json'), identity: join(dir, name), bootstrap: nodes[0] ? [nodes[0].listen] : [], extraArgs: ['--ppspp-transport', '127.0.0.1:0'] }));
    }
    await settleApis(nodes.map((n) => n.api), 3);
    content = randomBytes(1024 * 1024 + 4321);
    await writeFile(join(dir, 'movie.bin'), content);
  });

  after(async () => {
    const codes = await Promise.all(nodes.map((n) => n.stop()));
    expect(codes.every((c) => c === 0), `exit codes ${codes}`).to.equal(true);
    await rm(dir, { recursive: true, force: true });
  });

  const opened = async (node: NodeProcess) => ((await callApi(node.api, 'GET', '/swarms')) as { channelsOpened: Opened }).channelsOpened;
  const tls = (o: Opened) => o.direct + o.reversed + o.punched + o.relayed;

  it('a swarm seeded on one node is fetched by two others over ppspp only, byte-identical', async () => {
    const seeded = await runCli(['seed', join(dir, 'movie.bin'), '--api', nodes[0]!.api]);
    expect(seeded.code, seeded.stderr).to.equal(0);
    const swarmId = seeded.stdout.trim();
    const gets = await Promise.all([1, 2].map((i) => runCli(['get', swarmId, '--out', join(dir, `copy${i}.bin`), '--api', nodes[i]!.api, '--json'], { timeoutMs: 120_000 })));
    for (const [k, g] of gets.entries()) {
      expect(g.code, g.stderr).to.equal(0);
      expect((await readFile(join(dir, `copy${k + 1}.bin`))).equals(content), `copy${k + 1}`).to.equal(true);
    }
    const offered = ((await callApi(nodes[0]!.api, 'GET', '/swarms')) as { transports: { type: string; address?: string }[] }).transports;
    expect(offered[0]?.type, 'the most preferred transport').to.equal('ppspp');
    expect(offered[0]?.address).to.match(/^127\.0\.0\.1:\d+$/);
    for (const node of nodes.slice(1)) {
      const o = await opened(node);
      expect(o.ppspp, 'ppspp channels opened').to.be.greaterThan(0);
      expect(tls(o) + o.overlay, 'other channels opened').to.equal(0);
    }
  });

  it('a --tls-only swarm gets its own swarm ID and travels over tls between the same nodes', async () => {
    const open = await runCli(['seed', join(dir, 'movie.bin'), '--api', nodes[0]!.api]);
    const seeded = await runCli(['seed', join(dir, 'movie.bin'), '--tls-only', '--api', nodes[0]!.api]);
    expect(seeded.code, seeded.stderr).to.equal(0);
    const swarmId = seeded.stdout.trim();
    expect(swarmId).to.match(/^[0-9a-f]{64}$/).and.to.not.equal(open.stdout.trim());
    const before = await opened(nodes[1]!);
    const got = await runCli(['get', swarmId, '--out', join(dir, 'private.bin'), '--api', nodes[1]!.api, '--json'], { timeoutMs: 120_000 });
    expect(got.code, got.stderr).to.equal(0);
    expect((await readFile(join(dir, 'private.bin'))).equals(content)).to.equal(true);
    const after = await opened(nodes[1]!);
    expect(after.ppspp - before.ppspp, 'ppspp channels opened').to.equal(0);
    expect(tls(after) - tls(before), 'tls channels opened').to.be.greaterThan(0);
  });

  it('refuses a --ppspp-transport that peers could not be told (exit 2) or that is taken (exit 1), in one line', async () => {
    for (const [value, message] of [
      ['0.0.0.0:7780', /not the wildcard/],
      ['localhost:7780', /give an IP address/],
      ['127.0.0.1', /is not HOST:PORT/],
    ] as const) {
      const r = await runCli(['node', '--config', join(dir, 'ca', 'overlay.json'), '--identity', join(dir, 'n1'), '--ppspp-transport', value]);
      expect(r.code, value).to.equal(2);
      expect(r.stderr.trim().split('\n'), value).to.have.length(1);
      expect(r.stderr, value).to.match(message);
    }
    // A port another program holds: the node stops with one line that says what to do, exit 1.
    const taken = createSocket('udp4');
    await new Promise<void>((resolve) => taken.bind(0, '127.0.0.1', resolve));
    try {
      const at = `127.0.0.1:${taken.address().port}`;
      const r = await runCli(['node', '--config', join(dir, 'ca', 'overlay.json'), '--identity', join(dir, 'n1'), '--data', join(dir, 'n1-taken'), '--ppspp-transport', at]);
      expect(r.code).to.equal(1);
      expect(r.stderr.trim().split('\n').at(-1)).to.equal(`reload-ppsp: cannot listen for the ppspp transport on ${at}: the port is taken: pick another, or 0 for any free one`);
    } finally {
      taken.close();
    }
  });
});
