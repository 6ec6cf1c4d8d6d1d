/**
 * GET /swarms/<id>/stream against the file itself: single, suffix and multiple ranges, HEAD, 416,
 * ETag revalidation, a client that goes away mid-body, and a capability URL without the token.
 * Two nodes over real TLS, the node API over real HTTP.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApi, type ApiServer } from '../../../../overlay/api/http-api.js';
import { ppspApi } from '../../../../usages/ppsp/ppsp-api.js';
import { PpspUsage } from '../../../../usages/ppsp/ppsp-usage.js';
import { httpRequest, type HttpAnswer } from '../../../helpers/http.js';
import { parseMultipartByteranges } from '../../../helpers/multipart.js';
import { fuzzSeed, Prng } from '../../../helpers/prng.js';
import { startTestnet, type Testnet } from '../../../helpers/testnet.js';
import { waitFor } from '../../../helpers/wait.js';

const PROPS = { accessType: 'fixed' as const, upKbps: 10_000, downKbps: 10_000, nat: 'unknown' as const, uptimeSec: 0 };
const TOKEN = randomBytes(32).toString('hex');
const AUTH = { authorization: `Bearer ${TOKEN}` };

/** The parts of a multipart/byteranges body: each part's Content-Range and bytes. */
function parseMultipart(answer: HttpAnswer): { range: string; type: string; bytes: Buffer }[] {
  return parseMultipartByteranges(String(answer.headers['content-type']), answer.body).map((p) => ({ range: p.headers['content-range']!, type: p.headers['content-type']!, bytes: p.bytes }));
}

