/**
 * The media fixtures and readers of media.ts, checked on their own: the files ffmpeg makes are what
 * the streaming tests rely on (an MP4 whose index is at the end, a 1 MiB-ish MPEG-TS, both H.264 +
 * AAC of the asked duration), and probe() and decodeAll() read them from a URL, fail with what
 * ffmpeg said, and kill ffmpeg when it hangs. The URL is a tiny static server here, over loopback,
 * with just enough Range support for ffprobe to seek.
 */
import { expect } from 'chai';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { contentRange, parseRange } from '../../usages/ppsp/stream/byte-ranges.js';
import { decodeAll, makeMp4, makeTs, mp4Boxes, probe } from './media.js';
import { rejection } from './rejection.js';
import { waitFor } from './wait.js';

const SECONDS = 10;
const FRAME_RATE = 25; // testsrc's rate in media.ts

/** Serves the files of `files` by base name; /hang accepts and never answers. */
async function startStaticServer(files: string[]): Promise<{ base: string; requests: { path: string; range?: string }[]; sockets: Set<Socket>; server: Server }> {
  const byName = new Map(files.map((f) => [`/${basename(f)}`, f]));
  const requests: { path: string; range?: string }[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req: IncomingMessage, res) => {
    requests.push({ path: req.url ?? '', range: req.headers.range });
    if (req.url === '/hang') return;
    const file = byName.get(req.url ?? '');
    if (!file) return void res.writeHead(404).end();
    void stat(file).then(({ size }) => {
      const wanted = parseRange(req.headers.range, size);
      // One range is all ffprobe and ffmpeg ask for; anything else gets the whole file.
      if (wanted.kind === 'ranges' && wanted.ranges.length === 1) {
        const r = wanted.ranges[0]!;
        res.writeHead(206, { 'accept-ranges': 'bytes', 'content-range': contentRange(r, size), 'content-length': r.end - r.start + 1 });
        createReadStream(file, { start: r.start, end: r.end }).pipe(res);
      } else {
        res.writeHead(200, { 'accept-ranges': 'bytes', 'content-length': size });
        createReadStream(file).pipe(res);
      }
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, sockets, server };
}

describe('media fixtures (test/helpers/media.ts)', function () {
  this.timeout(60_000);
  let dir: string;
  let mp4: string;
  let ts: string;
  let http: Awaited<ReturnType<typeof startStaticServer>>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'media-'));
    mp4 = await makeMp4(dir, SECONDS);
    ts = await makeTs(dir);
    http = await startStaticServer([mp4, ts]);
  });

  after(async () => {
    http?.server.closeAllConnections();
    await new Promise((resolve) => http?.server.close(resolve) ?? resolve(undefined));
    await rm(dir, { recursive: true, force: true });
  });

  it('makeMp4: a small MP4 with its index (moov) after the media data (mdat), as without +faststart', async () => {
    const { size } = await stat(mp4);
    expect(size).to.be.within(200_000, 2_000_000);
    const boxes = await mp4Boxes(mp4);
    expect(boxes.has('mdat') && boxes.has('moov'), [...boxes.keys()].join(',')).to.equal(true);
    expect(boxes.get('moov')!).to.be.greaterThan(boxes.get('mdat')!);
  });

  it('makeMp4 gives the same bytes each time (a failure is reproduced with the same file)', async () => {
    const again = await makeMp4(dir, SECONDS, 'again.mp4');
    expect((await readFile(again)).equals(await readFile(mp4))).to.equal(true);
  });

  it('makeTs: an MPEG-TS of about 1 MiB (188-byte packets, each opening with 0x47)', async () => {
    const bytes = await readFile(ts);
    expect(bytes.length).to.be.within(768 << 10, 1536 << 10);
    expect(bytes.length % 188).to.equal(0);
    expect([0, 188, bytes.length - 188].map((at) => bytes[at])).to.deep.equal([0x47, 0x47, 0x47]);
  });

  it('probe reads duration and H.264 + AAC streams of the MP4 over HTTP, seeking to the index at the end', async () => {
    const got = await probe(`${http.base}/${basename(mp4)}`);
    expect(got.durationSec).to.be.closeTo(SECONDS, 0.2);
    expect(got.streams).to.deep.include({ codec_type: 'video', codec_name: 'h264' });
    expect(got.streams).to.deep.include({ codec_type: 'audio', codec_name: 'aac' });
    // The index is past the media data, so ffprobe had to ask for a range that starts there.
    const moovAt = (await mp4Boxes(mp4)).get('moov')!;
    const starts = http.requests.filter((r) => r.path === `/${basename(mp4)}` && r.range).map((r) => Number(/^bytes=(\d+)-/.exec(r.range!)?.[1]));
    expect(starts.some((s) => s > 0 && s <= moovAt), `ranges asked: ${starts.join(', ')}`).to.equal(true);
  });

  it('decodeAll decodes every frame of the MP4 over HTTP with nothing on stderr', async () => {
    const seen: number[] = [];
    const got = await decodeAll(`${http.base}/${basename(mp4)}`, (n) => seen.push(n));
    expect(got).to.deep.equal({ frames: SECONDS * FRAME_RATE, errors: '' });
    expect(seen.at(-1)).to.equal(SECONDS * FRAME_RATE);
  });

  it('probe and decodeAll read the MPEG-TS over HTTP: 30 s, H.264 + AAC, every frame', async () => {
    const url = `${http.base}/${basename(ts)}`;
    const got = await probe(url);
    expect(got.durationSec).to.be.closeTo(30, 0.3);
    expect(got.streams.map((s) => `${s.codec_type}/${s.codec_name}`).sort()).to.deep.equal(['audio/aac', 'video/h264']);
    expect(await decodeAll(url)).to.deep.equal({ frames: 30 * FRAME_RATE, errors: '' });
  });

  it('a URL that is not there fails with what ffprobe and ffmpeg said', async () => {
    const url = `${http.base}/missing.mp4`;
    expect((await rejection(probe(url))).message).to.match(/ffprobe .*missing\.mp4 failed.*404/s);
    expect((await rejection(decodeAll(url))).message).to.match(/ffmpeg -i .*missing\.mp4 exited with 1: .*404/s);
  });

  it('a URL that never answers: ffprobe and ffmpeg are killed at the timeout, and their connections close', async () => {
    const url = `${http.base}/hang`;
    const hangs = () => http.requests.filter((r) => r.path === '/hang').length;
    const before = hangs();
    expect((await rejection(probe(url, 1000))).message).to.match(/ffprobe .*hang timed out after 1000 ms and was killed/);
    expect((await rejection(decodeAll(url, () => {}, 1000))).message).to.match(/ffmpeg -i .*hang timed out after 1000 ms \(0 frames\) and was killed/);
    expect(hangs() - before).to.equal(2);
    // A killed process's socket is closed by the kernel: nothing holds the server open.
    await waitFor(() => http.sockets.size === 0, 5000, 'the killed readers to drop their connections');
  });
});
