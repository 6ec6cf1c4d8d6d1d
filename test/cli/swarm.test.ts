import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNodeProcess, type NodeProcess } from '../../scripts/node-process.js';
import { ApiError, callApi } from '../../scripts/api-client.js';
import { settleApis } from '../helpers/settle.js';
import { runCli, startCli } from '../helpers/cli.js';
import { waitForAsync } from '../helpers/wait.js';

/** `reload-ppsp seed` and `get` against real node processes: the whole PPSP path as users run it. */
describe('CLI: seed and get', function () {
  this.timeout(180_000);
  let dir: string;
  const nodes: NodeProcess[] = [];
  let content: Buffer;
  /** The first node's log lines (it seeds). */
  const seederLog: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reload-cli-swarm-'));
    expect((await runCli(['ca', 'init', '--dir', join(dir, 'ca'), '--overlay', 'swarm.test'])).code).to.equal(0);
    const config = join(dir, 'ca', 'overlay.json');
    for (const name of ['s1', 'l1', 'l2', 'l3']) {
      const r = await runCli(['enroll', '--ca', join(dir, 'ca'), '--user', `${name}@swarm.test`, '--out', join(dir, name)]);
      expect(r.code, r.stderr).to.equal(0);
      const onLog = name === 's1' ? (line: string) => seederLog.push(line) : undefined;
      nodes.push(await startNodeProcess({ config, identity: join(dir, name), bootstrap: nodes[0] ? [nodes[0].listen] : [], onLog }));
    }
    await settleApis(nodes.map((n) => n.api), 3);
    content = randomBytes(2 * 1024 * 1024 + 12345);
    await writeFile(join(dir, 'movie.bin'), content);
  });

  after(async () => {
    const codes = await Promise.all(nodes.map((n) => n.stop()));
    expect(codes.every((c) => c === 0), `exit codes ${codes}`).to.equal(true);
    await rm(dir, { recursive: true, force: true });
  });

  it('seeds a file and prints its swarm ID; three leechers get it at once, byte-identical, exit 0', async () => {
    const seeded = await runCli(['seed', join(dir, 'movie.bin'), '--api', nodes[0]!.api]);
    expect(seeded.code, seeded.stderr).to.equal(0);
    const swarmId = seeded.stdout.trim();
    expect(swarmId).to.match(/^[0-9a-f]{64}$/);
    const gets = await Promise.all(
      [1, 2, 3].map((i) => runCli(['get', swarmId, '--out', join(dir, `copy${i}.bin`), '--api', nodes[i]!.api, '--json'], { timeoutMs: 120_000 })),
    );
    for (const [k, g] of gets.entries()) {
      expect(g.code, g.stderr).to.equal(0);
      const result = JSON.parse(g.stdout) as { complete: boolean; have: number; total: number; corruptCaught: number };
      expect(result).to.include({ complete: true, corruptCaught: 0 });
      expect(result.have).to.equal(result.total);
      expect((await readFile(join(dir, `copy${k + 1}.bin`))).equals(content), `copy${k + 1}`).to.equal(true);
    }
    // Without --json, progress lines go to stderr and a summary to stdout.
    const again = await runCli(['get', swarmId, '--out', join(dir, 'copy1.bin'), '--api', nodes[1]!.api, '--force']);
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout).to.match(/^downloaded .*copy1\.bin: \d+ chunks verified/m);
  });

  it('refuses bad input with one line and a non-zero exit, and gives up on a swarm nobody seeds', async () => {
    const api = nodes[1]!.api;
    const cases: [string[], number, RegExp][] = [
      [['seed', join(dir, 'nope.bin'), '--api', api], 2, /is not a readable file/],
      [['get', 'xyz', '--out', join(dir, 'x.bin'), '--api', api], 2, /not a swarm ID/],
      [['get', 'ab'.repeat(32), '--api', api], 2, /missing --out/],
      [['get', 'ab'.repeat(32), '--out', join(dir, 'movie.bin'), '--api', api], 2, /exists; pass --force/],
      [['get', 'cd'.repeat(32), '--out', join(dir, 'never.bin'), '--api', api, '--stall-timeout', '2'], 1, /no new chunk for 2 s .*is anyone seeding it/],
    ];
    for (const [args, code, message] of cases) {
      const r = await runCli(args, { timeoutMs: 60_000 });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).to.equal(code);
      expect(r.stderr.trim().split('\n').at(-1), args.join(' ')).to.match(message);
      expect(r.stderr).not.to.match(/\n\s+at /);
    }
  });

  /** Writes `bytes` random bytes to `name` in the test directory and seeds them on the first node. */
  async function seeded(name: string, bytes: number): Promise<{ swarmId: string; path: string; data: Buffer }> {
    const data = randomBytes(bytes);
    const path = join(dir, name);
    await writeFile(path, data);
    const r = await runCli(['seed', path, '--api', nodes[0]!.api]);
    expect(r.code, r.stderr).to.equal(0);
    return { swarmId: r.stdout.trim(), path, data };
  }

  const listed = async (api: string) => ((await callApi(api, 'GET', '/swarms')) as { swarms: { swarmId: string; role: string; path: string; complete: boolean }[] }).swarms;

  it('a get of a swarm the node holds writes a verified copy: on the seeder, and twice at once on another node', async () => {
    const { swarmId, data } = await seeded('held.bin', 1024 * 1024 + 99);
    const onSeeder = await runCli(['get', swarmId, '--out', join(dir, 'held-a.bin'), '--api', nodes[0]!.api], { timeoutMs: 60_000 });
    expect(onSeeder.code, onSeeder.stderr).to.equal(0);
    expect((await readFile(join(dir, 'held-a.bin'))).equals(data), 'copy on the seeder').to.equal(true);
    const [one, two] = await Promise.all(
      ['held-b1.bin', 'held-b2.bin'].map((f) => runCli(['get', swarmId, '--out', join(dir, f), '--api', nodes[1]!.api, '--json'], { timeoutMs: 60_000 })),
    );
    for (const [g, f] of [[one!, 'held-b1.bin'], [two!, 'held-b2.bin']] as const) {
      expect(g.code, g.stderr).to.equal(0);
      const result = JSON.parse(g.stdout) as { out: string; outputs: { path: string; written: boolean }[] };
      expect(result.outputs.find((o) => o.path === result.out)?.written, f).to.equal(true);
      expect((await readFile(join(dir, f))).equals(data), f).to.equal(true);
    }
    expect((await readdir(dir)).filter((f) => f.startsWith('held-') && f.includes('.part')), 'part files left').to.deep.equal([]);
  });

  it('refuses a bad output path at once with 400 naming it; the swarm then downloads to a good path', async () => {
    const { swarmId, data } = await seeded('paths.bin', 300 * 1024);
    const api = nodes[2]!.api;
    const refused = async (body: object) => {
      const e = await callApi(api, 'POST', `/swarms/${swarmId}/download`, body).then(() => undefined, (err: unknown) => err);
      expect(e, JSON.stringify(body)).to.be.instanceOf(ApiError);
      expect((e as ApiError).status).to.equal(400);
      return (e as ApiError).message;
    };
    expect(await refused({ out: '/no/such/dir/x.bin' })).to.include('/no/such/dir/x.bin').and.include('does not exist');
    await mkdir(join(dir, 'a-dir'));
    expect(await refused({ out: join(dir, 'a-dir') })).to.include(join(dir, 'a-dir')).and.include('is a directory');
    expect(await refused({ out: join(dir, 'x.bin'), force: 'yes' })).to.include('"force"');
    const cli = await runCli(['get', swarmId, '--out', '/no/such/dir/x.bin', '--api', api]);
    expect(cli.code, cli.stderr).to.equal(1);
    expect(cli.stderr.trim()).to.match(/the directory of \/no\/such\/dir\/x\.bin does not exist$/);
    expect((await listed(api)).map((s) => s.swarmId), 'nothing started').not.to.include(swarmId);
    const good = await runCli(['get', swarmId, '--out', join(dir, 'paths-copy.bin'), '--api', api], { timeoutMs: 60_000 });
    expect(good.code, good.stderr).to.equal(0);
    expect((await readFile(join(dir, 'paths-copy.bin'))).equals(data)).to.equal(true);
  });

  it('never replaces an existing file unless the request says force', async () => {
    const { swarmId, data } = await seeded('force.bin', 200 * 1024);
    const api = nodes[3]!.api;
    const victim = join(dir, 'precious.txt');
    await writeFile(victim, 'precious');
    const e = await callApi(api, 'POST', `/swarms/${swarmId}/download`, { out: victim }).then(() => undefined, (err: unknown) => err);
    expect((e as ApiError).status).to.equal(400);
    expect((e as ApiError).message).to.include(victim).and.include('exists');
    expect(await readFile(victim, 'utf8')).to.equal('precious');
    expect((await listed(api)).map((s) => s.swarmId), 'nothing started').not.to.include(swarmId);
    const forced = await runCli(['get', swarmId, '--out', victim, '--api', api, '--force'], { timeoutMs: 60_000 });
    expect(forced.code, forced.stderr).to.equal(0);
    expect((await readFile(victim)).equals(data)).to.equal(true);
  });

  it('a seeded file changed on disk: the seeder stops serving it and says so; the leecher says why, not "run again"', async () => {
    const { swarmId, path } = await seeded('changes.bin', 512 * 1024);
    await writeFile(path, randomBytes(512 * 1024));
    const g = await runCli(['get', swarmId, '--out', join(dir, 'changes-copy.bin'), '--api', nodes[2]!.api, '--stall-timeout', '3'], { timeoutMs: 60_000 });
    expect(g.code, g.stderr).to.equal(1);
    const last = g.stderr.trim().split('\n').at(-1)!;
    expect(last).to.match(/its copy (of the file changed after it was seeded|changed or is corrupt)/);
    expect(last).not.to.match(/run the same command again/);
    expect(seederLog.find((l) => l.includes(path) && /warn/.test(l))).to.match(/changed on disk after it was hashed.*Seed the file again/);
    expect((await listed(nodes[0]!.api)).map((s) => s.swarmId)).not.to.include(swarmId);
    expect((await listed(nodes[2]!.api)).map((s) => s.swarmId), 'the stalled get stopped its download').not.to.include(swarmId);
  });

  it('Ctrl-C on get stops the download it started on the node; --detach leaves it running', async () => {
    const api = nodes[3]!.api;
    const swarmId = randomBytes(32).toString('hex'); // nobody seeds it: the download waits for peers
    const get = startCli(['get', swarmId, '--out', join(dir, 'interrupted.bin'), '--api', api]);
    await waitForAsync(async () => (await listed(api)).some((s) => s.swarmId === swarmId), 15_000, 'the download listed on the node');
    expect(await get.stop('SIGINT')).to.equal(130);
    expect(get.stderr()).to.match(/interrupted: stopped the download on the node/);
    expect((await listed(api)).map((s) => s.swarmId)).not.to.include(swarmId);
    const e = await callApi(api, 'GET', `/swarms/${swarmId}`).then(() => undefined, (err: unknown) => err);
    expect((e as ApiError).status).to.equal(404);

    const detached = startCli(['get', swarmId, '--out', join(dir, 'detached.bin'), '--api', api, '--detach']);
    await waitForAsync(async () => (await listed(api)).some((s) => s.swarmId === swarmId), 15_000, 'the detached download listed');
    expect(await detached.stop('SIGINT')).to.equal(130);
    expect((await listed(api)).map((s) => s.swarmId)).to.include(swarmId);
    const stopped = await runCli(['stop', swarmId, '--api', api]);
    expect(stopped.code, stopped.stderr).to.equal(0);
    expect((await listed(api)).map((s) => s.swarmId)).not.to.include(swarmId);
  });

  it('swarms lists what a node holds; stop (DELETE /swarms/<id>) ends seeding', async () => {
    const { swarmId, path } = await seeded('stopped.bin', 256 * 1024);
    const list = await runCli(['swarms', '--api', nodes[0]!.api, '--json']);
    expect(list.code, list.stderr).to.equal(0);
    expect(JSON.parse(list.stdout)).to.deep.include({ swarmId, role: 'seed', path, complete: true, percent: 100 });
    const human = await runCli(['swarms', '--api', nodes[0]!.api]);
    expect(human.stdout).to.match(new RegExp(`^${swarmId}  seed +complete  .*stopped\\.bin$`, 'm'));
    expect(await callApi(nodes[0]!.api, 'DELETE', `/swarms/${swarmId}`)).to.deep.equal({ swarmId, stopped: true });
    expect((await listed(nodes[0]!.api)).map((s) => s.swarmId)).not.to.include(swarmId);
    // Nobody serves it any more: a get finds no chunk.
    const g = await runCli(['get', swarmId, '--out', join(dir, 'stopped-copy.bin'), '--api', nodes[1]!.api, '--stall-timeout', '2'], { timeoutMs: 60_000 });
    expect(g.code, g.stderr).to.equal(1);
    expect(g.stderr).to.match(/no new chunk for 2 s/);
    const again = await runCli(['stop', swarmId, '--api', nodes[0]!.api]);
    expect(again.code).to.equal(1);
    expect(again.stderr.trim()).to.match(/neither seeded nor downloaded here$/);
  });
});
