/**
 * Rate limits on a real two-node ring (TLS links, the node API over HTTP): a limited seeder or a
 * limited leecher makes a 1 MiB download take at least the time the limit allows, and a limit
 * lifted at run time through the API lets a download that would take minutes finish. Only lower
 * bounds on time are asserted: the machine is shared and slow, never too fast.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FAST_SWARM, startPpspNet, type PpspNet } from '../../helpers/ppsp-net.js';
import { waitForAsync } from '../../helpers/wait.js';

const MIB = 1 << 20;
/** 200 KB/s: 1 MiB takes 5.2 s at the limit, 4.7 s less the bursts (0.25 s of rate at each end). */
const LIMIT = 200_000;
const AT_LEAST_MS = 4000;

describe('PPSP rate limits over TLS', function () {
  this.timeout(120_000);
  let p: PpspNet;
  let files = 0;

  before(async () => {
    p = await startPpspNet(2, { swarm: { ...FAST_SWARM, requestTimeoutMs: 2000 } });
  });

  after(async () => {
    await p?.stop();
  });

  const call = async (i: number, method: string, path: string, body?: unknown) => {
    const { status, json } = await p.call(i, method, path, body);
    expect(status, `${method} ${path}: ${JSON.stringify(json)}`).to.equal(200);
    return json;
  };

  /** Seeds 1 MiB of fresh bytes on node 0 (with `seedBody`); returns the swarm ID, the bytes and where node 1 writes them. */
  async function seed(seedBody: Record<string, unknown> = {}) {
    const content = randomBytes(MIB);
    const path = join(p.dir, `file-${++files}.bin`);
    await writeFile(path, content);
    const { swarmId } = (await call(0, 'POST', '/swarms', { path, ...seedBody })) as { swarmId: string };
    return { id: swarmId, content, out: join(p.dir, `out-${files}.bin`) };
  }

  const complete = async (id: string) => (await call(1, 'GET', `/swarms/${id}`)).complete === true;

  /** Node 1 downloads swarm `id` (with `body`) to the end; the time it took, ms. */
  async function timedDownload(id: string, out: string, content: Buffer, body: Record<string, unknown> = {}): Promise<number> {
    const started = Date.now();
    await call(1, 'POST', `/swarms/${id}/download`, { out, ...body });
    await waitForAsync(() => complete(id), 60_000, 'the limited download');
    const took = Date.now() - started;
    expect((await readFile(out)).equals(content), 'downloaded bytes').to.equal(true);
    return took;
  }

  const stopBoth = async (id: string) => {
    for (const i of [0, 1]) await call(i, 'DELETE', `/swarms/${id}`);
  };

  const sample = (i: number, name: string, id: string) => {
    const m = new RegExp(`^${name}\\{swarm="${id}"\\} (\\S+)$`, 'm').exec(p.net.nodes[i]!.metrics.render());
    return m ? Number(m[1]) : undefined;
  };

  it('a seeder whose swarm is limited to 200 KB/s serves 1 MiB in no less than 4 s, and counts the time it waited', async () => {
    const { id, content, out } = await seed({ uploadLimit: LIMIT });
    const took = await timedDownload(id, out, content);
    expect(took, 'ms for 1 MiB from a seeder limited to 200 KB/s').to.be.at.least(AT_LEAST_MS);
    expect(sample(0, 'reload_ppsp_upload_throttled_seconds_total', id)).to.be.above(1);
    await stopBoth(id);
  });

  it('a leecher whose download is limited to 200 KB/s takes no less than 4 s for 1 MiB from an unlimited seeder', async () => {
    const { id, content, out } = await seed();
    const took = await timedDownload(id, out, content, { downloadLimit: LIMIT });
    expect(took, 'ms for 1 MiB with a download limit of 200 KB/s').to.be.at.least(AT_LEAST_MS);
    expect(sample(1, 'reload_ppsp_download_throttled_seconds_total', id)).to.be.above(1);
    await stopBoth(id);
  });

  it('a node-wide upload limit of 10 KB/s (minutes for 1 MiB) lifted at run time through the API lets the download finish', async () => {
    expect(await call(0, 'POST', '/limits', { uploadLimit: 10_000 })).to.deep.equal({ uploadLimit: 10_000, downloadLimit: 0 });
    try {
      const { id, content, out } = await seed();
      await call(1, 'POST', `/swarms/${id}/download`, { out });
      // Chunks come, slowly: the limit lets the download start but not finish.
      await waitForAsync(async () => ((await call(1, 'GET', `/swarms/${id}`)).have as number) > 0, 30_000, 'a first chunk under the limit');
      expect(await complete(id)).to.equal(false);
      expect(await call(0, 'POST', '/limits', { uploadLimit: 0 })).to.deep.equal({ uploadLimit: 0, downloadLimit: 0 });
      // At 10 KB/s the rest would take over 100 s: finishing within 30 s needs the lifted limit.
      await waitForAsync(() => complete(id), 30_000, 'the download after the limit was lifted');
      expect((await readFile(out)).equals(content)).to.equal(true);
      await stopBoth(id);
    } finally {
      await call(0, 'POST', '/limits', { uploadLimit: 0 });
    }
  });
});
