/**
 * `reload-ppsp watch SWARM-ID`: streams a swarm while it downloads, like webtorrent-cli's `--mpv`.
 * It starts the download on the node in streaming mode (what a player reads is fetched first),
 * prints the stream's URL (a read capability: players and `<video src>` cannot send the API token),
 * starts a player on it if asked, and shows the buffer ahead of the player, the rate and the peers
 * until the player exits (or Ctrl-C without one). What it started on the node stops with it,
 * unless --detach.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { API_CLIENT_OPTIONS, apiEndpoint, callApi } from '../api-client.js';
import { optionalString, printResult, UsageError, type Command } from '../command.js';
import { interruptHandler, jsonOption, oneArg, type SwarmStatus } from './swarm.js';
import { SWARM_LIMIT_OPTIONS, swarmLimits } from '../rate-option.js';

/** Players `--player` knows, and the flags that make them exit when the media ends. */
const PLAYERS: Record<string, string[]> = {
  mpv: ['mpv'],
  vlc: ['vlc', '--play-and-exit'],
  ffplay: ['ffplay', '-autoexit'],
};
/** How often the status line is refreshed, ms. */
const POLL_MS = 500;
/** Plain status lines (no terminal) at most this often, ms. */
const LINE_EVERY_MS = 2000;

/** The status fields `watch` shows: a file's download, or a live channel's playback. */
type WatchStatus = (SwarmStatus & { live?: undefined; bufferedAhead: number | null; readers: number }) | LiveStatus;

interface LiveStatus {
  live: true;
  peers: string[];
  newest: number;
  chunksPerSec: number;
  ended: boolean;
  playback: { state: string; position: number | null; lagMs: number | null; continuity: number | null; stalls: number; stallMs: number } | null;
}

/** A player that could not be started or failed; one line, exit 1. */
export class PlayerError extends Error {
  override name = 'PlayerError';
}

function mib(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(1);
}

export function watchLine(s: WatchStatus): string {
  if (s.live) return liveLine(s);
  const buffer = s.bufferedAhead === null ? 'no player reading' : `${mib(s.bufferedAhead)} MiB buffered`;
  return `${buffer}  ${s.percent.toFixed(1)}%  ${mib(s.bytesPerSec)} MiB/s  ${s.peers.length} peers`;
}

/** A live channel: how far behind the source, how much is here ahead of playback, how smoothly. */
function liveLine(s: LiveStatus): string {
  const p = s.playback;
  if (!p || p.state === 'joining' || p.position === null) return `live: joining  ${s.peers.length} peers`;
  const ahead = s.chunksPerSec > 0 ? `${((s.newest - p.position + 1) / s.chunksPerSec).toFixed(1)} s buffered` : '';
  const lag = p.lagMs === null ? '' : `${(p.lagMs / 1000).toFixed(1)} s behind`;
  const continuity = p.continuity === null ? '' : `continuity ${(100 * p.continuity).toFixed(1)}%`;
  return [`live${s.ended ? ' (ended)' : ''}:`, lag, ahead, continuity, `${p.stalls} stalls`, `${s.peers.length} peers`].filter(Boolean).join('  ');
}

/** The program and arguments to run on `url`, from --player or --player-command; undefined for none. */
function playerCommand(player: string | undefined, command: string | undefined, url: string): string[] | undefined {
  if (player !== undefined && command !== undefined) throw new UsageError('give --player or --player-command, not both');
  if (player !== undefined) {
    const known = PLAYERS[player];
    if (!known) throw new UsageError(`--player must be one of ${Object.keys(PLAYERS).join(', ')} (or use --player-command)`);
    return [...known, url];
  }
  if (command === undefined) return undefined;
  const words = command.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) throw new UsageError('--player-command is empty');
  return [...words, url];
}

