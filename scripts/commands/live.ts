/**
 * `reload-ppsp live --source FILE|-`: broadcasts a live channel from a running node. It starts the
 * channel (POST /live), prints its swarm ID and a stream URL, and sends the source to the node as it
 * comes: stdin until it ends, or a file followed as it grows (like `tail -f`) until it has not grown
 * for --idle seconds. What arrived while one input request was on its way goes in the next, so the
 * channel's latency does not wait for a batch. The end of the source, or Ctrl-C, ends the channel:
 * the node sends its last chunk and every viewer's stream ends after it.
 */
import { open, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { API_CLIENT_OPTIONS, apiEndpoint, callApi, type ApiEndpoint } from '../api-client.js';
import { integerOption, optionalString, printResult, requireString, UsageError, type Command } from '../command.js';
import { isMediaType } from '../../usages/ppsp/content/media-info.js';
import { MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from '../../usages/ppsp/content/swarm-id.js';
import { MAX_WINDOW_CHUNKS, MIN_WINDOW_CHUNKS } from '../../usages/ppsp/live/live-descriptor.js';
import { jsonOption } from './swarm.js';

/** The source failed while it was broadcast (not a usage mistake); one line, exit 1. */
export class SourceError extends Error {
  override name = 'SourceError';
}

/** One input request carries at most this much (the node takes up to 4 MiB). */
const MAX_REQUEST_BYTES = 1024 * 1024;
/** Read ahead of what the node took at most; then the source waits (a pipe's writer blocks). */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** A followed file is checked for growth this often, ms. */
const FOLLOW_POLL_MS = 100;
const DEFAULT_IDLE_SEC = 10;
/** Status on stderr at most this often, ms (a line each LINE_EVERY_MS without a terminal). */
const STATUS_EVERY_MS = 1000;
const LINE_EVERY_MS = 5000;

export const liveCommand: Command = {
  name: 'live',
  summary: 'Broadcast a live channel from a running node: stdin or a growing file, cut into signed chunks as it comes.',
  options: {
    ...API_CLIENT_OPTIONS,
    source: { type: 'string', help: 'what to broadcast: - for stdin (e.g. from `ffmpeg ... -f mpegts -`), or a FILE followed as it grows', valueName: 'FILE|-' },
    name: { type: 'string', help: 'the channel name viewers see (default: the file name, or "live")', valueName: 'NAME' },
    type: { type: 'string', help: 'media type players are told (default video/mp2t)', valueName: 'TYPE' },
    'chunk-size': { type: 'string', help: `bytes per chunk, a power of two from ${MIN_CHUNK_SIZE} to ${MAX_CHUNK_SIZE} (default 16384)`, valueName: 'BYTES' },
    window: { type: 'string', help: `chunks peers keep behind the newest, ${MIN_WINDOW_CHUNKS}-${MAX_WINDOW_CHUNKS} (default 1024)`, valueName: 'CHUNKS' },
    idle: { type: 'string', help: `a followed FILE ends once it has not grown for this long (default ${DEFAULT_IDLE_SEC})`, valueName: 'SECONDS' },
    json: jsonOption,
  },
  async run(args) {
    if (args.positionals.length > 0) throw new UsageError(`live takes no arguments (got "${args.positionals.join(' ')}"); name the source with --source`);
    const source = requireString(args, 'source');
    const type = optionalString(args, 'type');
    if (type !== undefined && !isMediaType(type)) throw new UsageError(`--type ${type} is not a media type like video/mp2t`);
    const chunkSize = integerOption(args, 'chunk-size', { min: MIN_CHUNK_SIZE, max: MAX_CHUNK_SIZE });
    const windowChunks = integerOption(args, 'window', { min: MIN_WINDOW_CHUNKS, max: MAX_WINDOW_CHUNKS });
    const idleMs = integerOption(args, 'idle', { min: 1, max: 86_400 }, DEFAULT_IDLE_SEC) * 1000;
    const path = source === '-' ? undefined : resolve(source);
    if (path !== undefined && !(await stat(path).catch(() => undefined))?.isFile()) throw new UsageError(`${path} is not a readable file`);
    const api = apiEndpoint(args);
    const name = optionalString(args, 'name') ?? (path ? path.split('/').pop()! : 'live');
    const started = (await callApi(api, 'POST', '/live', { name, type, chunkSize, windowChunks })) as { swarmId: string };
    const id = started.swarmId;
    const { streamUrl } = (await callApi(api, 'POST', `/swarms/${id}/capability`, {})) as { streamUrl: string };
    printResult(args, { swarmId: id, url: streamUrl }, `${id}\nstream: ${streamUrl}`);

    const stop = new AbortController();
    const interrupted = () => stop.abort();
    process.once('SIGINT', interrupted);
    const status = new StatusLine(api, id, process.stderr.isTTY === true && args.values.json !== true);
    try {
      const input = path ? followFile(path, idleMs, stop.signal) : readStdin(stop.signal);
      const sent = await send(api, id, input, stop, (n) => status.update(n)).catch(async (e: unknown) => {
        // Viewers still hear the channel end, rather than wait for the node's input timeout.
        await callApi(api, 'POST', `/live/${id}/end`, {}).catch(() => undefined);
        throw e;
      });
      const end = (await callApi(api, 'POST', `/live/${id}/end`, {})) as { newest: number };
      status.done(`ended ${id.slice(0, 16)}…: ${mib(sent)} MiB in ${end.newest + 1} chunks${stop.signal.aborted ? ' (interrupted)' : ''}`);
      return stop.signal.aborted ? 130 : 0;
    } finally {
      process.off('SIGINT', interrupted);
    }
  },
};

/**
 * Sends what `input` yields, in order, one request at a time, each with all that came meanwhile. A
 * failed request stops the input (`stop`) and is thrown.
 */
async function send(api: ApiEndpoint, id: string, input: AsyncIterable<Buffer>, stop: AbortController, progress: (sent: number) => void): Promise<number> {
  const pending: Buffer[] = [];
  let buffered = 0;
  let ended = false;
  let failed: unknown;
  let wake: (() => void) | undefined;
  const reader = (async () => {
    for await (const piece of input) {
      pending.push(piece);
      buffered += piece.length;
      wake?.();
      while (buffered > MAX_BUFFERED_BYTES && failed === undefined) await sleep(20);
      if (failed !== undefined) return;
    }
  })().finally(() => {
    ended = true;
    wake?.();
  });
  let sent = 0;
  try {
    for (;;) {
      if (buffered === 0) {
        if (ended) break;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
        continue;
      }
      const parts: Buffer[] = [];
      let size = 0;
      while (pending.length > 0 && size + pending[0]!.length <= MAX_REQUEST_BYTES) {
        const piece = pending.shift()!;
        parts.push(piece);
        size += piece.length;
      }
      if (parts.length === 0) {
        // One piece larger than a request: split it.
        const big = pending.shift()!;
        parts.push(big.subarray(0, MAX_REQUEST_BYTES));
        pending.unshift(big.subarray(MAX_REQUEST_BYTES));
        size = MAX_REQUEST_BYTES;
      }
      buffered -= size;
      await callApi(api, 'POST', `/live/${id}/input`, Buffer.concat(parts, size));
      sent += size;
      progress(sent);
    }
    // The input may have ended in an error (a followed file that shrank): that is this command's failure.
    await reader;
  } catch (e) {
    failed = e;
    stop.abort();
    throw e;
  } finally {
    await reader.catch(() => undefined);
  }
  return sent;
}

async function* readStdin(signal: AbortSignal): AsyncGenerator<Buffer> {
  const aborted = new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
  const it = process.stdin[Symbol.asyncIterator]();
  for (;;) {
    const next = await Promise.race([it.next(), aborted.then(() => undefined)]);
    if (!next || next.done) return;
    yield next.value as Buffer;
  }
}

/** Reads `path` from its start and on as it grows; ends once it has not grown for `idleMs`. */
async function* followFile(path: string, idleMs: number, signal: AbortSignal): AsyncGenerator<Buffer> {
  const file = await open(path, 'r');
  try {
    let position = 0;
    let grewAt = Date.now();
    while (!signal.aborted) {
      const piece = Buffer.allocUnsafe(MAX_REQUEST_BYTES);
      const { bytesRead } = await file.read(piece, 0, piece.length, position);
      if (bytesRead > 0) {
        position += bytesRead;
        grewAt = Date.now();
        yield piece.subarray(0, bytesRead);
        continue;
      }
      if ((await file.stat()).size < position) throw new SourceError(`${path} shrank while it was broadcast; a followed file must only grow`);
      if (Date.now() - grewAt >= idleMs) return;
      await sleep(FOLLOW_POLL_MS, undefined, { signal }).catch(() => undefined);
    }
  } finally {
    await file.close();
  }
}

function mib(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(1);
}

/** Sent bytes, rate and viewers on stderr: in place on a terminal, a line now and then otherwise. */
class StatusLine {
  private shownAt = 0;
  private lineAt = 0;
  private startedAt = Date.now();
  private viewers = 0;
  private asking = false;

  constructor(
    private readonly api: ApiEndpoint,
    private readonly id: string,
    private readonly tty: boolean,
  ) {}

  update(sent: number): void {
    const now = Date.now();
    if (now - this.shownAt < STATUS_EVERY_MS) return;
    this.shownAt = now;
    if (!this.asking) {
      this.asking = true;
      void callApi(this.api, 'GET', `/swarms/${this.id}`)
        .then((s) => (this.viewers = ((s as { peers: string[] }).peers ?? []).length))
        .catch(() => undefined)
        .finally(() => (this.asking = false));
    }
    const rate = (sent * 8) / 1000 / Math.max(1, (now - this.startedAt) / 1000);
    const text = `sent ${mib(sent)} MiB, ${rate.toFixed(0)} kbit/s, ${this.viewers} peers`;
    if (this.tty) process.stderr.write(`\r${text}   `);
    else if (now - this.lineAt >= LINE_EVERY_MS) {
      this.lineAt = now;
      process.stderr.write(text + '\n');
    }
  }

  done(text: string): void {
    process.stderr.write((this.tty ? '\n' : '') + text + '\n');
  }
}
