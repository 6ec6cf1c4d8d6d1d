/**
 * `reload-ppsp watch` against real node processes, with a real player: a seeder node limited by
 * `--upload-limit` seeds an MP4 with `seed --type`; `watch --player-command ffprobe...` on another
 * node prints the stream URL, starts the player on it, shows the buffer while it reads, exits 0 when
 * the player does, and stops the download it started. Bad flags get one line and exit 2, a missing
 * player one line and exit 1.
 */
import { expect } from 'chai';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError, callApi } from '../../scripts/api-client.js';
import { startNodeProcess, type NodeProcess } from '../../scripts/node-process.js';
import { runCli } from '../helpers/cli.js';
import { makeMp4 } from '../helpers/media.js';
import { settleApis } from '../helpers/settle.js';

describe('CLI: watch', function () {
  this.timeout(180_000);
  let dir: string;
  const nodes: NodeProcess[] = [];
  let swarmId: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reload-cli-watch-'));
    expect((await runCli(['ca', 'init', '--dir', join(dir, 'ca'), '--overlay', 'watch.test'])).code).to.equal(0);
    const config = join(dir, 'ca', 'overlay.json');
    for (const name of ['seeder', 'viewer']) {
      const r = await runCli(['enroll', '--ca', join(dir, 'ca'), '--user', `${name}@watch.test`, '--out', join(dir, name)]);
      expect(r.code, r.stderr).to.equal(0);
      const extraArgs = name === 'seeder' ? ['--upload-limit', '100k'] : [];
      nodes.push(await startNodeProcess({ config, identity: join(dir, name), bootstrap: nodes[0] ? [nodes[0].listen] : [], extraArgs }));
    }
    await settleApis(nodes.map((n) => n.api), 2);
    // Named .bin, so the type comes from --type and not from the extension.
    const movie = await makeMp4(dir, 10, 'movie.bin');
    const seeded = await runCli(['seed', movie, '--type', 'video/mp4', '--api', nodes[0]!.api]);
    expect(seeded.code, seeded.stderr).to.equal(0);
    swarmId = seeded.stdout.trim();
  });

  after(async () => {
    const codes = await Promise.all(nodes.map((n) => n.stop()));
    expect(codes.every((c) => c === 0), `exit codes ${codes}`).to.equal(true);
    await rm(dir, { recursive: true, force: true });
  });

  it('prints the stream URL, runs the player on it while it downloads, shows the buffer, exits with the player and stops its download', async () => {
    const out = join(dir, 'watched.mp4');
    const player = 'ffprobe -v error -show_entries format=duration:stream=codec_name -of json';
    const r = await runCli(['watch', swarmId, '--out', out, '--player-command', player, '--api', nodes[1]!.api], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).to.equal(0);
    const url = /^stream: (http:\/\/\S+)$/m.exec(r.stdout)?.[1];
    expect(url, r.stdout).to.match(new RegExp(`/swarms/${swarmId}/stream\\?cap=`));
    expect(r.stderr).to.match(/MiB buffered|no player reading/);
    // The download watch started ended with it.
    const gone = await callApi({ address: nodes[1]!.api }, 'GET', `/swarms/${swarmId}`).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(gone).to.be.instanceOf(ApiError);
    expect((gone as ApiError).status).to.equal(404);
  });

  it('refuses bad flags with one line (exit 2) and a missing player with one line (exit 1), starting nothing', async () => {
    const api = nodes[1]!.api;
    const existing = join(dir, 'existing.mp4');
    await writeFile(existing, 'keep me');
    const cases: [string[], number, RegExp][] = [
      [['watch', 'xyz', '--api', api], 2, /not a swarm ID/],
      [['watch', swarmId, '--player', 'winamp', '--out', join(dir, 'a.mp4'), '--api', api], 2, /--player must be one of mpv, vlc, ffplay/],
      [['watch', swarmId, '--player', 'mpv', '--player-command', 'x', '--out', join(dir, 'a.mp4'), '--api', api], 2, /not both/],
      [['watch', swarmId, '--player-command', 'no-such-player-here', '--out', join(dir, 'b.mp4'), '--api', api], 1, /no-such-player-here is not installed or not on PATH/],
      [['watch', swarmId, '--out', existing, '--api', api], 1, /exists; .*--force/],
      [['node', '--upload-limit', 'fast', '--config', 'x', '--identity', 'y'], 2, /--upload-limit fast is not a rate/],
      [['seed', join(dir, 'movie.bin'), '--type', 'movie', '--api', api], 2, /--type movie is not a media type/],
    ];
    for (const [args, code, message] of cases) {
      const r = await runCli(args, { timeoutMs: 60_000 });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).to.equal(code);
      expect(r.stderr.trim().split('\n').at(-1), args.join(' ')).to.match(message);
      expect(r.stderr).not.to.match(/\n\s+at /);
    }
    expect(await readFile(existing, 'utf8')).to.equal('keep me');
  });
});
