/**
 * The metadata field of a SwarmRecord: the swarm's root hash and geometry as JSON bytes, or `{}`
 * for a download started from a bare swarm ID before any peer sent the metadata. Decoding checks
 * the swarm ID commits to what was read, so a damaged record is refused, never served.
 */
import { ErrorCode, ReloadError } from '../../../overlay/index.js';
import { metadataOfSwarm, type SwarmMetadata } from '../content/swarm-id.js';

export function encodeRecordMetadata(metadata: SwarmMetadata | undefined): Uint8Array {
  const json = metadata ? { rootHash: Buffer.from(metadata.rootHash).toString('hex'), contentLength: metadata.contentLength, chunkSize: metadata.chunkSize } : {};
  return Buffer.from(JSON.stringify(json), 'utf8');
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
