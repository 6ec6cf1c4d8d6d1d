import { expect } from 'chai';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadIdentity } from '../../certs/identity.js';
import { loadOverlayConfig } from '../../overlay/config.js';
import { freePort, runCli, runCliEach, startCli, type CliResult } from '../helpers/cli.js';

const OVERLAY = 'cli.test';

/** A user mistake: one line on stderr, a non-zero exit, no stack trace. */
function expectOneLineError(r: CliResult, pattern: RegExp): void {
  expect(r.code, r.stderr).to.be.a('number').and.not.equal(0);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).to.have.length(1);
  expect(lines[0]).to.match(/^reload-ppsp: /).and.to.match(pattern);
  expect(r.stderr).not.to.match(/^\s+at /m);
}

describe('cli: ca init, ca adduser, ca serve, enroll (child processes)', () => {
  let tmp: string;
  let caDir: string;

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'reload-cli-'));
    caDir = join(tmp, 'ca');
  });

  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('ca init writes the CA and overlay.json and says so; --json for scripts', async () => {
    const r = await runCli(['ca', 'init', '--dir', caDir, '--overlay', OVERLAY]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.contain(`created the CA of overlay ${OVERLAY}`).and.to.contain(join(caDir, 'ca.key'));
    expect((await stat(join(caDir, 'ca.key'))).mode & 0o777).to.equal(0o600);
    expect((await loadOverlayConfig(join(caDir, 'overlay.json'))).overlay).to.equal(OVERLAY);

    const j = await runCli(['ca', 'init', '--dir', join(tmp, 'ca2'), '--overlay', OVERLAY, '--json']);
    expect(j.code, j.stderr).to.equal(0);
    expect(JSON.parse(j.stdout)).to.deep.include({ overlay: OVERLAY, config: join(tmp, 'ca2', 'overlay.json') });
  });

  it('ca init refuses an existing CA without --force', async () => {
    const before = await readFile(join(caDir, 'ca.crt'), 'utf8');
    expectOneLineError(await runCli(['ca', 'init', '--dir', caDir, '--overlay', OVERLAY]), /already exists.*--force/);
    expect(await readFile(join(caDir, 'ca.crt'), 'utf8')).to.equal(before);
  });

  it('enroll --ca prints the Node-ID; --json prints {nodeId, user, overlay, out}', async () => {
    const out = join(tmp, 'alice');
    const r = await runCli(['enroll', '--ca', caDir, '--user', `alice@${OVERLAY}`, '--out', out]);
    expect(r.code, r.stderr).to.equal(0);
    const m = /^enrolled alice@cli\.test as node ([0-9a-f]{32}) in (.+)$/.exec(r.stdout.trim());
    expect(m, r.stdout).to.not.equal(null);
    expect(m![2]).to.equal(out);
    expect((await loadIdentity(out)).nodeIdHex).to.equal(m![1]);
    expect((await loadIdentity(out)).algorithm, 'the default key').to.equal('rsa-sha256');

    const j = await runCli(['enroll', '--ca', caDir, '--user', `bob@${OVERLAY}`, '--out', join(tmp, 'bob'), '--json']);
    expect(j.code, j.stderr).to.equal(0);
    const doc = JSON.parse(j.stdout) as Record<string, string>;
    expect(doc).to.have.keys('nodeId', 'user', 'overlay', 'out');
    expect(doc).to.include({ user: `bob@${OVERLAY}`, overlay: OVERLAY, out: join(tmp, 'bob') });
    expect((await loadIdentity(join(tmp, 'bob'))).nodeIdHex).to.equal(doc.nodeId);
  });

  it('enroll refuses an existing identity unless --force', async () => {
    const out = join(tmp, 'alice');
    const kept = (await loadIdentity(out)).nodeIdHex;
    expectOneLineError(await runCli(['enroll', '--ca', caDir, '--user', `alice@${OVERLAY}`, '--out', out]), /already holds an identity.*--force/);
    expect((await loadIdentity(out)).nodeIdHex).to.equal(kept);
    const forced = await runCli(['enroll', '--ca', caDir, '--user', `alice@${OVERLAY}`, '--out', out, '--force', '--json']);
    expect(forced.code, forced.stderr).to.equal(0);
    expect((await loadIdentity(out)).nodeIdHex).to.equal(JSON.parse(forced.stdout).nodeId).and.not.equal(kept);
  });

  it('ca adduser + ca serve + enroll --server --key ecdsa, end to end; SIGTERM stops the server with exit 0', async () => {
    const users = join(tmp, 'users.json');
    const pw = join(tmp, 'carol.pw');
    await writeFile(pw, 'carol secret\n');
    const add = await runCli(['ca', 'adduser', '--users', users, '--user', `carol@${OVERLAY}`, '--password-file', pw]);
    expect(add.code, add.stderr).to.equal(0);
    expect(add.stdout).to.contain(`added carol@${OVERLAY}`);
    expect((await stat(users)).mode & 0o777).to.equal(0o600);
    expect(await readFile(users, 'utf8')).to.contain('scrypt$').and.not.contain('carol secret');

    const port = await freePort();
    const server = startCli(['ca', 'serve', '--dir', caDir, '--listen', `127.0.0.1:${port}`, '--users', users]);
    try {
      const [, url] = await server.waitForLine(/^enrollment server listening on (\S+)$/);
      expect(url).to.equal(`https://127.0.0.1:${port}/enroll`);
      const config = join(caDir, 'overlay.json');
      const out = join(tmp, 'carol');
      const r = await runCli(['enroll', '--server', url!, '--user', `carol@${OVERLAY}`, '--password-file', pw, '--config', config, '--out', out, '--json', '--key', 'ecdsa']);
      expect(r.code, r.stderr).to.equal(0);
      const id = await loadIdentity(out);
      expect(id.algorithm).to.equal('ecdsa-sha256');
      expect(id.privateKey.asymmetricKeyDetails?.namedCurve).to.equal('prime256v1');
      expect(JSON.parse(r.stdout)).to.deep.equal({ nodeId: id.nodeIdHex, user: `carol@${OVERLAY}`, overlay: OVERLAY, out });

      const badPw = join(tmp, 'bad.pw');
      await writeFile(badPw, 'not it\n');
      const bad = await runCli(['enroll', '--server', url!, '--user', `carol@${OVERLAY}`, '--password-file', badPw, '--config', config, '--out', join(tmp, 'nobody')]);
      expectOneLineError(bad, /wrong user name or password/);
    } finally {
      expect(await server.stop('SIGTERM')).to.equal(0);
    }
    expect(server.stderr()).to.contain(`enrolled carol@${OVERLAY} as node`);

    const gone = await runCli(['enroll', '--server', `https://127.0.0.1:${port}/enroll`, '--user', `carol@${OVERLAY}`, '--password-file', pw, '--config', join(caDir, 'overlay.json'), '--out', join(tmp, 'late')]);
    expectOneLineError(gone, /is the enrollment server running at/);
  });

  it('bad input: one line on stderr, non-zero exit, no stack trace', async () => {
    const cases: [string[], RegExp][] = [
      [['enroll', '--ca', caDir, '--out', join(tmp, 'x')], /missing --user/],
      [['enroll', '--ca', caDir, '--user', `dan@${OVERLAY}`, '--out', join(tmp, 'x'), '--key', 'dsa'], /--key dsa is not one of rsa, ecdsa/],
      [['ca', 'init', '--dir', join(tmp, 'y'), '--overlay', OVERLAY, '--colour'], /Unknown option '--colour'/],
      [['enroll', '--ca', join(tmp, 'no-such-ca'), '--user', `dan@${OVERLAY}`, '--out', join(tmp, 'dan')], /no-such-ca\/ca\.crt.*reload-ppsp ca init/],
      [['ca', 'serve', '--dir', caDir, '--listen', 'localhost', '--users', join(tmp, 'users.json')], /--listen: "localhost" is not HOST:PORT/],
      [['enroll', '--server', 'https://127.0.0.1:1/enroll', '--user', `dan@${OVERLAY}`, '--password-file', join(tmp, 'none'), '--out', join(tmp, 'dan')], /needs --config/],
      [['enroll', '--server', 'https://127.0.0.1:1/enroll', '--user', `dan@${OVERLAY}`, '--password-file', join(tmp, 'none'), '--config', join(caDir, 'overlay.json'), '--out', join(tmp, 'dan')], /cannot read password file/],
      [['ca', 'adduser', '--users', join(tmp, 'u.json'), '--user', 'not a user', '--password-file', join(tmp, 'carol.pw')], /is not a user name/],
    ];
    const results = await runCliEach(cases.map(([args]) => args));
    results.forEach((r, i) => expectOneLineError(r, cases[i]![1]));
  });
});
