/**
 * GET and HEAD /swarms/<id>/stream: the swarm's bytes for players and browsers, served as they are
 * verified. HTTP range semantics are RFC 9110's (§14): `Accept-Ranges: bytes`, one range (206 with
 * Content-Range), several ranges (206 multipart/byteranges), suffix ranges, If-Range, 416 for a
 * range past the end; a strong ETag from the swarm ID (the ID commits to the bytes, so they never
 * change under it) and If-None-Match (304).
 *
 * Every response is a stream reader of the swarm (stream-readers.ts), so the picker fetches what
 * the player reads next first. A chunk not stored yet is waited for (bounded): before the head is
 * sent, a wait that fails is a 504 saying why; after it, the connection is cut, so a player never
 * gets bytes that were not verified, nor a body shorter than its Content-Length without an error.
 * A client that goes away ends the response and its waits at once.
 */
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from '../../../overlay/index.js';
import { contentDisposition, DEFAULT_MEDIA_TYPE } from '../content/media-info.js';
import { chunkRange } from '../content/swarm-id.js';
import type { StreamReader } from '../data/stream-readers.js';
import type { Swarm } from '../data/swarm.js';
import { contentRange, multipartPlan, parseRange, type ByteRange } from './byte-ranges.js';

/** Chunks read from the store at once at most, when they are all there: one system call per run. */
export const STREAM_READ_CHUNKS = 16;

/** Serves the stream of `swarm` to `req` (GET or HEAD) on `res`. */
export async function serveStream(swarm: Swarm, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!(await swarm.whenMetadata())) {
    throw new HttpError(504, 'Gateway_Timeout', `no peer has sent the metadata of swarm ${swarm.swarmId} in time: is anyone seeding it?`);
  }
  const size = swarm.metadata!.contentLength;
  const etag = `"${swarm.swarmId}"`;
  const type = swarm.media.type ?? DEFAULT_MEDIA_TYPE;
  const common = {
    'accept-ranges': 'bytes',
    etag,
    'content-disposition': contentDisposition(swarm.media.name),
    // The bytes of an ID never change, but a player must not keep a capability URL's answer past the node's run.
    'cache-control': 'private, no-cache',
  };
  if (matchesEtag(req.headers['if-none-match'], etag)) {
    res.writeHead(304, common);
    return void res.end();
  }
  const ifRange = req.headers['if-range'];
  const wanted = ifRange === undefined || ifRange === etag ? parseRange(req.headers.range, size) : ({ kind: 'none' } as const);
  if (wanted.kind === 'unsatisfiable') {
    throw new HttpError(416, 'Range_Not_Satisfiable', `no byte of the range "${req.headers.range}" lies in the ${size} bytes of the content`, { ...common, 'content-range': `bytes */${size}` });
  }
  const ranges: ByteRange[] = wanted.kind === 'ranges' ? wanted.ranges : size > 0 ? [{ start: 0, end: size - 1 }] : [];
  const closed = new AbortController();
  res.once('close', () => closed.abort(new HttpError(499, 'Client_Closed', 'the client went away')));
  const head = req.method === 'HEAD';
  // Open at once, so the chunks this response waits for are fetched first.
  const reader = ranges.length > 0 && !head ? swarm.openReader(chunkOf(swarm, ranges[0]!.start)) : undefined;
  try {
    // A wait that fails before the head is sent can still be answered with a status that says why.
    if (reader) await waitOrGatewayTimeout(swarm, chunkOf(swarm, ranges[0]!.start), closed.signal);
    if (wanted.kind !== 'ranges') {
      res.writeHead(200, { ...common, 'content-type': type, 'content-length': size });
      if (!head) for (const r of ranges) await sendRange(swarm, r, res, reader!, closed.signal);
    } else if (ranges.length === 1) {
      const r = ranges[0]!;
      res.writeHead(206, { ...common, 'content-type': type, 'content-range': contentRange(r, size), 'content-length': r.end - r.start + 1 });
      if (!head) await sendRange(swarm, r, res, reader!, closed.signal);
    } else {
      const plan = multipartPlan(ranges, size, type);
      res.writeHead(206, { ...common, 'content-type': `multipart/byteranges; boundary=${plan.boundary}`, 'content-length': plan.contentLength });
      if (!head) {
        for (const part of plan.parts) {
          await write(res, part.head, closed.signal);
          await sendRange(swarm, part.range, res, reader!, closed.signal);
        }
        await write(res, plan.tail, closed.signal);
      }
    }
    res.end();
  } finally {
    reader?.close();
  }
}

function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.trim() === '*' || header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

function chunkOf(swarm: Swarm, byte: number): number {
  return Math.floor(byte / swarm.metadata!.chunkSize);
}

async function waitOrGatewayTimeout(swarm: Swarm, chunk: number, signal: AbortSignal): Promise<void> {
  try {
    await swarm.whenReadable(chunk, signal);
  } catch (e) {
    if (signal.aborted) throw e;
    throw new HttpError(504, 'Gateway_Timeout', (e as Error).message);
  }
}

/** Sends bytes r.start..r.end (inclusive) as their chunks are stored, moving the reader along. */
async function sendRange(swarm: Swarm, r: ByteRange, res: ServerResponse, reader: StreamReader, signal: AbortSignal): Promise<void> {
  const { chunkSize, contentLength } = swarm.metadata!;
  const lastChunk = chunkOf(swarm, r.end);
  let pos = r.start;
  while (pos <= r.end) {
    const first = chunkOf(swarm, pos);
    reader.moveTo(first);
    await swarm.whenReadable(first, signal);
    let last = first;
    while (last < lastChunk && last - first + 1 < STREAM_READ_CHUNKS && swarm.isReadable(last + 1)) last++;
    const targets: Uint8Array[] = [];
    for (let c = first; c <= last; c++) {
      const { start, end } = chunkRange(c, contentLength, chunkSize);
      targets.push(Buffer.allocUnsafe(end - start));
    }
    await swarm.readChunksInto(first, targets);
    const run = Buffer.concat(targets);
    const from = pos - first * chunkSize;
    const to = Math.min(r.end + 1, first * chunkSize + run.length) - first * chunkSize;
    const bytes = run.subarray(from, to);
    reader.delivered(bytes.length);
    reader.moveTo(last + 1 <= lastChunk ? last + 1 : last);
    await write(res, bytes, signal);
    pos += bytes.length;
  }
}

/** Writes and waits for the socket to take it (backpressure), or rejects once the client is gone. */
export async function write(res: ServerResponse, bytes: Uint8Array, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  if (res.write(bytes)) return;
  await once(res, 'drain', { signal });
}
