/**
 * GET /swarms/<id>/stream for a live channel: an unending body (the channel's media type, MPEG-TS by
 * default) from the viewer's playback point on, chunk after chunk as they come, until the source's
 * last chunk. A viewer's stream starts where its playback is (the start-up distance behind the
 * newest chunk, so a late joiner starts at the live edge, not at the beginning); the source's own
 * stream starts that far behind its newest chunk. A chunk the playback gave up on is skipped; a
 * client too slow to keep up with the window is moved on to the playback point. There are no byte
 * ranges: the channel has no length, and what is behind the window is gone.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from '../../../overlay/index.js';
import { write } from '../stream/media-endpoint.js';
import { LIVE_FLAG_LAST } from './live-chunk.js';
import { LIVE_IDLE_END_MS, type LiveSwarm } from './live-swarm.js';

/** How long a new stream waits for the channel's descriptor and a first playable chunk (ms). */
export const LIVE_START_WAIT_MS = 30_000;
/** A waiting stream looks again at least this often (ms), for skips decided by the playback's clock. */
const RECHECK_MS = 100;

export async function serveLiveStream(swarm: LiveSwarm, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const closed = new AbortController();
  res.once('close', () => closed.abort(new HttpError(499, 'Client_Closed', 'the client went away')));
  const started = await waitUntil(swarm, () => startPoint(swarm) !== undefined, LIVE_START_WAIT_MS, closed.signal);
  if (!started) {
    throw new HttpError(504, 'Gateway_Timeout', `live channel ${swarm.swarmId} has not started playing within ${LIVE_START_WAIT_MS / 1000} s: is its source broadcasting, and are its peers reachable?`);
  }
  res.writeHead(200, {
    'content-type': swarm.descriptor!.mediaType,
    'accept-ranges': 'none',
    'cache-control': 'no-store',
  });
  if (req.method === 'HEAD') return void res.end();
  let pos = startPoint(swarm)!;
  while (!swarm.stopped) {
    const c = swarm.window.get(pos);
    if (c) {
      if (c.bytes.length > 0) await write(res, c.bytes, closed.signal);
      if (c.flags & LIVE_FLAG_LAST) break;
      pos++;
      continue;
    }
    const playing = swarm.playback?.position ?? swarm.window.oldest;
    if (pos < swarm.window.oldest) pos = Math.max(playing, swarm.window.oldest);
    else if (pos < playing) pos++; // given up by the playback
    else if (!(await waitUntil(swarm, () => swarm.window.has(pos) || pos < (swarm.playback?.position ?? 0) || pos < swarm.window.oldest, LIVE_IDLE_END_MS, closed.signal))) break;
  }
  res.end();
}

/** Where a new stream starts: the viewer's playback position once it plays; at the source, behind its newest chunk. */
function startPoint(swarm: LiveSwarm): number | undefined {
  if (swarm.role === 'live-source') return swarm.window.newest < 0 ? undefined : swarm.sourceStreamStart();
  const p = swarm.playback;
  return p && p.state !== 'joining' ? p.position : undefined;
}

/** Waits until `ready()` (checked on every new chunk and every RECHECK_MS), at most `ms`; false on time-out or stop. */
async function waitUntil(swarm: LiveSwarm, ready: () => boolean, ms: number, signal: AbortSignal): Promise<boolean> {
  const until = Date.now() + ms;
  while (!ready()) {
    if (swarm.stopped || Date.now() >= until) return false;
    signal.throwIfAborted();
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        swarm.off('changed', done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.min(RECHECK_MS, Math.max(0, until - Date.now())));
      swarm.on('changed', done);
      signal.addEventListener('abort', done);
    });
  }
  return true;
}
