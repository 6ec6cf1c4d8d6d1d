import { expect } from 'chai';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiRecordName, apiRuntimeDir, readApiRecord, removeApiRecord, writeApiRecord } from '../../scripts/api-runtime.js';
import { newApiToken, readApiToken, removeApiToken, writeApiToken } from '../../scripts/api-token.js';

/** The files the node writes so that the CLI can authenticate: token file and runtime records. */
describe('scripts: API token file and runtime records', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reload-api-cred-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('the token file is 0600 even when it replaces a readable one, and no temporary file is left', async () => {
    await writeFile(join(dir, 'api-token'), 'old\n', { mode: 0o644 });
    const token = newApiToken();
    expect(token).to.match(/^[0-9a-f]{64}$/);
    expect(newApiToken()).not.to.equal(token);
    const written = await writeApiToken(dir, token);
    expect((await stat(written.file)).mode & 0o777).to.equal(0o600);
    expect(await readApiToken(written.file)).to.equal(token);
    expect(await readdir(dir)).to.deep.equal(['api-token']);
  });

  it('readApiToken refuses a file that does not hold a token, so no other file is sent as one', async () => {
    const other = join(dir, 'id_rsa');
    await writeFile(other, '-----BEGIN OPENSSH PRIVATE KEY-----\n');
    const e = await readApiToken(other).catch((err: Error) => err);
    expect((e as Error).message).to.match(/does not hold an API token/);
  });

  it('removeApiToken leaves a token another run has written since', async () => {
    const mine = await writeApiToken(dir, newApiToken());
    const theirs = newApiToken();
    await writeApiToken(dir, theirs);
    await removeApiToken(mine);
    expect(await readApiToken(mine.file)).to.equal(theirs);
  });

  it('a record per API address (IPv6 too) in a 0700 directory, removed only by the process that wrote it', async () => {
    const run = join(dir, 'run');
    const path = await writeApiRecord('[::1]:7085', '/n/data/api-token', run);
    expect(apiRecordName('[::1]:7085')).to.match(/^api-[0-9a-z._]+\.json$/);
    expect((await stat(run)).mode & 0o777).to.equal(0o700);
    expect((await stat(path)).mode & 0o777).to.equal(0o600);
    expect(await readApiRecord('[::1]:7085', run)).to.deep.equal({ api: '[::1]:7085', tokenFile: '/n/data/api-token', pid: process.pid });
    expect(await readApiRecord('127.0.0.1:7085', run)).to.equal(undefined);
    await writeFile(path, JSON.stringify({ api: '[::1]:7085', tokenFile: '/other', pid: process.pid + 1 }));
    await removeApiRecord(path);
    expect((await readApiRecord('[::1]:7085', run))?.tokenFile).to.equal('/other');
    await writeApiRecord('[::1]:7085', '/n/data/api-token', run);
    await removeApiRecord(path);
    expect(await readApiRecord('[::1]:7085', run)).to.equal(undefined);
  });

  it('an existing runtime directory open to others is closed to 0700', async () => {
    const run = join(dir, 'run');
    await mkdir(run);
    await chmod(run, 0o777);
    await writeApiRecord('127.0.0.1:1', '/t', run);
    expect((await stat(run)).mode & 0o777).to.equal(0o700);
    expect(await readFile(join(run, apiRecordName('127.0.0.1:1')), 'utf8')).to.include('"tokenFile":"/t"');
  });

  it('the runtime directory: $RELOAD_PPSP_RUNTIME_DIR, else $XDG_RUNTIME_DIR/reload-ppsp, else ~/.reload-ppsp/run', () => {
    expect(apiRuntimeDir({ RELOAD_PPSP_RUNTIME_DIR: '/r', XDG_RUNTIME_DIR: '/x' })).to.equal('/r');
    expect(apiRuntimeDir({ XDG_RUNTIME_DIR: '/x' })).to.equal('/x/reload-ppsp');
    expect(apiRuntimeDir({})).to.match(/\.reload-ppsp\/run$/);
  });
});
