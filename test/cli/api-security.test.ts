import { expect } from 'chai';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiRecordName } from '../../scripts/api-runtime.js';
import { startNodeProcess, type NodeProcess } from '../../scripts/node-process.js';
import { hashFile } from '../../usages/ppsp/content/chunker.js';
import { freePort, runCli, startCli } from '../helpers/cli.js';
import { httpRequest } from '../helpers/http.js';

/** A TCP listener that only counts the connections made to it. */
async function countingListener(): Promise<{ server: Server; port: number; connections: () => number }> {
  let count = 0;
  const server = createServer((socket) => {
    count++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port, connections: () => count };
}

const closeServer = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

/** The node API's protection, against a real `reload-ppsp node` process: what a web page or another user could try. */
describe('CLI: the node API is protected', function () {
  this.timeout(90_000);
  let dir: string;
  let config: string;
  let node: NodeProcess;
  let base: string;
  let tokenFile: string;
  /** The node's token, read when a test first needs it. */
  let token: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reload-cli-api-'));
    const init = await runCli(['ca', 'init', '--dir', join(dir, 'ca'), '--overlay', 'api.test']);
    expect(init.code, init.stderr).to.equal(0);
    const enrolled = await runCli(['enroll', '--ca', join(dir, 'ca'), '--user', 'n1@api.test', '--out', join(dir, 'n1')]);
    expect(enrolled.code, enrolled.stderr).to.equal(0);
    config = join(dir, 'ca', 'overlay.json');
    node = await startNodeProcess({ config, identity: join(dir, 'n1') });
    base = `http://${node.api}`;
    tokenFile = join(dir, 'n1', 'data', 'api-token');
  });
  beforeEach(async () => {
    token ??= (await readFile(tokenFile, 'utf8').catch(() => '')).trim();
  });

  after(async () => {
    await node?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const withToken = (t = token) => ({ authorization: `Bearer ${t}` });

  it('writes a random token to DATA/api-token, mode 0600, and a runtime record that names it', async () => {
    expect(token).to.match(/^[0-9a-f]{64}$/);
    expect((await stat(tokenFile)).mode & 0o777).to.equal(0o600);
    const recordPath = join(process.env.RELOAD_PPSP_RUNTIME_DIR!, apiRecordName(node.api));
    expect((await stat(recordPath)).mode & 0o777).to.equal(0o600);
    expect(JSON.parse(await readFile(recordPath, 'utf8'))).to.deep.include({ api: node.api, tokenFile, pid: node.child.pid });
  });

  it('refuses a cross-origin text/plain POST /swarms (a browser sends it without preflight) and seeds nothing', async () => {
    const file = join(dir, 'hostname.txt');
    await writeFile(file, 'precious\n');
    const body = JSON.stringify({ path: file });
    const crossOrigin = await httpRequest(base, '/swarms', { method: 'POST', headers: { origin: 'http://evil.example', 'content-type': 'text/plain' }, body });
    expect(crossOrigin.status).to.equal(403);
    // Even a request that has the token is refused if it is not JSON.
    const plain = await httpRequest(base, '/swarms', { method: 'POST', headers: { ...withToken(), 'content-type': 'text/plain' }, body });
    expect(plain.status).to.equal(415);
    const { swarmId } = (await hashFile(file)).metadata;
    expect((await httpRequest(base, `/swarms/${swarmId}`, { headers: withToken() })).status).to.equal(404);
    // The control: the same file seeded the right way is found under that ID.
    const seeded = await httpRequest(base, '/swarms', { method: 'POST', headers: { ...withToken(), 'content-type': 'application/json' }, body });
    expect(seeded.status, seeded.text).to.equal(200);
    expect((await httpRequest(base, `/swarms/${swarmId}`, { headers: withToken() })).status).to.equal(200);
  });

  it('401 without the token (naming the token file) or with a wrong one; 403 for a foreign Host', async () => {
    const none = await httpRequest(base, '/status');
    expect(none.status).to.equal(401);
    expect(none.headers['www-authenticate']).to.match(/^Bearer/);
    const answer = JSON.parse(none.text) as { error: string; message: string; tokenFile: string };
    expect(answer).to.include({ error: 'Unauthorized', tokenFile });
    expect(answer.message).to.include(tokenFile);
    expect((await httpRequest(base, '/status', { headers: withToken('0'.repeat(64)) })).status).to.equal(401);
    expect((await httpRequest(base, '/status', { headers: { ...withToken(), host: 'evil.example' } })).status).to.equal(403);
    expect((await httpRequest(base, '/status', { headers: { ...withToken(), host: `rebind.evil.example:${new URL(base).port}` } })).status).to.equal(403);
    expect((await httpRequest(base, '/status', { headers: withToken() })).status).to.equal(200);
  });

  it('`reload-ppsp status --api` finds the token by itself; --api-token-file and $RELOAD_PPSP_API_TOKEN override; a 401 says what to do', async () => {
    const status = await runCli(['status', '--api', node.api, '--json']);
    expect(status.code, status.stderr).to.equal(0);
    expect(JSON.parse(status.stdout)).to.include({ nodeId: node.nodeId });

    const wrongEnv = await runCli(['status', '--api', node.api], { env: { RELOAD_PPSP_API_TOKEN: 'f'.repeat(64) } });
    expect(wrongEnv.code).to.equal(1);
    expect(wrongEnv.stderr.trim().split('\n')).to.have.length(1);
    expect(wrongEnv.stderr).to.match(/refused the API token from \$RELOAD_PPSP_API_TOKEN.*pass --api-token-file .*api-token/);

    const flagWins = await runCli(['status', '--api', node.api, '--api-token-file', tokenFile], { env: { RELOAD_PPSP_API_TOKEN: 'f'.repeat(64) } });
    expect(flagWins.code, flagWins.stderr).to.equal(0);

    const elsewhere = await mkdtemp(join(tmpdir(), 'reload-runtime-empty-'));
    try {
      const lost = await runCli(['status', '--api', node.api], { env: { RELOAD_PPSP_RUNTIME_DIR: elsewhere, RELOAD_PPSP_API_TOKEN: undefined } });
      expect(lost.code).to.equal(1);
      expect(lost.stderr.trim().split('\n')).to.have.length(1);
      expect(lost.stderr).to.include(`needs its API token and none was found`);
      expect(lost.stderr).to.include(`pass --api-token-file ${tokenFile}`);
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it('--api on a non-loopback address is a usage error naming --api-allow-remote', async () => {
    for (const api of ['0.0.0.0:0', '[::]:0', 'example.com:0']) {
      const r = await runCli(['node', '--config', config, '--identity', join(dir, 'n1'), '--api', api]);
      expect(r.code, `${api}: ${r.stderr}`).to.equal(2);
      expect(r.stderr).to.match(/is not a loopback address.*add --api-allow-remote/);
      expect(r.stdout).to.equal('');
    }
  });

  it('an API port in use: exit 1 with one line saying so, before any overlay traffic', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const busyPort = (busy.address() as { port: number }).port;
    const bootstrap = await countingListener();
    try {
      // Its own data directory: the one the running node uses is locked to that process.
      const r = await runCli(['node', '--config', config, '--identity', join(dir, 'n1'), '--data', join(dir, 'n1-second-data'), '--api', `127.0.0.1:${busyPort}`, '--bootstrap', `127.0.0.1:${bootstrap.port}`]);
      expect(r.code, r.stderr).to.equal(1);
      expect(r.stderr.trim().split('\n').pop()).to.equal(`reload-ppsp: API address 127.0.0.1:${busyPort} is in use`);
      expect(r.stderr).not.to.match(/^\s+at /m);
      expect(r.stdout).to.equal('');
      expect(bootstrap.connections(), 'connections to the bootstrap node').to.equal(0);
      // The running node's token is untouched.
      expect((await readFile(tokenFile, 'utf8')).trim()).to.equal(token);
    } finally {
      await closeServer(busy);
      await closeServer(bootstrap.server);
    }
  });

  it('--api-public-metrics serves GET /metrics without the token; every other path still needs it', async () => {
    const enrolled = await runCli(['enroll', '--ca', join(dir, 'ca'), '--user', 'n2@api.test', '--out', join(dir, 'n2')]);
    expect(enrolled.code, enrolled.stderr).to.equal(0);
    const port = await freePort();
    const n2 = startCli(['node', '--config', config, '--identity', join(dir, 'n2'), '--api', `127.0.0.1:${port}`, '--api-public-metrics', '--bootstrap', node.listen]);
    try {
      await n2.waitForLine(/^ready /, 30_000);
      const at = `http://127.0.0.1:${port}`;
      const metrics = await httpRequest(at, '/metrics');
      expect(metrics.status).to.equal(200);
      expect(metrics.text).to.match(/^reload_links /m);
      expect((await httpRequest(at, '/status')).status).to.equal(401);
      expect((await httpRequest(at, '/ping', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).to.equal(401);
      expect((await httpRequest(at, '/metrics', { headers: { host: 'evil.example' } })).status).to.equal(403);
    } finally {
      expect(await n2.stop()).to.equal(0);
    }
  });

  it('the token file and the runtime record go when the node stops', async () => {
    const recordPath = join(process.env.RELOAD_PPSP_RUNTIME_DIR!, apiRecordName(node.api));
    expect((await stat(recordPath)).isFile() && (await stat(tokenFile)).isFile()).to.equal(true);
    expect(await node.stop()).to.equal(0);
    expect(await stat(recordPath).catch(() => 'gone')).to.equal('gone');
    expect(await stat(tokenFile).catch(() => 'gone')).to.equal('gone');
  });
});
