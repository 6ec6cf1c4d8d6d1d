/**
 * Conventions every command shares, checked on the real CLI process: --version, the unknown
 * command message, extra positional arguments and numeric flags refused as usage errors (exit 2,
 * one line naming the flag or the arguments), and `fetch --out` keeping an existing file.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, runCli, runCliEach } from '../helpers/cli.js';

const SWARM = 'ab'.repeat(32);
/** An API address nothing listens on: a command that gets as far as calling it fails with exit 1. */
const NO_API = '127.0.0.1:1';

/** Runs the cases and checks exit code and the one stderr line. */
async function expectAll(cases: [string[], number, RegExp][]): Promise<void> {
  const results = await runCliEach(cases.map(([args]) => args));
  cases.forEach(([args, code, message], i) => {
    const r = results[i]!;
    const what = `reload-ppsp ${args.join(' ')}\n${r.stderr}`;
    expect(r.code, what).to.equal(code);
    expect(r.stderr.trim().split('\n'), what).to.have.length(1);
    expect(r.stderr, what).to.match(message);
  });
}

describe('CLI conventions', function () {
  this.timeout(120_000);
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reload-cli-conventions-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('--version and -V print the package version, from the sources and from dist/ run elsewhere', async () => {
    const { version } = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await runCli([flag]);
      expect([r.code, r.stdout, r.stderr]).to.deep.equal([0, `${version}\n`, '']);
    }
    // The built CLI started from another directory: package.json is found beside the module, not in the cwd.
    const built = await promisify(execFile)(process.execPath, [join(REPO_ROOT, 'dist', 'scripts', 'cli.js'), '-V'], { cwd: dir, timeout: 15_000 });
    expect(built.stdout).to.equal(`${version}\n`);
  });

  it('an unknown command is named alone, without its arguments; a close one is suggested', async () => {
    await expectAll([
      [['broadcast', SWARM], 2, /^reload-ppsp: unknown command "broadcast" \(see reload-ppsp --help\)\n$/],
      [['ca', 'frob', 'x'], 2, /^reload-ppsp: unknown command "ca frob" \(see reload-ppsp --help\)\n$/],
      [['stauts', '--api', NO_API], 2, /^reload-ppsp: unknown command "stauts" \(did you mean "status"\?\) /],
    ]);
  });

  it('extra positional arguments are refused by every command, naming them', async () => {
    await expectAll([
      [['status', 'extra', '--api', NO_API], 2, /^reload-ppsp: status takes no arguments; unexpected "extra" /],
      [['store', 'alice', 'x', '--api', NO_API], 2, /^reload-ppsp: store takes no arguments; unexpected "alice" "x" /],
      [['ca', 'init', 'dir', '--dir', join(dir, 'ca'), '--overlay', 'x.org'], 2, /^reload-ppsp: ca init takes no arguments; unexpected "dir" /],
      [['ping', 'a', 'b', '--api', NO_API], 2, /^reload-ppsp: ping takes only NODE-ID; unexpected "b" /],
      [['route', 'a', 'b', 'c', '--api', NO_API], 2, /^reload-ppsp: route takes only NAME-OR-HEX; unexpected "b" "c" /],
      [['seed', 'a', 'b', '--api', NO_API], 2, /^reload-ppsp: seed takes only FILE; unexpected "b" /],
      [['get', SWARM, 'more', '--out', join(dir, 'o'), '--api', NO_API], 2, /^reload-ppsp: get takes only SWARM-ID\|ppspp:\/\/HOST:PORT\/ROOT-HASH; unexpected "more" /],
      [['bench', 'wire', 'link'], 2, /^reload-ppsp: bench takes only SUITE; unexpected "link" /],
    ]);
    // ca init refused before creating anything.
    expect(await readFile(join(dir, 'ca', 'ca.crt')).catch(() => undefined)).to.equal(undefined);
  });

  it('a bad number is a usage error naming the flag and what it takes, in every command', async () => {
    const file = join(dir, 'seed-me.bin');
    await writeFile(file, 'some bytes');
    const store = ['store', '--api', NO_API, '--kind', 'user-value', '--resource', 'r', '--value', 'v'];
    const fetch = ['fetch', '--api', NO_API, '--kind', 'user-list', '--resource', 'r'];
    await expectAll([
      [['seed', file, '--chunk-size', 'abc', '--api', NO_API], 2, /^reload-ppsp: --chunk-size must be an integer from 1024 to 1048576, not "abc"\n$/],
      [[...store, '--generation', '-1'], 2, /^reload-ppsp: --generation must be an integer from 0 to \d+, not "-1"\n$/],
      [[...store, '--lifetime', 'x'], 2, /^reload-ppsp: --lifetime must be an integer from 1 to 4294967295, not "x"\n$/],
      [[...store, '--index', '1.5'], 2, /^reload-ppsp: --index must be an integer from 0 to 4294967294, not "1\.5"\n$/],
      [[...fetch, '--index', '4294967295'], 2, /^reload-ppsp: --index must be an integer from 0 to 4294967294, not "4294967295"\n$/],
      [[...fetch, '--range', '1:x'], 2, /^reload-ppsp: --range LAST must be an integer from 0 to 4294967294, not "x"\n$/],
      [['demo', '--size', '-1'], 2, /^reload-ppsp: --size must be an integer from 0 to 1024, not "-1"\n$/],
      [['demo', '--nodes', '2e1'], 2, /^reload-ppsp: --nodes must be an integer from 2 to 16, not "2e1"\n$/],
      [['bench', 'swarm', '--size', '-1'], 2, /^reload-ppsp: --size must be an integer from 1 to 4096, not "-1"\n$/],
      [['bench', 'overlay', '--nodes', '0x10'], 2, /^reload-ppsp: --nodes must be an integer from 2 to 256, not "0x10"\n$/],
      [['get', SWARM, '--out', join(dir, 'o'), '--api', NO_API, '--stall-timeout', '0'], 2, /^reload-ppsp: --stall-timeout must be an integer from 1 to 86400, not "0"\n$/],
      // A text value that reads as a negative number is still a value: the store gets as far as the API.
      [[...store.slice(0, -1), '-5'], 1, /cannot reach the node API at 127\.0\.0\.1:1/],
    ]);
  });

  it('a bad rate is a usage error naming the flag, in every command that takes one; a good one gets as far as the API', async () => {
    const file = join(dir, 'seed-rate.bin');
    await writeFile(file, 'some bytes');
    const rate = /is not a rate: bytes\/s like 500k or 2M, or bits\/s like 20Mbit\n$/;
    await expectAll([
      [['node', '--config', 'x', '--identity', 'y', '--download-limit', '2Mb'], 2, rate],
      [['seed', file, '--upload-limit', 'fast', '--api', NO_API], 2, /^reload-ppsp: --upload-limit fast /],
      [['get', SWARM, '--out', join(dir, 'g'), '--api', NO_API, '--download-limit', '-5'], 2, /^reload-ppsp: --download-limit -5 /],
      [['get', SWARM, '--out', join(dir, 'g'), '--api', NO_API, '--upload-limit', '20Tbit'], 2, /^reload-ppsp: --upload-limit 20Tbit /],
      [['watch', SWARM, '--out', join(dir, 'w'), '--api', NO_API, '--download-limit', '1e6'], 2, /^reload-ppsp: --download-limit 1e6 /],
      [['get', SWARM, '--out', join(dir, 'g'), '--api', NO_API, '--upload-limit', '500k', '--download-limit', '20Mbit'], 1, /cannot reach the node API at 127\.0\.0\.1:1/],
    ]);
  });

  it('fetch --out leaves an existing file alone without --force, and says so before fetching', async () => {
    const out = join(dir, 'mine.txt');
    await writeFile(out, 'precious');
    await expectAll([
      [['fetch', '--api', NO_API, '--kind', 'user-value', '--resource', 'r', '--out', out], 2, new RegExp(`^reload-ppsp: ${out.replace(/[.]/g, '\\.')} exists; pass --force to replace it\\n$`)],
      [['fetch', '--api', NO_API, '--kind', 'user-value', '--resource', 'r', '--force'], 2, /^reload-ppsp: --force goes with --out\n$/],
    ]);
    expect(await readFile(out, 'utf8')).to.equal('precious');
  });
});
