/**
 * Watching while it downloads, with real players: a seeder limited to ~1/5 of the file per second
 * serves real media (an MP4 with its index at the end, and an MPEG-TS) over TLS; the viewer node
 * starts the download through its API and hands ffprobe and ffmpeg the stream's capability URL, as
 * a user hands it to a player. ffprobe must read the duration and streams, and ffmpeg must decode
 * frames, while the download is still incomplete; ffmpeg then decodes every frame with no error.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApi, type ApiServer } from '../../../../overlay/api/http-api.js';
import { ppspApi } from '../../../../usages/ppsp/ppsp-api.js';
import { PpspUsage } from '../../../../usages/ppsp/ppsp-usage.js';
import { httpRequest } from '../../../helpers/http.js';
import { decodeAll, makeMp4, makeTs, mp4Boxes, probe } from '../../../helpers/media.js';
import { startTestnet, type Testnet } from '../../../helpers/testnet.js';
import { waitFor } from '../../../helpers/wait.js';

const PROPS = { accessType: 'fixed' as const, upKbps: 10_000, downKbps: 10_000, nat: 'unknown' as const, uptimeSec: 0 };
const FAST = { tickIntervalMs: 50, rechokeIntervalMs: 300, requestTimeoutMs: 3000, redialIntervalMs: 300 };
const TOKEN = randomBytes(32).toString('hex');
const AUTH = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
/** Seconds the seeder's upload limit stretches each download to, about. */
const DOWNLOAD_SECONDS = 6;

describe('streaming a download in progress to ffprobe and ffmpeg', function () {
  this.timeout(120_000);
  let net: Testnet;
  let dir: string;
  let api: ApiServer;
  const usages: PpspUsage[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ppsp-watch-'));
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

  async function watch(source: string, name: string) {
    const bytes = await readFile(source);
    const { swarmId } = await usages[0]!.seed(source, { uploadLimit: Math.round(bytes.length / DOWNLOAD_SECONDS) });
    await post(`/swarms/${swarmId}/download`, { out: join(dir, `got-${name}`) });
    const { streamUrl } = (await post(`/swarms/${swarmId}/capability`, {})) as { streamUrl: string };
    const swarm = usages[1]!.swarm(swarmId)!;
    const percent = () => Math.round((100 * swarm.progress.have) / Math.max(1, swarm.progress.total));
    return { swarmId, swarm, streamUrl, bytes, percent };
  }

  for (const kind of ['mp4', 'ts'] as const) {
    it(`${kind === 'mp4' ? 'an MP4 with its index at the end' : 'an MPEG-TS'}: probed and decoded while the download is incomplete, every frame, no error`, async () => {
      // ffprobe reads the first 5 s of a TS to find its streams: a longer one leaves most of it to stream.
      const seconds = kind === 'mp4' ? 10 : 30;
      const source = kind === 'mp4' ? await makeMp4(dir, seconds, 'source.mp4') : await makeTs(dir, seconds, 'source.ts');
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
