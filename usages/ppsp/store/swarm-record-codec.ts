/**
 * The metadata field of a SwarmRecord: the swarm's root hash and geometry as JSON bytes, or `{}`
 * for a download started from a bare swarm ID before any peer sent the metadata. Decoding checks
 * the swarm ID commits to what was read, so a damaged record is refused, never served.
 */
import { isIP } from 'node:net';
import { ErrorCode, ReloadError } from '../../../overlay/index.js';
import { metadataOfSwarm, type SwarmMetadata } from '../content/swarm-id.js';

/**
 * The record's metadata bytes; `ppspp` is where the file is also served to plain PPSPP peers
 * (`seed --ppspp`, the port it was bound to), so a restart serves it there again.
 */
export function encodeRecordMetadata(metadata: SwarmMetadata | undefined, ppspp?: { host: string; port: number }): Uint8Array {
  const json = metadata ? { rootHash: Buffer.from(metadata.rootHash).toString('hex'), contentLength: metadata.contentLength, chunkSize: metadata.chunkSize, ...(ppspp ? { ppspp } : {}) } : {};
  return Buffer.from(JSON.stringify(json), 'utf8');
}

/** Where a record says its file is served to plain PPSPP peers, if anywhere (checked like any field). */
export function decodeRecordPpspp(swarmId: string, bytes: Uint8Array): { host: string; port: number } | undefined {
  const { ppspp } = JSON.parse(Buffer.from(bytes).toString('utf8')) as { ppspp?: { host?: unknown; port?: unknown } };
  if (ppspp === undefined) return undefined;
  const { host, port } = ppspp;
  if (typeof host !== 'string' || isIP(host) === 0 || typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65_535) throw bad(swarmId, 'its PPSPP address is not an IP and port');
  return { host, port };
}

/** The metadata of swarm `swarmId` in `bytes`, undefined if the record has none yet. */
export function decodeRecordMetadata(swarmId: string, bytes: Uint8Array): SwarmMetadata | undefined {
  let json: { rootHash?: unknown; contentLength?: unknown; chunkSize?: unknown };
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof json;
  } catch {
    throw bad(swarmId, 'its metadata is not JSON');
  }
  if (json.rootHash === undefined) return undefined;
  if (typeof json.rootHash !== 'string' || typeof json.contentLength !== 'number' || typeof json.chunkSize !== 'number') throw bad(swarmId, 'its metadata lacks a field');
  try {
    return metadataOfSwarm(swarmId, Buffer.from(json.rootHash, 'hex'), json.contentLength, json.chunkSize);
  } catch {
    throw bad(swarmId, 'its metadata is of another swarm');
  }
}

function bad(swarmId: string, why: string): ReloadError {
  return new ReloadError(ErrorCode.Invalid_Message, `the stored record of swarm ${swarmId} is damaged: ${why}`, 'bad_record');
}
