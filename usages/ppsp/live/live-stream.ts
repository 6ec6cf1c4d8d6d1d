/**
 * GET /swarms/<id>/stream for a live channel: an unending body (the channel's media type, MPEG-TS by
 * default) from the viewer's playback point on, chunk after chunk as they come, until the source's
 * last chunk. A viewer's stream starts where its playback is (the start-up distance behind the
 * newest chunk, so a late joiner starts at the live edge, not at the beginning); the source's own
 * stream starts that far behind its newest chunk. An MPEG-TS stream starts at the video random
 * access point (mpeg-ts.ts) at or before that point, so a player's first picture decodes. A chunk the playback gave up on is skipped; a
 * client too slow to keep up with the window is moved on to the playback point. There are no byte
 * ranges: the channel has no length, and what is behind the window is gone.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from '../../../overlay/index.js';
import { write } from '../stream/media-endpoint.js';
import { LIVE_FLAG_LAST } from './live-chunk.js';
import { videoRandomAccessOffset } from './mpeg-ts.js';
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
  // MPEG-TS starts at a video random access point: the last one held at or before the playback
  // point, else the first one after it (chunks before it are not sent), within a window at most.
  let skip = 0;
  let seekUntil = -1;
  if (swarm.descriptor!.mediaType === 'video/mp2t') {
    ({ pos, skip } = randomAccessStart(swarm, pos));
    if (skip < 0) seekUntil = pos + swarm.window.windowChunks;
  }
  while (!swarm.stopped) {
    const c = swarm.window.get(pos);
    if (c) {
      if (pos < seekUntil) {
        skip = videoRandomAccessOffset(c.bytes);
        if (skip < 0) {
          if (c.flags & LIVE_FLAG_LAST) break;
          pos++;
          continue;
        }
        seekUntil = -1;
      }
      if (c.bytes.length > skip) await write(res, c.bytes.subarray(Math.max(0, skip)), closed.signal);
      skip = 0;
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

/**
 * The newest held chunk at or before `pos` with a video random access point, and its offset there
 * (back to a gap at most); else `pos` with skip -1: look for one from there on.
 */
function randomAccessStart(swarm: LiveSwarm, pos: number): { pos: number; skip: number } {
  for (let i = pos; i >= swarm.window.oldest; i--) {
    const c = swarm.window.get(i);
    if (!c) break; // a gap: what is before it would not play on into `pos`
    const at = videoRandomAccessOffset(c.bytes);
    if (at >= 0) return { pos: i, skip: at };
  }
  return { pos, skip: -1 };
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
