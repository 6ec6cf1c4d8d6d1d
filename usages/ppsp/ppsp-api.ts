/**
 * The PPSP endpoints of the node API:
 *   POST /swarms {"path", "chunkSize"?}              seed a file -> its metadata (swarmId to share)
 *   POST /swarms/<id>/download {"out"}              start (or resume) a download into a file
 *   GET  /swarms/<id>                               progress, peers, rates, counters
 * Paths are files on the node's machine; the node reads and writes them itself.
 */
import { isAbsolute } from 'node:path';
import { ErrorCode, ReloadError } from '../../overlay/errors.js';
import type { ApiExtension } from '../../overlay/api/http-api.js';
import type { PpspUsage } from './ppsp-usage.js';
import { parseSwarmId } from './swarm-id.js';
import type { Swarm } from './swarm.js';

function bad(message: string): ReloadError {
  return new ReloadError(ErrorCode.Invalid_Message, message, 'bad_request');
}

function absolutePath(value: unknown, field: string): string {
  if (typeof value !== 'string' || !isAbsolute(value)) throw bad(`"${field}" must be an absolute path on the node's machine`);
  return value;
}

/** The JSON of `GET /swarms/<id>`. */
export function swarmJson(swarm: Swarm) {
  const p = swarm.progress;
  const s = swarm.stats;
  const everyone = new Set([...s.downloadedFrom.keys(), ...swarm.peerIds()]);
  return {
    swarmId: swarm.swarmId,
    complete: swarm.complete,
    have: p.have,
    total: p.total,
    // The total is unknown (0) until a peer has sent the swarm's metadata.
    percent: swarm.complete ? 100 : p.total === 0 ? 0 : Math.floor((1000 * p.have) / p.total) / 10,
    bytesPerSec: Math.round(p.bytesPerSec),
    peers: swarm.peerIds(),
    uploadedBytes: swarm.bytesUploaded,
    downloadedBytes: [...everyone].reduce((sum, peer) => sum + swarm.downloadedFrom(peer), 0),
    chunksReceived: s.chunksReceived,
    resumedChunks: s.resumedChunks,
    corruptCaught: s.corruptCaught,
    timeouts: s.timeouts,
    banned: [...s.banned],
  };
}

export function ppspApi(usage: PpspUsage): ApiExtension {
  return (method, path, body) => {
    if (path === '/swarms' && method === 'POST') {
      return (async () => {
        const b = await body();
        const chunkSize = b.chunkSize === undefined ? undefined : Number(b.chunkSize);
        const meta = await usage.seed(absolutePath(b.path, 'path'), { chunkSize });
        return { ...meta, rootHash: Buffer.from(meta.rootHash).toString('hex') };
      })();
    }
    const m = /^\/swarms\/([^/]+)(\/download)?$/.exec(path);
    if (!m) return undefined;
    return (async () => {
      const id = parseSwarmId(m[1]);
      if (m[2] && method === 'POST') {
        const b = await body();
        const swarm = usage.swarm(id) ?? (await usage.download(id, absolutePath(b.out, 'out')));
        return swarmJson(swarm);
      }
      if (!m[2] && method === 'GET') {
        const swarm = usage.swarm(id);
        if (!swarm) throw new ReloadError(ErrorCode.Not_Found, `swarm ${id} is neither seeded nor downloaded here`, 'unknown_swarm');
        return swarmJson(swarm);
      }
      throw bad(`${method} ${path} is not an endpoint (POST /swarms, POST /swarms/<id>/download, GET /swarms/<id>)`);
    })();
  };
}
