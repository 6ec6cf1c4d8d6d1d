/**
 * Watching while it downloads, with real players: a seeder limited to ~1/5 of the file per second
 * serves real media (an MP4 with its index at the end, and an MPEG-TS) over TLS; the viewer node
 * starts the download through its API and hands ffprobe and ffmpeg the stream's capability URL, as
 * a user hands it to a player. ffprobe must read the duration and streams, and ffmpeg must decode
 * frames, while the download is still incomplete; ffmpeg then decodes every frame with no error.
 */
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeAll, makeMp4, makeTs, mp4Boxes, probe } from '../../../helpers/media.js';
import { startPpspNet, type PpspNet } from '../../../helpers/ppsp-net.js';
import { waitFor } from '../../../helpers/wait.js';

/** Seconds the seeder's upload limit stretches each download to, about. */
const DOWNLOAD_SECONDS = 6;

describe('streaming a download in progress to ffprobe and ffmpeg', function () {
  this.timeout(120_000);
  let p: PpspNet;

  before(async () => {
    p = await startPpspNet(2);
  });

  after(async () => {
    await p?.stop();
  });

  async function watch(source: string, name: string) {
    const bytes = await readFile(source);
    const { swarmId } = await p.usages[0]!.seed(source, { uploadLimit: Math.round(bytes.length / DOWNLOAD_SECONDS) });
    await p.post(`/swarms/${swarmId}/download`, { out: join(p.dir, `got-${name}`) });
    const { streamUrl } = (await p.post(`/swarms/${swarmId}/capability`, {})) as { streamUrl: string };
    const swarm = p.usages[1]!.swarm(swarmId)!;
    const percent = () => Math.round((100 * swarm.progress.have) / Math.max(1, swarm.progress.total));
    return { swarmId, swarm, streamUrl, bytes, percent };
  }

  for (const kind of ['mp4', 'ts'] as const) {
    it(`${kind === 'mp4' ? 'an MP4 with its index at the end' : 'an MPEG-TS'}: probed and decoded while the download is incomplete, every frame, no error`, async () => {
      // ffprobe reads the first 5 s of a TS to find its streams: a longer one leaves most of it to stream.
      const seconds = kind === 'mp4' ? 10 : 30;
      const source = kind === 'mp4' ? await makeMp4(p.dir, seconds, 'source.mp4') : await makeTs(p.dir, seconds, 'source.ts');
      if (kind === 'mp4') {
        const boxes = await mp4Boxes(source);
        expect(boxes.get('moov')!, 'the index comes after the media data').to.be.greaterThan(boxes.get('mdat')!);
      }
      const { swarm, streamUrl, bytes, percent } = await watch(source, `source.${kind}`);

      const probed = await probe(streamUrl);
      const percentAfterProbe = percent();
      expect(swarm.complete, `ffprobe finished only once the download was complete (${percentAfterProbe} %)`).to.equal(false);
      expect(probed.durationSec).to.be.within(seconds - 0.5, seconds + 0.5);
      expect(probed.streams.map((s) => `${s.codec_type}/${s.codec_name}`).sort()).to.deep.equal(['audio/aac', 'video/h264']);

      let decodedWhileIncomplete = 0;
      let percentThen = 0;
      const decoded = await decodeAll(streamUrl, (frames) => {
        if (!swarm.complete && frames > decodedWhileIncomplete) {
          decodedWhileIncomplete = frames;
          percentThen = percent();
        }
      });
      expect(decoded.errors).to.equal('');
      expect(decoded.frames).to.equal(seconds * 25);
      expect(decodedWhileIncomplete, `frames decoded before the download was complete (it was at ${percentThen} % then)`).to.be.at.least(25);
      await waitFor(() => swarm.complete, 60_000, 'the download');
      expect((await readFile(swarm.path)).equals(bytes)).to.equal(true);
    });
  }
});