export const watchCommand: Command = {
  name: 'watch',
  summary: 'Stream a swarm while it downloads, or a live channel: print a URL for a player or a browser, or start a player on it.',
  args: 'SWARM-ID',
  options: {
    ...API_CLIENT_OPTIONS,
    out: { type: 'string', help: 'where the download is written (default ./SWARM-ID)', valueName: 'FILE' },
    force: { type: 'boolean', help: 'replace FILE if it exists' },
    player: { type: 'string', help: 'start this player on the URL: mpv, vlc or ffplay', valueName: 'NAME' },
    'player-command': { type: 'string', help: 'start this program on the URL (given as its last argument), e.g. "mpv --fs"', valueName: 'CMD' },
    detach: { type: 'boolean', help: 'leave the download running on the node when this command ends' },
    ...SWARM_LIMIT_OPTIONS,
    json: jsonOption,
  },
  async run(args) {
    const swarmId = oneArg(args, 'SWARM-ID (64 hex digits)').toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(swarmId)) throw new UsageError(`"${swarmId}" is not a swarm ID (64 hex digits)`);
    const out = resolve(optionalString(args, 'out') ?? swarmId);
    const force = args.values.force === true;
    // Checked before anything starts on the node.
    playerCommand(optionalString(args, 'player'), optionalString(args, 'player-command'), 'URL');
    const limits = swarmLimits(args);
    // No check of `out` here: a live channel writes no file, and for a file the node refuses one
    // that exists without --force, on its own machine, where the file would be.
    const api = apiEndpoint(args);
    const tty = process.stderr.isTTY && !args.values.json;
    // A live channel is watched by a viewer; a file is downloaded into `out`, what the player reads first.
    const started = (await callApi(api, 'POST', `/swarms/${swarmId}/watch`, { out, force, ...limits })) as SwarmStatus & { started: boolean; live?: true };
    const owns = started.started && args.values.detach !== true;
    const stop = interruptHandler(api, swarmId, owns, tty, started.live ? 'live' : 'download');
    process.once('SIGINT', stop);
    try {
      const { streamUrl } = (await callApi(api, 'POST', `/swarms/${swarmId}/capability`, {})) as { streamUrl: string };
      if (started.live) printResult(args, { swarmId, url: streamUrl, live: true }, `stream: ${streamUrl}\nlive channel: nothing is written to a file`);
      else printResult(args, { swarmId, url: streamUrl, out }, `stream: ${streamUrl}\nfile:   ${out}`);
      const argv = playerCommand(optionalString(args, 'player'), optionalString(args, 'player-command'), streamUrl);
      const player = argv ? startPlayer(argv) : undefined;
      let lastLine = 0;
      for (;;) {
        const status = (await callApi(api, 'GET', `/swarms/${swarmId}`)) as WatchStatus;
        if (tty) process.stderr.write(`\r${watchLine(status)}   `);
        else if (!args.values.json && Date.now() - lastLine >= LINE_EVERY_MS) {
          process.stderr.write(watchLine(status) + '\n');
          lastLine = Date.now();
        }
        const exited = await Promise.race([player?.exited, new Promise((r) => setTimeout(r, POLL_MS))]);
        if (exited !== undefined) {
          if (tty) process.stderr.write('\n');
          if (exited instanceof PlayerError) throw exited;
          const code = exited as number | string;
          if (code !== 0) throw new PlayerError(`${argv![0]} exited with ${code}`);
          return 0;
        }
      }
    } finally {
      process.off('SIGINT', stop);
      if (owns) await callApi(api, 'DELETE', `/swarms/${swarmId}`).catch(() => undefined);
    }
  },
};

/** Starts the player; `exited` resolves with its exit code (or signal name), or a PlayerError if it could not start. */
function startPlayer(argv: string[]): { exited: Promise<number | string | PlayerError> } {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] });
  return {
    exited: new Promise((resolvePlayer) => {
      child.once('error', (e: NodeJS.ErrnoException) =>
        resolvePlayer(new PlayerError(e.code === 'ENOENT' ? `${argv[0]} is not installed or not on PATH; install it, or use --player-command` : `cannot start ${argv[0]}: ${e.message}`)),
      );
      child.once('exit', (code, signal) => resolvePlayer(code ?? signal ?? 'unknown'));
    }),
  };
}
