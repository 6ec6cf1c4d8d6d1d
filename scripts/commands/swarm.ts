/**
 * `reload-ppsp seed FILE` and `reload-ppsp get SWARM-ID --out FILE`: PPSP through a running node's
 * API. `get` shows a progress bar on a terminal and plain lines otherwise, and exits 0 only once
 * the file is complete and every chunk verified against the swarm's Merkle root.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { API_CLIENT_OPTIONS, apiEndpoint, callApi, type ApiEndpoint } from '../api-client.js';
import { MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from '../../usages/ppsp/content/swarm-id.js';
import { integerOption, optionalString, printResult, refuseToReplace, requireString, UsageError, type Command, type ParsedArgs } from '../command.js';
import { getPpspp, parsePpsppUrl } from '../ppspp-get.js';
import { MAX_PPSPP_CHUNK_SIZE, PPSPP_DEFAULT_CHUNK_SIZE } from '../../usages/ppsp/ppspp/ppspp-content.js';
import { isMediaType } from '../../usages/ppsp/content/media-info.js';
import { rateOption, SWARM_LIMIT_OPTIONS, SWARM_UPLOAD_LIMIT_OPTION, swarmLimits } from '../rate-option.js';

export const jsonOption = { type: 'boolean' as const, help: 'print JSON' };

/** How often `get` asks the node for progress, ms. */
const POLL_MS = 250;
/** Plain progress lines (no terminal) at most this often, ms. */
const LINE_EVERY_MS = 2000;
/** `get` gives up after this long without a new chunk, s (the partial file stays for a resume). */
const DEFAULT_STALL_SEC = 120;
/** Largest --stall-timeout, s (a day). */
const MAX_STALL_SEC = 86_400;

/** A download that stopped making progress; the CLI prints it as one line and exits 1. */
export class StalledError extends Error {
  override name = 'StalledError';
}

/** The node could not write our file (or wrote one that is not whole); one line, exit 1. */
export class OutputError extends Error {
  override name = 'OutputError';
}

/** What `GET /swarms/<id>` answers (the fields the CLI reads). */
export interface SwarmStatus {
  swarmId: string;
  complete: boolean;
  contentLength: number | null;
  have: number;
  total: number;
  percent: number;
  bytesPerSec: number;
  peers: string[];
  uploadedBytes: number;
  downloadedBytes: number;
  corruptCaught: number;
  resumedChunks: number;
  banned: string[];
  peerErrors: Record<string, string>;
  outputs: { path: string; written: boolean; error?: string }[];
}

/**
 * Why a download stalled, for the user: a peer whose data failed the swarm's root, or whose file
 * changed, cannot be helped by running the command again; a swarm nobody answers for may be.
 */
export function stallMessage(status: SwarmStatus, stallSec: number): string {
  const short = (peer: string) => peer.slice(0, 16);
  const causes = [
    ...status.banned.map((p) => `peer ${short(p)} sent data that does not match the swarm's root: its copy changed or is corrupt`),
    ...Object.entries(status.peerErrors)
      .filter(([p, text]) => !status.banned.includes(p) && text.startsWith('seed_changed'))
      .map(([p]) => `peer ${short(p)} stopped serving the swarm: its copy of the file changed after it was seeded`),
  ];
  const head = `no new chunk for ${stallSec} s (${status.peers.length} peers connected`;
  if (causes.length > 0) {
    return `${head}): ${causes.join('; ')}. Running the command again cannot help until a peer with an intact copy joins (the seeder can seed the file again); the verified chunks stay in the .part file`;
  }
  return `${head}${status.total === 0 ? ", and none has sent the swarm's metadata: is anyone seeding it?" : ''}); run the same command again to resume`;
}

export function oneArg(args: { positionals: string[] }, what: string): string {
  const [value] = args.positionals; // more are refused by parseCommandArgs
  if (!value) throw new UsageError(`give exactly one ${what}`);
  return value;
}

/** A progress bar that redraws its terminal line: `[####......] line`. */
export function progressBar(percent: number, line: string): string {
  const width = 30;
  const filled = Math.round((percent / 100) * width);
  return `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${line}   `;
}

function mib(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(1);
}

