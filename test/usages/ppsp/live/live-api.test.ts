/**
 * Live channels through the node API over real HTTP, between in-process nodes over real TLS: a
 * channel is started and fed with POST /live and its input, viewers watch it with POST
 * /swarms/<id>/watch and read GET /swarms/<id>/stream, an unending body that starts at the viewer's
 * playback point and ends after the source's last chunk.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { startPpspNet, type PpspNet } from '../../../helpers/ppsp-net.js';
import { httpRequest } from '../../../helpers/http.js';
import { waitFor } from '../../../helpers/wait.js';
import { DEFAULT_STARTUP_MS, type LiveSwarm } from '../../../../usages/ppsp/live/live-swarm.js';

/** Input bytes whose every 4-byte word is its own offset: any run of them says where it came from. */
function counting(from: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i += 4) b.writeUInt32BE((from + i) >>> 0, i);
  return b;
}

/** Reads a streaming body until `enough` says so or it ends; returns the bytes and whether it ended. */
async function readStream(url: string, headers: Record<string, string>, enough: (got: Buffer) => boolean, timeoutMs: number): Promise<{ bytes: Buffer; ended: boolean; status: number; type: string | null }> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
  const reader = res.body!.getReader();
  const parts: Buffer[] = [];
  let ended = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        ended = true;
        break;
      }
      parts.push(Buffer.from(value));
      if (enough(Buffer.concat(parts))) break;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return { bytes: Buffer.concat(parts), ended, status: res.status, type: res.headers.get('content-type') };
}

