import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNodeProcess, type NodeProcess } from '../../scripts/node-process.js';
import { runCli } from '../helpers/cli.js';

/** RFC 7574 §5.1 read literally, SHA-1 over 1 KiB chunks: the root hash a PPSPP peer expects. */
function sha1Root(content: Buffer): string {
  const leaves: Buffer[] = [];
  for (let at = 0; at < content.length; at += 1024) leaves.push(createHash('sha1').update(content.subarray(at, at + 1024)).digest());
  let level = leaves;
  let width = 1;
  while (width < leaves.length) width *= 2;
  while (level.length < width) level = [...level, Buffer.alloc(20)];
  while (level.length > 1) {
    const up: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const [l, r] = [level[i]!, level[i + 1]!];
      up.push(l.equals(Buffer.alloc(20)) && r.equals(Buffer.alloc(20)) ? Buffer.alloc(20) : createHash('sha1').update(l).update(r).digest());
    }
    level = up;
  }
  return level[0]!.toString('hex');
}

/** `seed FILE --ppspp IP:PORT` on a node, and `get ppspp://...` from it with no node of its own. */
describe('CLI: PPSPP (RFC 7574 over UDP) seed and get', function () {
  this.timeout(120_000);
  let dir: string;
  let node: NodeProcess;
  let content: Buffer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reload-cli-ppspp-'));
    expect((await runCli(['ca', 'init', '--dir', join(dir, 'ca'), '--overlay', 'ppspp.test'])).code).to.equal(0);
    const r = await runCli(['enroll', '--ca', join(dir, 'ca'), '--user', 's1@ppspp.test', '--out', join(dir, 's1')]);
    expect(r.code, r.stderr).to.equal(0);
    node = await startNodeProcess({ config: join(dir, 'ca', 'overlay.json'), identity: join(dir, 's1'), bootstrap: [] });
    content = randomBytes(1024 * 1024 + 777);
    await writeFile(join(dir, 'movie.bin'), content);
  });

  after(async () => {
    expect(await node.stop()).to.equal(0);
    await rm(dir, { recursive: true, force: true });
  });

  it('seeds with --ppspp, prints the swarm ID and a ppspp:// URL with the SHA-1 root; get downloads it byte-identical', async () => {
    const seeded = await runCli(['seed', join(dir, 'movie.bin'), '--ppspp', '127.0.0.1:0', '--api', node.api]);
    expect(seeded.code, seeded.stderr).to.equal(0);
    const [swarmId, url] = seeded.stdout.trim().split('\n');
    expect(swarmId).to.match(/^[0-9a-f]{64}$/);
    expect(url).to.match(/^ppspp:\/\/127\.0\.0\.1:\d+\/[0-9a-f]{40}$/);
    expect(url!.split('/').at(-1), 'the root is the RFC tree over the file').to.equal(sha1Root(content));
    const out = join(dir, 'copy.bin');
    const got = await runCli(['get', url!, '--out', out, '--json'], { timeoutMs: 60_000 });
    expect(got.code, got.stderr).to.equal(0);
    expect(JSON.parse(got.stdout)).to.include({ bytes: content.length, chunks: Math.ceil(content.length / 1024), corrupt: 0 });
    expect((await readFile(out)).equals(content)).to.equal(true);
    const plain = await runCli(['get', url!, '--out', out, '--force']);
    expect(plain.code, plain.stderr).to.equal(0);
    expect(plain.stdout).to.match(/^downloaded .*copy\.bin: 1025 chunks verified against the root hash/m);
  });

  it('refuses bad input with one line and a non-zero exit, and gives up on an address where nobody answers', async () => {
    const root = 'ab'.repeat(20);
    const cases: [string[], number, RegExp][] = [
      [['get', 'ppspp://127.0.0.1/' + root, '--out', join(dir, 'x.bin')], 2, /is not a PPSPP address: ppspp:\/\/HOST:PORT\/ROOT-HASH/],
      [['get', 'ppspp://127.0.0.1:7/abc', '--out', join(dir, 'x.bin')], 2, /has 3 hex digits: 40 \(SHA-1\) or 64 \(SHA-256\)/],
      [['get', `ppspp://127.0.0.1:7/${root}`], 2, /missing --out/],
      [['get', `ppspp://127.0.0.1:7/${root}`, '--out', join(dir, 'movie.bin')], 2, /exists; pass --force/],
      [['get', 'cd'.repeat(32), '--out', join(dir, 'x.bin'), '--chunk-size', '1024', '--api', node.api], 2, /--chunk-size is for ppspp:\/\/ downloads/],
      [['seed', join(dir, 'movie.bin'), '--ppspp', 'localhost:7777', '--api', node.api], 1, /"ppspp" must be IP:PORT to listen on/],
      [['get', `ppspp://127.0.0.1:9/${root}`, '--out', join(dir, 'never.bin'), '--stall-timeout', '2'], 1, /no answer from 127\.0\.0\.1:9 for \d s: is a PPSPP peer serving this root hash there\?/],
    ];
    for (const [args, code, message] of cases) {
      const r = await runCli(args, { timeoutMs: 30_000 });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).to.equal(code);
      expect(r.stderr.trim().split('\n').at(-1), args.join(' ')).to.match(message);
      expect(r.stderr).not.to.match(/\n\s+at /);
    }
    for (const left of ['never.bin', 'never.bin.part']) {
      await stat(join(dir, left)).then(
        () => expect.fail(`a failed download leaves no ${left}`),
        (e: NodeJS.ErrnoException) => expect(e.code).to.equal('ENOENT'),
      );
    }
  });
});
