/**
 * The live endpoints of the node API (the rest of a live channel's API is the same as a file's:
 * GET and DELETE /swarms/<id>, GET /swarms/<id>/stream, POST /swarms/<id>/watch; ppsp-api.ts):
 *   POST /live {"name"?, "type"?, "chunkSize"?, "windowChunks"?}   start a channel sourced here -> its swarm ID
 *   POST /live/<id>/input  (raw bytes, at most LIVE_MAX_INPUT_BYTES) the next bytes of its input, in order
 *   POST /live/<id>/end                                             its input ended: the last chunk goes out
 * The input comes in many short requests, not one endless one: the API bounds how long a request
 * may take to arrive, and `reload-ppsp live` sends what it read every fraction of a second.
 */
import { ErrorCode, HttpError, RawAnswer, readBody, ReloadError } from '../../../overlay/index.js';
import { isMediaType } from '../content/media-info.js';
import { isValidChunkSize, parseSwarmId } from '../content/swarm-id.js';
import { MAX_WINDOW_CHUNKS, MIN_WINDOW_CHUNKS } from './live-descriptor.js';
import type { LiveChannels } from './live-channels.js';
import type { LiveSwarm } from './live-swarm.js';

/** Bytes one input request carries at most (a few seconds of a high-bitrate channel). */
export const LIVE_MAX_INPUT_BYTES = 4 * 1024 * 1024;

function bad(message: string): ReloadError {
  return new ReloadError(ErrorCode.Invalid_Message, message, 'bad_request');
}

/** The JSON of GET /swarms/<id> for a live channel. */
export function liveJson(swarm: LiveSwarm) {
  return { ...swarm.figures(), live: true };
}

/** Handles /live and /live/<id>/(input|end); undefined for any other path. */
export function liveApi(channels: LiveChannels, method: string, path: string, body: () => Promise<Record<string, unknown>>): Promise<unknown> | undefined {
  if (path === '/live') {
    return (async () => {
      if (method !== 'POST') throw new HttpError(405, 'Method_Not_Allowed', '/live takes POST', { allow: 'POST' });
      const swarm = await channels.broadcast(broadcastOptions(await body()));
      return liveJson(swarm);
    })();
  }
  const m = /^\/live\/([^/]+)\/(input|end)$/.exec(path);
  if (!m) return undefined;
  return (async () => {
    if (method !== 'POST') throw new HttpError(405, 'Method_Not_Allowed', `${path} takes POST`, { allow: 'POST' });
    const swarm = sourced(channels, parseSwarmId(m[1]));
    if (m[2] === 'end') {
      swarm.endInput();
      return liveJson(swarm);
    }
    return new RawAnswer(async (req, res) => {
      const bytes = await readBody(req, LIVE_MAX_INPUT_BYTES);
      swarm.write(bytes);
      const text = JSON.stringify({ swarmId: swarm.swarmId, newest: swarm.window.newest, taken: bytes.length }) + '\n';
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    });
  })();
}

function broadcastOptions(b: Record<string, unknown>) {
  if (b.name !== undefined && (typeof b.name !== 'string' || b.name.length === 0 || Buffer.byteLength(b.name) > 256)) throw bad('"name" must be a text of 1 to 256 bytes');
  if (b.type !== undefined && !isMediaType(b.type)) throw bad('"type" must be a media type like video/mp2t');
  if (b.chunkSize !== undefined && !isValidChunkSize(b.chunkSize)) throw bad('"chunkSize" must be a power of two from 1024 to 1048576 bytes');
  const w = b.windowChunks;
  if (w !== undefined && (typeof w !== 'number' || !Number.isInteger(w) || w < MIN_WINDOW_CHUNKS || w > MAX_WINDOW_CHUNKS)) throw bad(`"windowChunks" must be an integer from ${MIN_WINDOW_CHUNKS} to ${MAX_WINDOW_CHUNKS}`);
  return { name: (b.name as string | undefined) ?? 'live', mediaType: b.type as string | undefined, chunkSize: b.chunkSize as number | undefined, windowChunks: w as number | undefined };
}

/** The channel sourced here with this ID, or Not_Found. */
function sourced(channels: LiveChannels, id: string): LiveSwarm {
  const swarm = channels.get(id);
  if (!swarm || swarm.role !== 'live-source') throw new ReloadError(ErrorCode.Not_Found, `no live channel ${id} is broadcast from this node`, 'unknown_swarm');
  return swarm;
}
