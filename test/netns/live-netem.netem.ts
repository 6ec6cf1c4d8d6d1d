/**
 * Issue 13: a live channel over real TLS between node processes in network namespaces, every packet
 * between hosts delayed 100 ms ± 50 ms and 2 % of them lost (scripts/netem-hosts.sh; on TCP, loss is
 * retransmission delay), 20 viewers, 4 of them (20 %) replaced while the channel runs. Every viewer
 * that stayed plays with a continuity index of at least 0.99 and under a second of stalls in all.
 *
 * Run by `npm run test:netem` (root, python3), not by `npm test`: 25 node processes over the slow
 * network take about five minutes on two cores, which CI's time budget does not hold.
 */
import { expect } from 'chai';
import { createWriteStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { cliCommand, startNodeProcess, type NodeProcess } from '../../scripts/node-process.js';
import { createOverlayDir } from '../helpers/overlay-dir.js';
import { NetemHosts } from '../helpers/netem-hosts.js';
import { waitForAsync } from '../helpers/wait.js';

const VIEWERS = 20;
const REPLACED = 4;
/** The channel: a 16 KiB chunk every 250 ms, 512 kbit/s. */
const INPUT_BYTES = 16384;
const INPUT_EVERY_MS = 250;

interface Playback {
  state: string;
  continuity: number | null;
  stallMs: number;
  stalls: number;
  startupDelayMs: number | null;
  lagP95Ms: number | null;
  chunksOnTime: number;
}

describe('live channel over a bad network (network namespaces, 100 ± 50 ms, 2 % loss)', function () {
  this.timeout(300_000);
  let dir: string;
  let hosts: NetemHosts | undefined;
  const nodes = new Map<number, NodeProcess>();
  const logs: WriteStream[] = [];
  const tokenFile = (name: string) => join(dir, name, 'data', 'api-token');

  before(async () => {
    const names = Array.from({ length: VIEWERS + REPLACED + 1 }, (_, i) => `h${i}`);
    ({ dir } = await createOverlayDir({ overlay: 'netem.test', names }));
    hosts = await NetemHosts.up(VIEWERS + REPLACED + 1, { delayMs: 100, jitterMs: 50, lossPercent: 2 });
  });

  after(async function () {
    await Promise.all([...nodes.values()].map((n) => n.stop()));
    for (const log of logs) log.end();
    await hosts?.down();
    if (hosts) expect(await hosts.namespaces()).to.deep.equal([]);
    // A failure's node logs (debug level) stay for reading; they are why it failed.
    if (this.currentTest?.state === 'failed') console.log(`      node logs kept in ${dir}/h*.log`);
    else await rm(dir, { recursive: true, force: true });
  });

  const start = async (i: number, bootstrap?: string) => {
    const log = createWriteStream(join(dir, `h${i}.log`));
    logs.push(log);
    const node = await startNodeProcess({
      config: join(dir, 'ca', 'overlay.json'),
      identity: join(dir, `h${i}`),
      listen: `${hosts!.address(i)}:0`,
      bootstrap: bootstrap ? [bootstrap] : [],
      launcher: hosts!.launcher(i),
      readyTimeoutMs: 60_000,
      extraArgs: ['--verbose'],
      onLog: (line) => log.write(line + '\n'),
    });
    nodes.set(i, node);
    return node;
  };
  const call = (i: number, method: string, path: string, body?: unknown) => hosts!.call(i, nodes.get(i)!.api, tokenFile(`h${i}`), method, path, body);
  const watch = async (i: number, id: string) => {
    // The tracker entry may not have reached this node's part of the ring yet: ask until it is live.
    await waitForAsync(async () => (await call(i, 'POST', `/swarms/${id}/watch`, {})).json.live === true, 30_000, `h${i} watches`, 500);
  };

  it('every viewer that stayed: continuity ≥ 0.99 and under 1 s of stalls, while 20 % were replaced', async () => {
    const source = await start(0);
    const viewers = Array.from({ length: VIEWERS }, (_, k) => k + 1);
    // One at a time: Chord joins that race through a slow network can leave the ring split.
    for (const i of viewers) await start(i, source.listen);
    const { command, args } = cliCommand();
    const live = hosts!.spawnIn(0, command, [...args, 'live', '--source', '-', '--type', 'application/octet-stream', '--api', source.api, '--api-token-file', tokenFile('h0')]);
    let liveErr = '';
    live.stderr.setEncoding('utf8').on('data', (t: string) => (liveErr += t));
    const id = await new Promise<string>((resolve, reject) => {
      live.stdout.setEncoding('utf8').once('data', (t: string) => resolve(t.split('\n')[0]!.trim()));
      live.once('exit', (code) => reject(new Error(`live exited with ${code}: ${liveErr}`)));
    });
    expect(id).to.match(/^[0-9a-f]{64}$/);
    let counter = 0;
    const feed = setInterval(() => live.stdin.write(Buffer.alloc(INPUT_BYTES, counter++ & 0xff)), INPUT_EVERY_MS);
    try {
      await Promise.all(viewers.map((i) => watch(i, id)));
      // Each ask starts a process in every viewer's namespace: once a second is plenty.
      let notPlaying: string[] = [];
      await waitForAsync(
        async () => {
          const all = await Promise.all(viewers.map(async (i) => ({ i, r: await call(i, 'GET', `/swarms/${id}`) })));
          notPlaying = all.filter(({ r }) => (r.json.playback as Playback | null)?.state !== 'playing').map(({ i, r }) => `h${i}: ${JSON.stringify({ peers: r.json.peers, newest: r.json.newest, held: r.json.held, playback: r.json.playback })}`);
          return notPlaying.length === 0;
        },
        60_000,
        'every viewer plays',
        1000,
      ).catch((e: Error) => {
        throw new Error(`${e.message}: ${notPlaying.join('\n')}`);
      });
      await new Promise((r) => setTimeout(r, 15_000));
      const before = await Promise.all(viewers.slice(REPLACED).map(async (i) => (await call(i, 'GET', `/swarms/${id}`)).json.playback as Playback));
      console.log('      before the replacement: stalls ' + before.map((p) => `${p.stalls}/${p.stallMs.toFixed(0)}`).join(' '));
      // 20 % of the viewers leave and as many new ones come.
      const leaving = viewers.slice(0, REPLACED);
      await Promise.all(leaving.map(async (i) => {
        await nodes.get(i)!.stop();
        nodes.delete(i);
      }));
      const newcomers = Array.from({ length: REPLACED }, (_, k) => VIEWERS + 1 + k);
      for (const i of newcomers) await start(i, source.listen);
      await Promise.all(newcomers.map((i) => watch(i, id)));
      await new Promise((r) => setTimeout(r, 20_000));
      const atSource = (await call(0, 'GET', `/swarms/${id}`)).json;
      console.log(`      the source after the replacement: newest ${atSource.newest}, peers ${(atSource.peers as string[]).length}; live's stderr: ${liveErr.slice(-500)}`);
      const stayed = viewers.slice(REPLACED);
      const figures = await Promise.all(stayed.map(async (i) => ({ i, p: (await call(i, 'GET', `/swarms/${id}`)).json.playback as Playback })));
      const joined = await Promise.all(newcomers.map(async (i) => (await call(i, 'GET', `/swarms/${id}`)).json.playback as Playback));
      console.log(
        `      figures: continuity min ${Math.min(...figures.map((f) => f.p.continuity!)).toFixed(4)}, stalls max ${Math.max(...figures.map((f) => f.p.stallMs)).toFixed(0)} ms, start-up max ${Math.max(...figures.map((f) => f.p.startupDelayMs!))} ms, lag p95 max ${Math.max(...figures.map((f) => f.p.lagP95Ms ?? 0)).toFixed(0)} ms; newcomers play ${joined.map((p) => p.chunksOnTime).join(', ')} chunks; stalls ${figures.map((f) => `${f.p.stalls}/${f.p.stallMs.toFixed(0)}`).join(' ')}`,
      );
      for (const { i, p } of figures) {
        expect(p.continuity, `h${i}: ${JSON.stringify(p)}`).to.be.at.least(0.99);
        expect(p.stallMs, `h${i}: ${JSON.stringify(p)}`).to.be.lessThan(1000);
        expect(p.chunksOnTime, `h${i}`).to.be.greaterThan((35_000 / INPUT_EVERY_MS) * 0.8);
      }
      for (const p of joined) expect(p.state).to.equal('playing');
    } finally {
      clearInterval(feed);
      live.stdin.end();
      await new Promise((r) => live.once('exit', r));
    }
  });
});
