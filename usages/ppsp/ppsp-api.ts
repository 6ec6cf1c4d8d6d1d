/**
 * The PPSP endpoints of the node API:
 *   POST   /swarms {"path", "chunkSize"?, "type"?, "ppspp"?, "tlsOnly"?}  seed a file -> its metadata (swarmId to
 *                                                       share); "type" is the media type players get (default:
 *                                                       by extension); "tlsOnly" keeps its data off ppspp
 *   GET    /swarms                                      every swarm held: id, role, path, complete, percent;
 *                                                       data channels opened, by mechanism; transports offered
 *   POST   /swarms/<id>/download {"out", "force"?}     write the swarm to a file: download it, or copy a
 *                                                       swarm held here already, verified chunk by chunk
 *   GET    /swarms/<id>                                 progress, peers, rates, counters, outputs written
 *   DELETE /swarms/<id>                                 stop a swarm (a partial download stays for a resume)
 *   GET    /                                            the page for people (web/page.ts)
 *   GET    /swarms/<id>/stream                          the swarm's bytes for players: ranges, waits for chunks (media-endpoint.ts)
 *   POST   /swarms/<id>/limits {"uploadLimit"?, "downloadLimit"?}   a swarm's rate limits, bytes/s (0: none)
 *   GET    /limits, POST /limits {...}                  the node's rate limits, over all its swarms
 *   POST   /swarms/<id>/watch {"out"?, "force"?, ...}   watch a swarm: a live channel's viewer, or a file's
 *                                                       download into "out" (as /download)
 *   POST   /live, /live/<id>/input, /live/<id>/end      broadcast a live channel (live/live-api.ts)
 * A live channel answers GET and DELETE /swarms/<id> and its stream as a file does.
 * Seeding and downloading take "uploadLimit" and "downloadLimit" too.
 * Paths are files on the node's machine; the node reads and writes them itself.
 */
import { isAbsolute } from 'node:path';
import { isIP } from 'node:net';
import { type ApiExtension, ErrorCode, HttpError, PAGE_PATH, RawAnswer, ReloadError } from '../../overlay/index.js';
import { servePage } from './web/page.js';
import { isMediaType } from './content/media-info.js';
import { serveStream } from './stream/media-endpoint.js';
import { isRateLimit, MAX_RATE_LIMIT } from './data/rate-limit.js';
import { checkOutputPath } from './store/output-path.js';
import type { PpspUsage } from './ppsp-usage.js';
import { parseSwarmId } from './content/swarm-id.js';
import type { Swarm } from './data/swarm.js';
import { liveApi, liveJson } from './live/live-api.js';
import { serveLiveStream } from './live/live-stream.js';

function bad(message: string): ReloadError {
  return new ReloadError(ErrorCode.Invalid_Message, message, 'bad_request');
}

/** "IP:PORT" (an IPv6 address in brackets; port 0: any free one) to listen on; 400 otherwise. */
function udpAddress(value: unknown, field: string): { host: string; port: number } {
  const m = typeof value === 'string' ? /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(value) : null;
  const port = Number(m?.[2]);
  if (!m || isIP(m[1]!) === 0 || port > 65_535) throw bad(`"${field}" must be IP:PORT to listen on, e.g. 0.0.0.0:7777 or [::]:7777`);
  return { host: m[1]!, port };
}

function absolutePath(value: unknown, field: string): string {
  if (typeof value !== 'string' || !isAbsolute(value)) throw bad(`"${field}" must be an absolute path on the node's machine`);
  return value;
}

/** The rate limits a body names (bytes/s, 0: none); 400 for a value that is not one. */
function limitsOf(b: Record<string, unknown>): { uploadLimit?: number; downloadLimit?: number } {
  const out: { uploadLimit?: number; downloadLimit?: number } = {};
  for (const field of ['uploadLimit', 'downloadLimit'] as const) {
    const v = b[field];
    if (v === undefined) continue;
    if (!isRateLimit(v)) throw bad(`"${field}" must be bytes per second: an integer from 0 (no limit) to ${MAX_RATE_LIMIT}`);
    out[field] = v;
  }
  return out;
}

function percentOf(swarm: Swarm): number {
  const p = swarm.progress;
  // The total is unknown (0) until a peer has sent the swarm's metadata.
  return swarm.complete ? 100 : p.total === 0 ? 0 : Math.floor((1000 * p.have) / p.total) / 10;
}

/** The JSON of `GET /swarms/<id>`. */
export function swarmJson(swarm: Swarm, usage: PpspUsage) {
  const p = swarm.progress;
  const s = swarm.stats;
  return {
    swarmId: swarm.swarmId,
    role: swarm.role,
    path: swarm.path,
    complete: swarm.complete,
    contentLength: swarm.metadata?.contentLength ?? null,
    have: p.have,
    total: p.total,
    percent: percentOf(swarm),
    bytesPerSec: Math.round(p.bytesPerSec),
    peers: swarm.peerIds(),
    ...swarm.limits,
    /** Players reading the stream now. */
    readers: swarm.readerCount,
    /** Bytes ready without a gap after the newest reader's position (null: nobody reads). */
    bufferedAhead: swarm.bufferedAhead ?? null,
    name: swarm.media.name ?? null,
    type: swarm.media.type ?? null,
    uploadedBytes: swarm.bytesUploaded,
    downloadedBytes: swarm.bytesDownloaded,
    chunksReceived: s.chunksReceived,
    resumedChunks: s.resumedChunks,
    corruptCaught: s.corruptCaught,
    timeouts: s.timeouts,
    banned: [...s.banned],
    peerErrors: Object.fromEntries(s.peerErrors),
    /** Each file the swarm is written to (its own path first) and whether it is written, verified. */
    outputs: usage.outputsOf(swarm),
  };
}