export const seedCommand: Command = {
  name: 'seed',
  summary: 'Seed a file through a running node; prints the swarm ID to share.',
  args: 'FILE',
  options: {
    ...API_CLIENT_OPTIONS,
    'chunk-size': { type: 'string', help: 'bytes per chunk, a power of two from 1024 to 1048576 (default 16384)', valueName: 'BYTES' },
    type: { type: 'string', help: 'media type players are told, e.g. video/mp4 (default: by the file name\'s extension)', valueName: 'TYPE' },
    ...SWARM_UPLOAD_LIMIT_OPTION,
    ppspp: { type: 'string', help: 'also serve the file to plain PPSPP peers (RFC 7574 over UDP, e.g. libswift) on this address, e.g. 0.0.0.0:7777; prints its ppspp:// URL', valueName: 'IP:PORT' },
    'tls-only': { type: 'boolean', help: 'its data travels only over TLS channels, never over ppspp (private; the swarm ID says so, so it differs from the open one)' },
    json: jsonOption,
  },
  async run(args) {
    const path = resolve(oneArg(args, 'FILE to seed'));
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) throw new UsageError(`${path} is not a readable file`);
    const chunkSize = integerOption(args, 'chunk-size', { min: MIN_CHUNK_SIZE, max: MAX_CHUNK_SIZE });
    const type = optionalString(args, 'type');
    if (type !== undefined && !isMediaType(type)) throw new UsageError(`--type ${type} is not a media type like video/mp4`);
    const uploadLimit = rateOption(args, 'upload-limit');
    const ppspp = optionalString(args, 'ppspp');
    const tlsOnly = args.values['tls-only'] === true;
    const meta = (await callApi(apiEndpoint(args), 'POST', '/swarms', { path, chunkSize, type, uploadLimit, ppspp, tlsOnly }, 3_600_000)) as {
      swarmId: string;
      contentLength: number;
      chunkCount: number;
      ppspp?: { url: string };
    };
    printResult(args, meta, meta.ppspp ? `${meta.swarmId}\n${meta.ppspp.url}` : meta.swarmId);
    return 0;
  },
};

export const getCommand: Command = {
  name: 'get',
  summary: 'Download a swarm by its ID through a running node, from many peers at once, verifying every chunk.',
  args: 'SWARM-ID|ppspp://HOST:PORT/ROOT-HASH',
  options: {
    ...API_CLIENT_OPTIONS,
    out: { type: 'string', help: 'where to write the file (a download resumes from FILE.part)', valueName: 'FILE' },
    'chunk-size': { type: 'string', help: `ppspp:// only: bytes per chunk the peer serves (default ${PPSPP_DEFAULT_CHUNK_SIZE}, libswift's; PPSPP does not send it)`, valueName: 'BYTES' },
    force: { type: 'boolean', help: 'replace FILE if it exists' },
    detach: { type: 'boolean', help: 'leave the download running on the node when this command ends early (Ctrl-C, a stall); by default it is stopped. `reload-ppsp stop` stops it later' },
    'stall-timeout': { type: 'string', help: 'give up after this many seconds without a new chunk (default 120)', valueName: 'S' },
    ...SWARM_LIMIT_OPTIONS,
    json: jsonOption,
  },
  async run(args) {
    const target = oneArg(args, 'SWARM-ID (64 hex digits) or ppspp://HOST:PORT/ROOT-HASH');
    if (target.startsWith('ppspp://')) return getFromPpsppPeer(args, target);
    if (args.values['chunk-size'] !== undefined) throw new UsageError('--chunk-size is for ppspp:// downloads: a swarm ID commits to its chunk size');
    const swarmId = target.toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(swarmId)) throw new UsageError(`"${swarmId}" is not a swarm ID (64 hex digits)`);
    const out = resolve(requireString(args, 'out'));
    const force = args.values.force === true;
    await refuseToReplace(out, force);
    const api = apiEndpoint(args);
    const stallSec = integerOption(args, 'stall-timeout', { min: 1, max: MAX_STALL_SEC }, DEFAULT_STALL_SEC);
    const limits = swarmLimits(args);
    const tty = process.stderr.isTTY && !args.values.json;
    let lastHave = -1;
    let lastGain = Date.now();
    let ownsDownload = false;
    // Ctrl-C is taken from before the request: one that comes while the node starts the download must stop it too.
    let interrupted = false;
    let onInterrupt: () => void = () => {
      interrupted = true;
    };
    const sigint = () => onInterrupt();
    process.once('SIGINT', sigint);
    try {
      const started = (await callApi(api, 'POST', `/swarms/${swarmId}/download`, { out, force, ...limits })) as SwarmStatus & { started: boolean };
      // What this command started on the node ends with it (Ctrl-C, a stall, a failure), unless --detach.
      ownsDownload = started.started && args.values.detach !== true;
      onInterrupt = interruptHandler(api, swarmId, ownsDownload, tty);
      if (interrupted) onInterrupt();
      let status: SwarmStatus = started;
      let lastLine = 0;
      for (;;) {
        const mine = status.outputs.find((o) => o.path === out);
        const line = `${status.percent.toFixed(1)}%  ${status.have}/${status.total} chunks  ${mib(status.bytesPerSec)} MiB/s  ${status.peers.length} peers`;
        if (tty) process.stderr.write(progressBar(status.percent, line));
        else if (!args.values.json && (Date.now() - lastLine >= LINE_EVERY_MS || mine?.written)) {
          process.stderr.write(line + '\n');
          lastLine = Date.now();
        }
        if (mine?.error !== undefined) throw new OutputError(`cannot write ${out}: ${mine.error}`);
        if (mine?.written) break;
        if (status.have !== lastHave) [lastHave, lastGain] = [status.have, Date.now()];
        else if (!status.complete && Date.now() - lastGain > stallSec * 1000) throw new StalledError(stallMessage(status, stallSec));
        await new Promise((r) => setTimeout(r, POLL_MS));
        status = (await callApi(api, 'GET', `/swarms/${swarmId}`)) as SwarmStatus;
      }
      if (tty) process.stderr.write('\n');
      // Exit 0 promises a whole file: check it is there, at its full size, before saying so.
      const size = (await stat(out).catch(() => undefined))?.size;
      if (size !== status.contentLength) throw new OutputError(`the node reported ${out} written, but it is ${size === undefined ? 'missing' : `${size} bytes`}, not ${status.contentLength}`);
      printResult(args, { ...status, out }, `downloaded ${out}: ${status.total} chunks verified (${status.resumedChunks} resumed from disk), ${mib(status.downloadedBytes)} MiB from ${status.peers.length} peers, ${mib(status.uploadedBytes)} MiB uploaded`);
      return 0;
    } catch (e) {
      if (tty) process.stderr.write('\n');
      if (ownsDownload) await callApi(api, 'DELETE', `/swarms/${swarmId}`).catch(() => undefined);
      throw e;
    } finally {
      process.off('SIGINT', sigint);
    }
  },
};

