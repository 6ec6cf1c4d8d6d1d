/**
 * Writes a copy of a swarm this node holds to another file: for a download asked of a node that
 * already seeds the swarm, has downloaded it, or is downloading it to another path. Every chunk
 * is read from the held copy and checked against the swarm's leaf hashes (so against its root)
 * before it is written to `out.part`, which is synced and renamed to `out` only when complete: a
 * copy is never taken on trust from a file that may have changed since it was hashed.
 */
import { open, rename, stat, unlink } from 'node:fs/promises';
import { ErrorCode, ReloadError } from '../../../overlay/index.js';
import { MAX_CHUNKS_PER_IO, PART_SUFFIX } from './chunk-store.js';
import { chunkRange } from '../content/swarm-id.js';
import type { Swarm } from '../data/swarm.js';

/**
 * Copies the complete swarm into `out` once `swarm.done` resolves. Refuses to replace an existing
 * `out` unless `force`. Rejects (and removes the part file) if a chunk fails its leaf hash or the
 * swarm stops first.
 */
export async function exportSwarm(swarm: Swarm, out: string, force: boolean): Promise<void> {
  await swarm.done;
  const metadata = swarm.metadata!;
  const part = out + PART_SUFFIX;
  const file = await open(part, 'w', 0o644);
  try {
    for (let first = 0; first < metadata.chunkCount; first += MAX_CHUNKS_PER_IO) {
      const last = Math.min(metadata.chunkCount, first + MAX_CHUNKS_PER_IO) - 1;
      const targets: Buffer[] = [];
      for (let c = first; c <= last; c++) {
        const { start, end } = chunkRange(c, metadata.contentLength, metadata.chunkSize);
        targets.push(Buffer.allocUnsafe(end - start));
      }
      await swarm.readChunksInto(first, targets);
      for (const [i, chunk] of targets.entries()) {
        if (!swarm.verifyChunk(first + i, chunk)) {
          throw new ReloadError(ErrorCode.Invalid_Message, `chunk ${first + i} of ${swarm.path} does not match the swarm's root: the file changed or is corrupt`, 'bad_chunk');
        }
      }
      await file.writev(targets, first * metadata.chunkSize);
    }
    await file.datasync();
    await file.close();
    if (!force && (await stat(out).catch(() => undefined))) throw new ReloadError(ErrorCode.Forbidden, `${out} appeared while it was written; not replaced without force`, 'exists');
    await rename(part, out);
  } catch (e) {
    await file.close().catch(() => {});
    await unlink(part).catch(() => {});
    throw e;
  }
}