/** One line of `GET /swarms`. */
function swarmSummary(swarm: Swarm) {
  return { swarmId: swarm.swarmId, role: swarm.role, path: swarm.path, complete: swarm.complete, percent: percentOf(swarm) };
}

export function ppspApi(usage: PpspUsage): ApiExtension {
  return (method, path, body) => {
    if (path === '/swarms' && method === 'POST') {
      return (async () => {
        const b = await body();
        const chunkSize = b.chunkSize === undefined ? undefined : Number(b.chunkSize);
        if (b.type !== undefined && !isMediaType(b.type)) throw bad('"type" must be a media type like video/mp4');
        const ppspp = b.ppspp === undefined ? undefined : udpAddress(b.ppspp, 'ppspp');
        if (b.tlsOnly !== undefined && typeof b.tlsOnly !== 'boolean') throw bad('"tlsOnly" must be true or false');
        const meta = await usage.seed(absolutePath(b.path, 'path'), { chunkSize, mediaType: b.type, tlsOnly: b.tlsOnly === true, ...limitsOf(b), ...(ppspp ? { ppspp } : {}) });
        return { ...meta, rootHash: Buffer.from(meta.rootHash).toString('hex') };
      })();
    }
    if (path === PAGE_PATH && method === 'GET') return Promise.resolve(new RawAnswer(servePage));
    if (path === '/swarms' && method === 'GET') {
      const live = usage.live.list().map((l) => ({ swarmId: l.swarmId, role: l.role, name: l.descriptor?.name ?? null, newest: l.window.newest, ended: l.ended }));
      return Promise.resolve({ swarms: [...usage.list().map(swarmSummary), ...live], channelsOpened: usage.channelsOpened, transports: usage.signalling.transports });
    }
    const live = liveApi(usage.live, method, path, body);
    if (live) return live;
    if (path === '/limits') {
      return (async () => {
        if (method === 'POST') usage.data.setLimits(limitsOf(await body()));
        else if (method !== 'GET') throw bad(`${method} /limits: use GET or POST`);
        return usage.data.limits;
      })();
    }
    const stream = /^\/swarms\/([^/]+)\/stream$/.exec(path);
    if (stream) {
      return (async () => {
        if (method !== 'GET') throw new HttpError(405, 'Method_Not_Allowed', `${path} takes GET and HEAD`, { allow: 'GET, HEAD' });
        const channel = usage.live.get(parseSwarmId(stream[1]));
        if (channel) return new RawAnswer((req, res) => serveLiveStream(channel, req, res));
        const swarm = held(usage, parseSwarmId(stream[1]));
        return new RawAnswer((req, res) => serveStream(swarm, req, res));
      })();
    }
    const m = /^\/swarms\/([^/]+)(\/download|\/limits|\/watch)?$/.exec(path);
    if (!m) return undefined;
    return (async () => {
      const id = parseSwarmId(m[1]);
      const channel = usage.live.get(id);
      if (m[2] === '/watch' && method === 'POST') {
        if (channel || (await usage.live.isLive(id))) {
          const { swarm, started } = await usage.live.watch(id);
          return { ...liveJson(swarm), started };
        }
      }
      // Watching a file is downloading it (into "out"), with what the player reads first.
      const action = m[2] === '/watch' ? '/download' : m[2];
      if (channel && !m[2] && method === 'GET') return liveJson(channel);
      if (channel && !m[2] && method === 'DELETE') {
        await usage.live.stop(id);
        return { swarmId: id, stopped: true };
      }
      if (channel) throw bad(`${method} ${path}: swarm ${id} is a live channel (GET or DELETE /swarms/<id>, its stream, or watch it)`);
      if (action === '/limits' && method === 'POST') {
        const swarm = held(usage, id);
        swarm.setLimits(limitsOf(await body()));
        return { swarmId: id, ...swarm.limits };
      }
      if (action === '/download' && method === 'POST') {
        const b = await body();
        // A live channel has no end to download to a file: say so before any session refuses it.
        if (m[2] === '/download' && (await usage.live.isLive(id))) throw new ReloadError(ErrorCode.Invalid_Message, `swarm ${id} is a live channel: watch it (POST /swarms/<id>/watch) or read its stream`, 'live_swarm');
        if (b.force !== undefined && typeof b.force !== 'boolean') throw bad('"force" must be true or false');
        const force = b.force === true;
        const { swarm, started } = await usage.writeTo(id, await checkOutputPath(b.out, force), force, limitsOf(b));
        return { ...swarmJson(swarm, usage), started };
      }
      if (!action && method === 'GET') return swarmJson(held(usage, id), usage);
      if (!action && method === 'DELETE') {
        if (!(await usage.stopSwarm(id))) held(usage, id);
        return { swarmId: id, stopped: true };
      }
      throw bad(`${method} ${path} is not an endpoint (POST /swarms, GET /swarms, POST /swarms/<id>/download, POST /swarms/<id>/limits, GET or DELETE /swarms/<id>)`);
    })();
  };
}

/** The swarm held here, or Not_Found saying why it is not (it may have failed lately). */
function held(usage: PpspUsage, id: string): Swarm {
  const swarm = usage.swarm(id);
  if (swarm) return swarm;
  const failure = usage.failureOf(id);
  throw new ReloadError(ErrorCode.Not_Found, failure ? `swarm ${id} stopped: ${failure}` : `swarm ${id} is neither seeded nor downloaded here`, 'unknown_swarm');
}
