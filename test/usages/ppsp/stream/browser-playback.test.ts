/**
 * A real browser plays a swarm while it downloads: headless Chromium opens a page whose `<video>`
 * has the stream's capability URL as its source (a page cannot send the API token), plays past 2 s,
 * then seeks to the middle and plays on, with no media error, while the viewer's download (from a
 * seeder limited to about a tenth of the file per second) is still incomplete.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApi, type ApiServer } from '../../../../overlay/api/http-api.js';
import { ppspApi } from '../../../../usages/ppsp/ppsp-api.js';
import { PpspUsage } from '../../../../usages/ppsp/ppsp-usage.js';
import { withBrowser } from '../../../helpers/browser.js';
import { httpRequest } from '../../../helpers/http.js';
import { makeMp4 } from '../../../helpers/media.js';
import { startTestnet, type Testnet } from '../../../helpers/testnet.js';
import { waitFor } from '../../../helpers/wait.js';

const PROPS = { accessType: 'fixed' as const, upKbps: 10_000, downKbps: 10_000, nat: 'unknown' as const, uptimeSec: 0 };
const FAST = { tickIntervalMs: 50, rechokeIntervalMs: 300, requestTimeoutMs: 3000, redialIntervalMs: 300 };
const TOKEN = randomBytes(32).toString('hex');
const AUTH = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
const SECONDS = 20;

describe('a browser plays a swarm while it downloads', function () {
  this.timeout(120_000);
  let net: Testnet;
  let dir: string;
  let api: ApiServer;
  const usages: PpspUsage[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ppsp-browser-'));
    net = await startTestnet(2, {
      beforeStart: (node, i) => {
        usages[i] = new PpspUsage({ properties: PROPS, data: { swarm: FAST } });
        usages[i]!.attach(node);
      },
    });
    for (const u of usages) await u.start();
    api = await startApi(net.nodes[1]!, { host: '127.0.0.1', port: 0, token: TOKEN }, [ppspApi(usages[1]!)]);
  });

  after(async () => {
    await api?.close();
    for (const u of usages) await u.stop();
    await net?.stopAll();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const post = async (path: string, body: unknown) => {
    const r = await httpRequest(`http://${api.address}`, path, { method: 'POST', headers: AUTH, body: JSON.stringify(body) });
    expect(r.status, r.text).to.equal(200);
    return JSON.parse(r.text) as Record<string, unknown>;
  };

  it('<video src=capability URL> plays past 2 s, seeks to the middle and plays on, before the download is complete', async () => {
    const source = await makeMp4(dir, SECONDS, 'movie.mp4');
    const bytes = await readFile(source);
    const { swarmId } = await usages[0]!.seed(source, { uploadLimit: Math.round(bytes.length / 10) });
    await post(`/swarms/${swarmId}/download`, { out: join(dir, 'got.mp4') });
    const { streamUrl } = (await post(`/swarms/${swarmId}/capability`, {})) as { streamUrl: string };
    const swarm = usages[1]!.swarm(swarmId)!;

    await withBrowser(async (browser) => {
      const page = await browser.newPage();
      await page.setContent(`<video id="v" muted autoplay src="${streamUrl}"></video>`);
      // Page code as text: the test is compiled without the DOM's types.
      const video = `document.getElementById('v')`;
      const state = () =>
        page.evaluate(`({ time: ${video}.currentTime, duration: ${video}.duration, error: ${video}.error && (${video}.error.code + ' ' + ${video}.error.message) })`) as Promise<{
          time: number;
          duration: number;
          error: string | null;
        }>;
      await page.waitForFunction(`${video}.currentTime > 2`, undefined, { timeout: 60_000 });
      const played = await state();
      expect(played.error).to.equal(null);
      expect(played.duration).to.be.within(SECONDS - 0.5, SECONDS + 0.5);
      expect(swarm.complete, 'the download was complete before the video had played 2 s').to.equal(false);

      const middle = played.duration / 2;
      await page.evaluate(`${video}.currentTime = ${middle}`);
      await page.waitForFunction(`${video}.currentTime > ${middle + 1}`, undefined, { timeout: 60_000 });
      expect((await state()).error).to.equal(null);
    });
    await waitFor(() => swarm.complete, 60_000, 'the download');
    expect((await readFile(swarm.path)).equals(bytes)).to.equal(true);
  });
});
