/**
 * `reload-ppsp seed FILE` and `reload-ppsp get SWARM-ID --out FILE`: PPSP through a running node's
 * API. `get` shows a progress bar on a terminal and plain lines otherwise, and exits 0 only once
 * the file is complete and every chunk verified against the swarm's Merkle root.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { API_CLIENT_OPTIONS, apiEndpoint, callApi } from '../api-client.js';
import { MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from '../../usages/ppsp/swarm-id.js';
import { integerOption, printResult, refuseToReplace, requireString, UsageError, type Command } from '../command.js';

const jsonOption = { type: 'boolean' as const, help: 'print JSON' };

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

interface SwarmStatus {
  swarmId: string;
  complete: boolean;
  have: number;
  total: number;
  percent: number;
  bytesPerSec: number;
  peers: string[];
  uploadedBytes: number;
  downloadedBytes: number;
  corruptCaught: number;
  resumedChunks: number;
}

function oneArg(args: { positionals: string[] }, what: string): string {
  const [value] = args.positionals; // more are refused by parseCommandArgs
  if (!value) throw new UsageError(`give exactly one ${what}`);
  return value;
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
    json: jsonOption,
  },
  async run(args) {
    const path = resolve(oneArg(args, 'FILE to seed'));
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) throw new UsageError(`${path} is not a readable file`);
    const chunkSize = integerOption(args, 'chunk-size', { min: MIN_CHUNK_SIZE, max: MAX_CHUNK_SIZE });
    const meta = (await callApi(apiEndpoint(args), 'POST', '/swarms', { path, chunkSize }, 3_600_000)) as {
      swarmId: string;
      contentLength: number;
      chunkCount: number;
    };
    printResult(args, meta, meta.swarmId);
    return 0;
  },
};

export const getCommand: Command = {
  name: 'get',
  summary: 'Download a swarm by its ID through a running node, from many peers at once, verifying every chunk.',
  args: 'SWARM-ID',
  options: {
    ...API_CLIENT_OPTIONS,
    out: { type: 'string', help: 'where to write the file (a download resumes from FILE.part)', valueName: 'FILE' },
    force: { type: 'boolean', help: 'replace FILE if it exists' },
    'stall-timeout': { type: 'string', help: 'give up after this many seconds without a new chunk (default 120)', valueName: 'S' },
    json: jsonOption,
  },
  async run(args) {
    const swarmId = oneArg(args, 'SWARM-ID (64 hex digits)');
    if (!/^[0-9a-f]{64}$/i.test(swarmId)) throw new UsageError(`"${swarmId}" is not a swarm ID (64 hex digits)`);
    const out = resolve(requireString(args, 'out'));
    await refuseToReplace(out, args.values.force === true);
    const api = apiEndpoint(args);
    const stallSec = integerOption(args, 'stall-timeout', { min: 1, max: MAX_STALL_SEC }, DEFAULT_STALL_SEC);
    const tty = process.stderr.isTTY && !args.values.json;
    let lastHave = -1;
    let lastGain = Date.now();
    let status = (await callApi(api, 'POST', `/swarms/${swarmId}/download`, { out })) as SwarmStatus;
    let lastLine = 0;
    for (;;) {
      const line = `${status.percent.toFixed(1)}%  ${status.have}/${status.total} chunks  ${mib(status.bytesPerSec)} MiB/s  ${status.peers.length} peers`;
      if (tty) {
        const width = 30;
        const filled = Math.round((status.percent / 100) * width);
        process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${line}   `);
      } else if (!args.values.json && (Date.now() - lastLine >= LINE_EVERY_MS || status.complete)) {
        process.stderr.write(line + '\n');
        lastLine = Date.now();
      }
      if (status.complete) break;
      if (status.have !== lastHave) [lastHave, lastGain] = [status.have, Date.now()];
      else if (Date.now() - lastGain > stallSec * 1000) {
        if (tty) process.stderr.write('\n');
        throw new StalledError(`no new chunk for ${stallSec} s (${status.peers.length} peers connected${status.total === 0 ? ', and none has sent the swarm\'s metadata: is anyone seeding it?' : ''}); run the same command again to resume`);
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
      status = (await callApi(api, 'GET', `/swarms/${swarmId}`)) as SwarmStatus;
    }
    if (tty) process.stderr.write('\n');
    printResult(args, { ...status, out }, `downloaded ${out}: ${status.total} chunks verified (${status.resumedChunks} resumed from disk), ${mib(status.downloadedBytes)} MiB from ${status.peers.length} peers, ${mib(status.uploadedBytes)} MiB uploaded`);
    return 0;
  },
};