/** `get ppspp://...`: from a plain PPSPP peer, in this process (scripts/ppspp-get.ts). */
async function getFromPpsppPeer(args: ParsedArgs, target: string): Promise<number> {
  const url = parsePpsppUrl(target);
  const out = resolve(requireString(args, 'out'));
  await refuseToReplace(out, args.values.force === true);
  const chunkSize = integerOption(args, 'chunk-size', { min: 1, max: MAX_PPSPP_CHUNK_SIZE }, PPSPP_DEFAULT_CHUNK_SIZE);
  const idleTimeoutSec = integerOption(args, 'stall-timeout', { min: 1, max: MAX_STALL_SEC }, DEFAULT_STALL_SEC);
  const json = args.values.json === true;
  const result = await getPpspp(url, { out, chunkSize, idleTimeoutSec, tty: process.stderr.isTTY && !json, quiet: json });
  printResult(args, { ...result, out, rootHash: url.root.toString('hex') }, `downloaded ${out}: ${result.chunks} chunks verified against the root hash, ${mib(result.bytes)} MiB in ${(result.ms / 1000).toFixed(1)} s`);
  return 0;
}

/**
 * Ctrl-C on `get`: stops the download this command started on the node (unless --detach, or the
 * node held the swarm already: its seeding is not ours to stop), then exits 130 like a shell does.
 */
export function interruptHandler(api: ApiEndpoint, swarmId: string, stopDownload: boolean, tty: boolean, kind: 'download' | 'live' = 'download'): () => void {
  return () => {
    void (async () => {
      if (tty) process.stderr.write('\n');
      if (stopDownload) {
        const stopped = await callApi(api, 'DELETE', `/swarms/${swarmId}`).then(
          () => true,
          () => false,
        );
        const done = kind === 'live' ? 'stopped watching the channel on the node' : 'stopped the download on the node; the partial file stays, run the same command to resume';
        process.stderr.write(stopped ? `interrupted: ${done}\n` : `interrupted: could not stop the ${kind === 'live' ? 'viewer' : 'download'} on the node\n`);
      } else process.stderr.write(`interrupted: the node goes on with swarm ${swarmId} (reload-ppsp stop ${swarmId} stops it)\n`);
      process.exit(130);
    })();
  };
}