describe('live channels through the node API', function () {
  this.timeout(90_000);
  let net: PpspNet;
  let feed: NodeJS.Timeout | undefined;
  afterEach(async () => {
    clearInterval(feed);
    await net?.stop();
  });

  it('broadcast, watch, stream from the playback point, a late viewer starts at the live edge, the end ends every stream', async () => {
    net = await startPpspNet(3);
    const auth = { authorization: `Bearer ${net.token}` };
    const bytes = { ...auth, 'content-type': 'application/octet-stream' };
    const base = (i: number) => `http://${net.apis[i]!.address}`;
    // Counting bytes, not MPEG-TS: the stream starts where the playback is, not at a picture.
    const started = await net.call(0, 'POST', '/live', { name: 'api channel', type: 'application/octet-stream', chunkSize: 4096, windowChunks: 1024 });
    expect(started.status, JSON.stringify(started.json)).to.equal(200);
    const id = started.json.swarmId as string;
    expect(started.json).to.include({ live: true, role: 'live-source', name: 'api channel', type: 'application/octet-stream' });
    // About 16 chunks a second, in input requests of 2 KiB as `reload-ppsp live` sends them.
    let offset = 0;
    let sending = Promise.resolve();
    feed = setInterval(() => {
      const part = counting(offset, 2048);
      offset += part.length;
      sending = sending.then(async () => {
        const r = await httpRequest(base(0), `/live/${id}/input`, { method: 'POST', headers: bytes, body: part });
        expect(r.status, r.text).to.equal(200);
      });
    }, 31);

    const watch = await net.call(1, 'POST', `/swarms/${id}/watch`, {});
    expect(watch.status, JSON.stringify(watch.json)).to.equal(200);
    expect(watch.json).to.include({ live: true, started: true, role: 'live-viewer' });
    const viewer = net.usages[1]!.live.get(id)!;
    await waitFor(() => viewer.playback?.state === 'playing', 20_000, 'viewer 1 plays');

    // A stream from viewer 1 with a capability URL, as a player opens it.
    const cap = await net.call(1, 'POST', `/swarms/${id}/capability`, {});
    const first = await readStream(cap.json.streamUrl as string, {}, (b) => b.length >= 64 * 1024, 20_000);
    expect(first.status).to.equal(200);
    expect(first.type).to.equal('application/octet-stream');
    // The bytes are the input's, in order, from where the stream started (each word is its offset).
    const at = first.bytes.readUInt32BE(0);
    expect(first.bytes.equals(counting(at, first.bytes.length))).to.equal(true);

    // A viewer that comes 6 s later starts the start-up distance behind the newest chunk, not at 0.
    await waitFor(() => offset >= 6 * 64 * 1024, 20_000, '6 s of channel');
    const source = net.usages[0]!.live.get(id)!;
    const newestAtJoin = source.window.newest;
    expect((await net.call(2, 'POST', `/swarms/${id}/watch`, {})).status).to.equal(200);
    const late = net.usages[2]!.live.get(id)!;
    await waitFor(() => late.playback?.state === 'playing', 20_000, 'viewer 2 plays');
    const startChunk = late.playback!.position!;
    const startupChunks = Math.ceil((DEFAULT_STARTUP_MS / 1000) * source.figures().chunksPerSec);
    expect(startChunk).to.be.within(newestAtJoin - startupChunks - 2, newestAtJoin + 2);
    const lateBytes = await readStream(`${base(2)}/swarms/${id}/stream`, auth, (b) => b.length >= 8192, 20_000);
    // The stream began at a chunk the playback was at while the request came: at or after its start.
    const lateAt = lateBytes.bytes.readUInt32BE(0);
    const streamStart = chunkAt(source, lateAt);
    expect(streamStart).to.be.within(startChunk, late.playback!.position!);

    // Figures in the API and in /metrics.
    const status = await net.call(2, 'GET', `/swarms/${id}`);
    expect(status.json).to.include({ live: true, role: 'live-viewer' });
    const playback = status.json.playback as Record<string, unknown>;
    expect(playback.startupDelayMs).to.be.a('number');
    expect(playback.continuity).to.be.a('number');
    const metrics = await httpRequest(base(2), '/metrics', { headers: auth });
    expect(metrics.text).to.match(new RegExp(`reload_ppsp_live_continuity_ratio\\{swarm="${id}"\\} [0-9.]+`));
    expect(metrics.text).to.match(new RegExp(`reload_ppsp_live_lag_seconds\\{swarm="${id}"\\} [0-9.]+`));

    // The end: every open stream gets the last byte and ends; more input is refused.
    const open = readStream(`${base(1)}/swarms/${id}/stream`, auth, () => false, 30_000);
    await waitFor(() => offset > 0 && source.window.newest > newestAtJoin + 10, 10_000, 'more channel');
    clearInterval(feed);
    await sending;
    const ended = await net.call(0, 'POST', `/live/${id}/end`, {});
    expect(ended.json).to.include({ ended: true });
    const tail = await open;
    expect(tail.ended).to.equal(true);
    expect(tail.bytes.readUInt32BE(tail.bytes.length - 4)).to.equal(offset - 4);
    const after = await httpRequest(base(0), `/live/${id}/input`, { method: 'POST', headers: bytes, body: Buffer.alloc(10) });
    expect(after.status).to.equal(403);
    expect(JSON.parse(after.text)).to.include({ reason: 'channel_ended' });
  });

  it('refuses bad requests with a clear error, and DELETE stops a channel', async () => {
    net = await startPpspNet(2, { apiOn: 0 });
    expect((await net.call(0, 'POST', '/live', { name: '' })).status).to.equal(400);
    expect((await net.call(0, 'POST', '/live', { windowChunks: 5 })).json.message).to.match(/windowChunks/);
    expect((await net.call(0, 'POST', '/live', { chunkSize: 1000 })).json.message).to.match(/chunkSize/);
    expect((await net.call(0, 'GET', '/live')).status).to.equal(405);
    const unknown = 'ab'.repeat(32);
    expect((await net.call(0, 'POST', `/live/${unknown}/input`)).status).to.equal(404);
    const { json } = await net.call(0, 'POST', '/live', {});
    const id = json.swarmId as string;
    const big = await httpRequest(`http://${net.apis[0]!.address}`, `/live/${id}/input`, { method: 'POST', headers: { authorization: `Bearer ${net.token}`, 'content-type': 'application/octet-stream' }, body: Buffer.alloc(4 * 1024 * 1024 + 1) });
    expect(big.status).to.equal(413);
    expect((await net.call(0, 'POST', `/swarms/${id}/download`, { out: '/tmp/x' })).status).to.equal(400);
    // Another node: the tracker says it is live, so no file download starts.
    const elsewhere = await net.call(1, 'POST', `/swarms/${id}/download`, { out: join(net.dir, 'live.out') });
    expect([elsewhere.status, elsewhere.json.reason]).to.deep.equal([400, 'live_swarm']);
    expect((await net.call(1, 'GET', `/swarms/${id}`)).status).to.equal(404);
    expect((await net.call(0, 'DELETE', `/swarms/${id}`)).json).to.include({ stopped: true });
    expect((await net.call(0, 'GET', `/swarms/${id}`)).status).to.equal(404);
  });
});

/** The index of the source's chunk that starts at input offset `offset` (fails if none does). */
function chunkAt(source: LiveSwarm, offset: number): number {
  let at = 0;
  for (let i = 0; i <= source.window.newest; i++) {
    if (at === offset) return i;
    at += source.window.get(i)!.bytes.length;
  }
  throw new Error(`no chunk of the source starts at input offset ${offset}`);
}