describe('media endpoint: GET /swarms/<id>/stream', function () {
  this.timeout(60_000);
  let net: Testnet;
  let dir: string;
  let api: ApiServer;
  let content: Buffer;
  let swarmId: string;
  const usages: PpspUsage[] = [];
  const get = (range?: string, extra: Record<string, string> = {}, method = 'GET') =>
    httpRequest(`http://${api.address}`, `/swarms/${swarmId}/stream`, { method, headers: { ...AUTH, ...(range ? { range } : {}), ...extra } });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ppsp-stream-'));
    net = await startTestnet(1, {
      beforeStart: (node, i) => {
        usages[i] = new PpspUsage({ properties: PROPS });
        usages[i]!.attach(node);
      },
    });
    for (const u of usages) await u.start();
    api = await startApi(net.nodes[0]!, { host: '127.0.0.1', port: 0, token: TOKEN }, [ppspApi(usages[0]!)]);
    // Not a multiple of the chunk size, so the last chunk is short.
    content = randomBytes(3 * 1024 * 1024 + 12_345);
    const path = join(dir, 'clip "one".mp4');
    await writeFile(path, content);
    swarmId = (await usages[0]!.seed(path)).swarmId;
  });

  after(async () => {
    await api?.close();
    for (const u of usages) await u.stop();
    await net?.stopAll();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a plain GET is the whole file with its type, name, length and a strong ETag; If-None-Match is 304', async () => {
    const a = await get();
    expect(a.status).to.equal(200);
    expect(a.headers['accept-ranges']).to.equal('bytes');
    expect(a.headers['content-type']).to.equal('video/mp4');
    expect(a.headers['content-length']).to.equal(String(content.length));
    expect(a.headers['content-disposition']).to.equal(`inline; filename="clip _one_.mp4"; filename*=UTF-8''clip%20%22one%22.mp4`);
    expect(a.headers.etag).to.equal(`"${swarmId}"`);
    expect(a.body.equals(content)).to.equal(true);
    const again = await get(undefined, { 'if-none-match': `"${swarmId}"` });
    expect(again.status).to.equal(304);
    expect(again.body.length).to.equal(0);
  });

  it('200 random single ranges (first-last, open, suffix) are 206 with the exact bytes and Content-Range', async () => {
    const prng = new Prng(fuzzSeed());
    const size = content.length;
    for (let i = 0; i < 200; i++) {
      const kind = prng.int(3);
      const a = prng.int(size);
      const b = a + prng.int(Math.min(size - a, 200_000));
      const suffix = 1 + prng.int(100_000);
      const [header, start, end] =
        kind === 0 ? [`bytes=${a}-${b}`, a, b] : kind === 1 ? [`bytes=${size - 1 - prng.int(50_000)}-`, -1, size - 1] : [`bytes=-${suffix}`, size - suffix, size - 1];
      const from = kind === 1 ? Number(/=(\d+)-/.exec(header)![1]) : start;
      const r = await get(header);
      expect(r.status, header).to.equal(206);
      expect(r.headers['content-range'], header).to.equal(`bytes ${from}-${end}/${size}`);
      expect(r.headers['content-length'], header).to.equal(String(end - from + 1));
      expect(r.body.equals(content.subarray(from, end + 1)), header).to.equal(true);
    }
  });

  it('several ranges in one request are one multipart/byteranges answer, in the order asked, overlaps merged', async () => {
    const size = content.length;
    const r = await get(`bytes=${size - 100}-, 0-99, 1000000-1100000, 50-149`);
    expect(r.status).to.equal(206);
    expect(r.headers['content-type']).to.match(/^multipart\/byteranges; boundary=[0-9a-f]{48}$/);
    expect(Number(r.headers['content-length'])).to.equal(r.body.length);
    const parts = parseMultipart(r);
    expect(parts.map((p) => p.range)).to.deep.equal([`bytes ${size - 100}-${size - 1}/${size}`, `bytes 0-149/${size}`, `bytes 1000000-1100000/${size}`]);
    expect(parts.every((p) => p.type === 'video/mp4')).to.equal(true);
    expect(parts[0]!.bytes.equals(content.subarray(size - 100))).to.equal(true);
    expect(parts[1]!.bytes.equals(content.subarray(0, 150))).to.equal(true);
    expect(parts[2]!.bytes.equals(content.subarray(1_000_000, 1_100_001))).to.equal(true);
  });

  it('HEAD has the headers of GET and no body; a range past the end is 416 with bytes */size; a bad Range header is ignored', async () => {
    const head = await get('bytes=10-19', {}, 'HEAD');
    expect(head.status).to.equal(206);
    expect(head.headers['content-range']).to.equal(`bytes 10-19/${content.length}`);
    expect(head.headers['content-length']).to.equal('10');
    expect(head.body.length).to.equal(0);
    const past = await get(`bytes=${content.length}-`);
    expect(past.status).to.equal(416);
    expect(past.headers['content-range']).to.equal(`bytes */${content.length}`);
    for (const bad of ['bytes=5-1', 'items=0-5', 'bytes=abc', 'bytes=']) {
      const r = await get(bad);
      expect(r.status, bad).to.equal(200);
      expect(r.body.length, bad).to.equal(content.length);
    }
    const stale = await get('bytes=0-9', { 'if-range': '"another"' });
    expect(stale.status, 'If-Range that does not match: the whole file').to.equal(200);
  });

  it('a client that goes away mid-body ends its response and its reader; the endpoint serves on', async () => {
    const swarm = usages[0]!.swarm(swarmId)!;
    await new Promise<void>((resolve, reject) => {
      const u = new URL(`http://${api.address}`);
      const req = request({ host: u.hostname, port: u.port, path: `/swarms/${swarmId}/stream`, headers: AUTH }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (e) => (req.destroyed ? undefined : reject(e)));
      req.end();
    });
    await waitFor(() => swarm.readerCount === 0, 5000, 'the reader of the closed response');
    expect((await get('bytes=0-9')).body.equals(content.subarray(0, 10))).to.equal(true);
  });

  it('a read capability URL opens the stream without the token, and only that swarm', async () => {
    const minted = await httpRequest(`http://${api.address}`, `/swarms/${swarmId}/capability`, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: '{}' });
    const { streamUrl } = JSON.parse(minted.text) as { streamUrl: string };
    const u = new URL(streamUrl);
    expect(u.pathname).to.equal(`/swarms/${swarmId}/stream`);
    const r = await httpRequest(`http://${api.address}`, `${u.pathname}${u.search}`, { headers: { range: 'bytes=0-99' } });
    expect(r.status).to.equal(206);
    expect(r.body.equals(content.subarray(0, 100))).to.equal(true);
    const other = await httpRequest(`http://${api.address}`, `/swarms/${'0'.repeat(64)}/stream${u.search}`);
    expect(other.status).to.equal(401);
  });
});
