/**
 * The PPSP endpoints the usage adds to the node API (usages/ppsp/ppsp-api.ts), over HTTP on a
 * two-node ring: seed through one node's API, download through the other's, and the error paths.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FAST_SWARM, startPpspNet, type PpspNet } from '../../helpers/ppsp-net.js';
import { waitForAsync } from '../../helpers/wait.js';

describe('PPSP API extension', function () {
  this.timeout(60_000);
  let p: PpspNet;

  before(async () => {
    p = await startPpspNet(2, { swarm: { ...FAST_SWARM, requestTimeoutMs: 2000 } });
  });

  after(async () => {
    await p?.stop();
  });

  const call = (i: number, method: string, path: string, body?: unknown) => p.call(i, method, path, body);

  it('seeds through one node, downloads through the other, lists and stops the swarm', async () => {
    const content = randomBytes(300_000);
    const path = join(p.dir, 'file.bin');
    await writeFile(path, content);
    const seeded = await call(0, 'POST', '/swarms', { path });
    expect(seeded.status, JSON.stringify(seeded.json)).to.equal(200);
    const swarmId = seeded.json.swarmId as string;
    expect(swarmId).to.match(/^[0-9a-f]+$/);
    const listed = await call(0, 'GET', '/swarms');
    expect((listed.json.swarms as { swarmId: string; role: string }[]).map((s) => [s.swarmId, s.role])).to.deep.equal([[swarmId, 'seed']]);

    const out = join(p.dir, 'out.bin');
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
    const force = await call(0, 'POST', `/swarms/${unknown}/download`, { out: join(p.dir, 'x.bin'), force: 'yes' });
    expect(force.status).to.equal(400);
    expect(force.json.message).to.match(/"force" must be true or false/);
    const put = await call(0, 'POST', `/swarms/${unknown}`, {});
    expect(put.status).to.equal(400);
    expect(put.json.message).to.match(/is not an endpoint/);
  });

  it('sets rate limits on seeding, per swarm and node-wide at run time, shows them back (API and metrics), and refuses bad ones with 400 changing nothing', async () => {
    const content = randomBytes(50_000);
    const path = join(p.dir, 'limited.bin');
    await writeFile(path, content);
    const seeded = await call(0, 'POST', '/swarms', { path, uploadLimit: 250_000 });
    expect(seeded.status, JSON.stringify(seeded.json)).to.equal(200);
    const id = seeded.json.swarmId as string;
    expect((await call(0, 'GET', `/swarms/${id}`)).json).to.include({ uploadLimit: 250_000, downloadLimit: 0 });

    const changed = await call(0, 'POST', `/swarms/${id}/limits`, { downloadLimit: 1_000_000 });
    expect(changed).to.deep.equal({ status: 200, json: { swarmId: id, uploadLimit: 250_000, downloadLimit: 1_000_000 } });
    expect((await call(0, 'POST', `/swarms/${id}/limits`, { uploadLimit: 0 })).json).to.include({ uploadLimit: 0, downloadLimit: 1_000_000 });
    expect((await call(0, 'GET', `/swarms/${id}`)).json).to.include({ uploadLimit: 0, downloadLimit: 1_000_000 });

    expect(await call(0, 'GET', '/limits')).to.deep.equal({ status: 200, json: { uploadLimit: 0, downloadLimit: 0 } });
    expect(await call(0, 'POST', '/limits', { uploadLimit: 2_500_000 })).to.deep.equal({ status: 200, json: { uploadLimit: 2_500_000, downloadLimit: 0 } });
    expect((await call(0, 'GET', '/limits')).json).to.deep.equal({ uploadLimit: 2_500_000, downloadLimit: 0 });

    const metrics = p.net.nodes[0]!.metrics.render();
    expect(metrics).to.include(`reload_ppsp_download_limit_bytes_per_second{swarm="${id}"} 1000000`);
    expect(metrics).to.include(`reload_ppsp_upload_limit_bytes_per_second{swarm="${id}"} 0`);
    expect(metrics).to.match(/^reload_ppsp_node_upload_limit_bytes_per_second 2500000$/m);

    // A download started with limits carries them.
    const got = await call(1, 'POST', `/swarms/${id}/download`, { out: join(p.dir, 'limited-out.bin'), downloadLimit: 400_000, uploadLimit: 100_000 });
    expect(got.status, JSON.stringify(got.json)).to.equal(200);
    expect(got.json).to.include({ uploadLimit: 100_000, downloadLimit: 400_000 });

    // Each bad value is a 400 naming the field; a body with one good and one bad value changes nothing.
    const message = /"(upload|download)Limit" must be bytes per second: an integer from 0 \(no limit\) to 10000000000/;
    for (const bad of ['500k', -1, 1.5, 1e11, null, true]) {
      for (const [endpoint, body] of [
        [`/swarms/${id}/limits`, { uploadLimit: 7, downloadLimit: bad }],
        ['/limits', { uploadLimit: bad, downloadLimit: 7 }],
        ['/swarms', { path, uploadLimit: bad }],
        [`/swarms/${id}/download`, { out: join(p.dir, 'never.bin'), downloadLimit: bad }],
      ] as const) {
        const r = await call(endpoint.endsWith('/download') ? 1 : 0, 'POST', endpoint, body);
        expect(r.status, `${endpoint} ${JSON.stringify(body)}`).to.equal(400);
        expect(r.json.message, `${endpoint} ${JSON.stringify(body)}`).to.match(message);
      }
    }
    expect((await call(0, 'GET', `/swarms/${id}`)).json).to.include({ uploadLimit: 0, downloadLimit: 1_000_000 });
    expect((await call(0, 'GET', '/limits')).json).to.deep.equal({ uploadLimit: 2_500_000, downloadLimit: 0 });
    expect((await call(1, 'GET', `/swarms/${id}`)).json).to.include({ uploadLimit: 100_000, downloadLimit: 400_000 });
    expect((await call(0, 'POST', '/swarms/' + 'cd'.repeat(32) + '/limits', { uploadLimit: 1 })).status).to.equal(404);

    await call(0, 'POST', '/limits', { uploadLimit: 0 });
    await waitForAsync(async () => (await call(1, 'GET', `/swarms/${id}`)).json.complete === true, 30_000, 'the limited download');
    for (const i of [0, 1]) await call(i, 'DELETE', `/swarms/${id}`);
  });
});
