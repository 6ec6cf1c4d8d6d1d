import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNodeProcess, type NodeProcess } from '../../scripts/node-process.js';
import { runCli } from '../helpers/cli.js';

/** `reload-ppsp seed` and `get` against real node processes: the whole PPSP path as users run it. */
describe('CLI: seed and get', function () {
  this.timeout(180_000);
  let dir: string;
  const nodes: NodeProcess[] = [];
  let content: Buffer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reload-cli-swarm-'));
    expect((await runCli(['ca', 'init', '--dir', join(dir, 'ca'), '--overlay', 'swarm.test'])).code).to.equal(0);
    const config = join(dir, 'ca', 'overlay.json');
    for (const name of ['s1', 'l1', 'l2', 'l3']) {
      const r = await runCli(['enroll', '--ca', join(dir, 'ca'), '--user', `${name}@swarm.test`, '--out', join(dir, name)]);
      expect(r.code, r.stderr).to.equal(0);
      nodes.push(await startNodeProcess({ config, identity: join(dir, name), bootstrap: nodes[0] ? [nodes[0].listen] : [] }));
    }
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
});
