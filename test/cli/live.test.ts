/**
 * Issue 13's acceptance test, with real programs throughout: `ffmpeg -re` encodes a test pattern
 * with a tone into MPEG-TS on a pipe into `reload-ppsp live --source -` against a source node
 * process; ten viewer node processes watch the channel; ffmpeg decodes 20 s from three viewers'
 * stream URLs without an error; a viewer that joins 30 s in starts at the live edge (its first
 * picture is ~30 s into the channel, not at its start). Also the `live` command's own errors and a
 * growing file followed to its end.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { appendFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { callApi } from '../../scripts/api-client.js';
import { cliCommand, startNodeProcess, type NodeProcess } from '../../scripts/node-process.js';
import { runCli } from '../helpers/cli.js';
import { createOverlayDir } from '../helpers/overlay-dir.js';
import { decodeAll, firstPts, liveSourceArgs } from '../helpers/media.js';
import { settleApis } from '../helpers/settle.js';
import { waitForAsync } from '../helpers/wait.js';
import { DEFAULT_STARTUP_MS } from '../../usages/ppsp/live/live-swarm.js';

const VIEWERS = 10;

interface LiveJson {
  newest: number;
  chunksPerSec: number;
  bytesFromSource: number;
  bytesFromPeers: number;
  playback: { state: string; position: number | null; continuity: number | null; chunksOnTime: number; chunksLate: number; chunksSkipped: number; startupDelayMs: number | null; lagP95Ms: number | null } | null;
}

describe('CLI: live (ffmpeg into `live`, ten viewer processes)', function () {
  this.timeout(240_000);
  let dir: string;
  let config: string;
  const nodes: NodeProcess[] = [];
  const children: ChildProcess[] = [];
  const status = async (i: number, id: string) => (await callApi(nodes[i]!.api, 'GET', `/swarms/${id}`)) as LiveJson;

  before(async () => {
    const names = ['source', ...Array.from({ length: VIEWERS + 1 }, (_, i) => `viewer${i}`)];
    ({ dir, config } = await createOverlayDir({ overlay: 'live.test', names }));
    nodes.push(await startNodeProcess({ config, identity: join(dir, 'source') }));
    nodes.push(...(await Promise.all(names.slice(1).map((name) => startNodeProcess({ config, identity: join(dir, name), bootstrap: [nodes[0]!.listen] })))));
    await settleApis(nodes.map((n) => n.api), 3, 60_000);
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    const codes = await Promise.all(nodes.map((n) => n.stop()));
    expect(codes.every((c) => c === 0), `exit codes ${codes}`).to.equal(true);
    await rm(dir, { recursive: true, force: true });
  });

  it('ten viewers watch a channel ffmpeg encodes live; three decode 20 s cleanly; a late viewer starts at the live edge', async () => {
    const encoder = spawn('ffmpeg', liveSourceArgs(75), { stdio: ['ignore', 'pipe', 'pipe'] });
    const { command, args } = cliCommand();
    const live = spawn(command, [...args, 'live', '--source', '-', '--name', 'test pattern', '--api', nodes[0]!.api], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(encoder, live);
    encoder.stdout.pipe(live.stdin);
    let liveErr = '';
    live.stderr.setEncoding('utf8').on('data', (t: string) => (liveErr += t));
    const [idLine] = (await once(createInterface({ input: live.stdout }), 'line')) as [string];
    const id = idLine.trim();
    expect(id, liveErr).to.match(/^[0-9a-f]{64}$/);
    const startedAt = Date.now();

    for (let i = 1; i <= VIEWERS; i++) {
      const answer = (await callApi(nodes[i]!.api, 'POST', `/swarms/${id}/watch`, {})) as { live?: boolean; started?: boolean };
      expect(answer).to.include({ live: true, started: true });
    }
    await waitForAsync(async () => (await Promise.all(Array.from({ length: VIEWERS }, (_, i) => status(i + 1, id)))).every((s) => s.playback?.state === 'playing'), 30_000, 'every viewer plays');

    // Three viewers' streams, as a player opens them (capability URLs), decoded for 20 s each.
    const urls = await Promise.all([1, 5, 9].map(async (i) => ((await callApi(nodes[i]!.api, 'POST', `/swarms/${id}/capability`, {})) as { streamUrl: string }).streamUrl));
    const decoded = await Promise.all(urls.map((url) => decodeAll(url, () => {}, 60_000, 20)));
    for (const d of decoded) {
      expect(d.errors).to.equal('');
      // 20 s at 25 fps.
      expect(d.frames).to.be.within(490, 510);
    }

    // A viewer that joins 30 s in starts near the newest chunk, not at the beginning.
    const wait = 30_000 - (Date.now() - startedAt);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const late = VIEWERS + 1;
    const newestAtJoin = (await status(0, id)).newest;
    await callApi(nodes[late]!.api, 'POST', `/swarms/${id}/watch`, {});
    await waitForAsync(async () => (await status(late, id)).playback?.state === 'playing', 20_000, 'the late viewer plays');
    const lateStatus = await status(late, id);
    const p = lateStatus.playback!;
    const start = p.position! - p.chunksOnTime - p.chunksLate - p.chunksSkipped;
    const startup = Math.ceil((DEFAULT_STARTUP_MS / 1000) * lateStatus.chunksPerSec) + 2;
    expect(start).to.be.within(newestAtJoin - startup, newestAtJoin + startup);
    expect(start).to.be.greaterThan(startup * 5);
    const lateUrl = ((await callApi(nodes[late]!.api, 'POST', `/swarms/${id}/capability`, {})) as { streamUrl: string }).streamUrl;
    // MPEG-TS from ffmpeg starts at 1.4 s; 30 s in, minus the start-up distance and some slack.
    expect(await firstPts(lateUrl)).to.be.greaterThan(25);

    const all = await Promise.all(Array.from({ length: VIEWERS }, (_, i) => status(i + 1, id)));
    for (const s of all) expect(s.playback!.continuity!, JSON.stringify(s.playback)).to.be.at.least(0.95);
    const fromSource = all.reduce((n, s) => n + s.bytesFromSource, 0);
    const total = all.reduce((n, s) => n + s.bytesFromSource + s.bytesFromPeers, 0);
    // The source serves four of them; the rest comes from viewers forwarding to each other.
    expect(fromSource / total).to.be.lessThan(0.8);
    console.log(
      `      figures: continuity min ${Math.min(...all.map((s) => s.playback!.continuity!)).toFixed(3)}, start-up p50 ${median(all.map((s) => s.playback!.startupDelayMs!))} ms, lag p95 max ${Math.max(...all.map((s) => s.playback!.lagP95Ms ?? 0)).toFixed(0)} ms, source share ${(fromSource / total).toFixed(2)}`,
    );

    // Ctrl-C on `live` ends the channel: every viewer hears the last chunk.
    live.kill('SIGINT');
    encoder.kill('SIGKILL');
    const [code] = (await once(live, 'exit')) as [number];
    expect(code, liveErr).to.equal(130);
    expect(liveErr).to.match(/ended [0-9a-f]{16}…: [0-9.]+ MiB in \d+ chunks \(interrupted\)/);
    await waitForAsync(async () => ((await callApi(nodes[1]!.api, 'GET', `/swarms/${id}`)) as { ended: boolean }).ended, 20_000, 'viewers learn the channel ended');
  });

  it('follows a growing file to its end, and refuses bad flags and a missing file with one line', async () => {
    const file = join(dir, 'growing.ts');
    await writeFile(file, Buffer.alloc(188 * 100, 0x47));
    const { command, args } = cliCommand();
    const live = spawn(command, [...args, 'live', '--source', file, '--idle', '2', '--json', '--api', nodes[0]!.api], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(live);
    let err = '';
    live.stderr.setEncoding('utf8').on('data', (t: string) => (err += t));
    const [line] = (await once(createInterface({ input: live.stdout }), 'line')) as [string];
    const { swarmId } = JSON.parse(line) as { swarmId: string };
    await callApi(nodes[2]!.api, 'POST', `/swarms/${swarmId}/watch`, {});
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 300));
      await appendFile(file, Buffer.alloc(188 * 100, i + 1));
    }
    const [code] = (await once(live, 'exit')) as [number];
    expect(code, err).to.equal(0);
    // Everything written went out: 6 x 18,800 bytes.
    expect(err).to.match(/ended [0-9a-f]{16}…: 0\.1 MiB in \d+ chunks\n/);
    const source = (await callApi(nodes[0]!.api, 'GET', `/swarms/${swarmId}`)) as { ended: boolean };
    expect(source.ended).to.equal(true);

    // A followed file that shrinks is an error: one line, exit 1, and the channel ends.
    const shrinking = join(dir, 'shrinking.ts');
    await writeFile(shrinking, Buffer.alloc(188 * 100, 0x47));
    const cut = spawn(command, [...args, 'live', '--source', shrinking, '--idle', '5', '--json', '--api', nodes[0]!.api], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(cut);
    let cutErr = '';
    cut.stderr.setEncoding('utf8').on('data', (t: string) => (cutErr += t));
    const [cutLine] = (await once(createInterface({ input: cut.stdout }), 'line')) as [string];
    const cutId = (JSON.parse(cutLine) as { swarmId: string }).swarmId;
    // Shrink only once the node has cut a chunk of the file: then `live` has read past the new end.
    await waitForAsync(async () => ((await callApi(nodes[0]!.api, 'GET', `/swarms/${cutId}`)) as { newest: number }).newest >= 0, 30_000, 'the first chunk of the followed file', 100);
    await writeFile(shrinking, Buffer.alloc(188, 0x47));
    const [cutCode] = (await once(cut, 'exit')) as [number];
    expect(cutCode, cutErr).to.equal(1);
    expect(cutErr.trim().split('\n').at(-1)).to.match(/shrank while it was broadcast/);
    expect(((await callApi(nodes[0]!.api, 'GET', `/swarms/${cutId}`)) as { ended: boolean }).ended).to.equal(true);

    const api = nodes[0]!.api;
    const cases: [string[], number, RegExp][] = [
      [['live', '--api', api], 2, /--source/],
      [['live', '--source', join(dir, 'nope.ts'), '--api', api], 2, /is not a readable file/],
      [['live', '--source', '-', '--type', 'video', '--api', api], 2, /--type video is not a media type/],
      [['live', '--source', '-', '--window', '3', '--api', api], 2, /--window/],
      [['live', '--source', '-', '--api', '127.0.0.1:1'], 1, /cannot reach the node API/],
    ];
    for (const [argv, want, message] of cases) {
      const r = await runCli(argv, { timeoutMs: 30_000 });
      expect(r.code, `${argv.join(' ')}: ${r.stderr}`).to.equal(want);
      expect(r.stderr.trim().split('\n').at(-1), argv.join(' ')).to.match(message);
      expect(r.stderr).not.to.match(/\n\s+at /);
    }
  });
});

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
