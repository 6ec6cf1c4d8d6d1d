/**
 * A real browser plays a swarm while it downloads: headless Chromium opens a page whose `<video>`
 * has the stream's capability URL as its source (a page cannot send the API token), plays past 2 s,
 * then seeks to the middle and plays on, with no media error, while the viewer's download (from a
 * seeder limited to about a tenth of the file per second) is still incomplete.
 */
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withBrowser } from '../../../helpers/browser.js';
import { makeMp4 } from '../../../helpers/media.js';
import { startPpspNet, type PpspNet } from '../../../helpers/ppsp-net.js';
import { waitFor } from '../../../helpers/wait.js';

const SECONDS = 20;

describe('a browser plays a swarm while it downloads', function () {
  this.timeout(120_000);
  let p: PpspNet;

  before(async () => {
    p = await startPpspNet(2);
  });

  after(async () => {
    await p?.stop();
  });

  it('<video src=capability URL> plays past 2 s, seeks to the middle and plays on, before the download is complete', async () => {
    const source = await makeMp4(p.dir, SECONDS, 'movie.mp4');
    const bytes = await readFile(source);
    const { swarmId } = await p.usages[0]!.seed(source, { uploadLimit: Math.round(bytes.length / 10) });
    await p.post(`/swarms/${swarmId}/download`, { out: join(p.dir, 'got.mp4') });
    const { streamUrl } = (await p.post(`/swarms/${swarmId}/capability`, {})) as { streamUrl: string };
    const swarm = p.usages[1]!.swarm(swarmId)!;

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
