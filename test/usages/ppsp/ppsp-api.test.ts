/**
 * The PPSP endpoints the usage adds to the node API (usages/ppsp/ppsp-api.ts), over HTTP on a
 * two-node ring: seed through one node's API, download through the other's, and the error paths.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApi, type ApiServer } from '../../../overlay/api/http-api.js';
import { ppspApi } from '../../../usages/ppsp/ppsp-api.js';
import { PpspUsage } from '../../../usages/ppsp/ppsp-usage.js';
import { httpRequest } from '../../helpers/http.js';
import { startTestnet, type Testnet } from '../../helpers/testnet.js';
import { waitForAsync } from '../../helpers/wait.js';

const PROPS = { accessType: 'fixed' as const, upKbps: 10_000, downKbps: 10_000, nat: 'unknown' as const, uptimeSec: 0 };
const FAST = { tickIntervalMs: 50, rechokeIntervalMs: 300, requestTimeoutMs: 2000, redialIntervalMs: 300 };
const TOKEN = randomBytes(32).toString('hex');
const HEADERS = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

describe('PPSP API extension', function () {
  this.timeout(60_000);
  let net: Testnet;
  let dir: string;
  const usages: PpspUsage[] = [];
  const apis: ApiServer[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ppsp-api-'));
    net = await startTestnet(2, {
      beforeStart: (node, i) => {
        usages[i] = new PpspUsage({ properties: PROPS, data: { swarm: FAST } });
        usages[i]!.attach(node);
      },
    });
    for (const u of usages) await u.start();
    for (const [i, node] of net.nodes.entries()) apis.push(await startApi(node, { host: '127.0.0.1', port: 0, token: TOKEN }, [ppspApi(usages[i]!)]));
  });

  after(async () => {
    await Promise.all(apis.map((a) => a.close()));
    for (const u of usages) await u.stop();
    await net?.stopAll();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const call = async (i: number, method: string, path: string, body?: unknown) => {
    const r = await httpRequest(`http://${apis[i]!.address}`, path, { method, headers: HEADERS, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: r.status, json: JSON.parse(r.text) as Record<string, unknown> };
  };

  it('seeds through one node, downloads through the other, lists and stops the swarm', async () => {
    const content = randomBytes(300_000);
    const path = join(dir, 'file.bin');
    await writeFile(path, content);
    const seeded = await call(0, 'POST', '/swarms', { path });
    expect(seeded.status, JSON.stringify(seeded.json)).to.equal(200);
    const swarmId = seeded.json.swarmId as string;
    expect(swarmId).to.match(/^[0-9a-f]+$/);
    const listed = await call(0, 'GET', '/swarms');
    expect((listed.json.swarms as { swarmId: string; role: string }[]).map((s) => [s.swarmId, s.role])).to.deep.equal([[swarmId, 'seed']]);

    const out = join(dir, 'out.bin');
    const get = await call(1, 'POST', `/swarms/${swarmId}/download`, { out });
    expect(get.status, JSON.stringify(get.json)).to.equal(200);
    await waitForAsync(async () => (await call(1, 'GET', `/swarms/${swarmId}`)).json.complete === true, 30_000, 'the download through the API');
    expect((await readFile(out)).equals(content)).to.equal(true);

    const stopped = await call(1, 'DELETE', `/swarms/${swarmId}`);
    expect(stopped).to.deep.equal({ status: 200, json: { swarmId, stopped: true } });
    expect((await call(1, 'GET', `/swarms/${swarmId}`)).status).to.equal(404);
  });

  it('refuses a relative path, a bad swarm ID, an unknown swarm, a bad "force" and a POST to a swarm with typed errors', async () => {
    const relative = await call(0, 'POST', '/swarms', { path: 'file.bin' });
    expect(relative.status).to.equal(400);
    expect(relative.json.message).to.match(/"path" must be an absolute path/);
    const badId = await call(0, 'GET', '/swarms/xyz');
    expect(badId.status).to.equal(400);
    expect(badId.json).to.include({ error: 'Invalid_Message', reason: 'bad_swarm_id' });
    const unknown = 'ab'.repeat(32);
    const missing = await call(0, 'GET', `/swarms/${unknown}`);
    expect(missing.status).to.equal(404);
    expect(missing.json).to.include({ error: 'Not_Found', reason: 'unknown_swarm' });
    const force = await call(0, 'POST', `/swarms/${unknown}/download`, { out: join(dir, 'x.bin'), force: 'yes' });
    expect(force.status).to.equal(400);
    expect(force.json.message).to.match(/"force" must be true or false/);
    const put = await call(0, 'POST', `/swarms/${unknown}`, {});
    expect(put.status).to.equal(400);
    expect(put.json.message).to.match(/is not an endpoint/);
  });
});
