import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ErrorCode, ReloadError } from '../../../../overlay/errors.js';
import { chunkCountOf, chunkRange, DEFAULT_CHUNK_SIZE, hashFile } from '../../../../usages/ppsp/content/chunker.js';
import { LeafHashes } from '../../../../usages/ppsp/content/leaf-hashes.js';
import { hashChunk, MerkleBuilder, rootOfLeafHashes } from '../../../../usages/ppsp/content/merkle.js';
import { swarmIdOf, verifySwarmMetadata } from '../../../../usages/ppsp/content/swarm-id.js';
import { rejection } from '../../../helpers/rejection.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Deterministic content of any length: SHA-256 in counter mode (fast enough for a few MiB). */
function content(length: number, seed: string): Buffer {
  const out = Buffer.alloc(length);
  for (let at = 0, i = 0; at < length; at += 32, i++) createHash('sha256').update(`${seed}:${i}`).digest().copy(out, at);
  return out;
}

function chunksOf(bytes: Buffer, chunkSize: number): Buffer[] {
  return Array.from({ length: chunkCountOf(bytes.length, chunkSize) }, (_, i) => {
    const { start, end } = chunkRange(i, bytes.length, chunkSize);
    return bytes.subarray(start, end);
  });
}

describe('ppsp hashFile (streaming chunker)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ppsp-chunker-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const S = DEFAULT_CHUNK_SIZE;
  const MiB = 1024 * 1024;
  const cases: [number, number][] = [
    [0, S],
    [1, S],
    [S - 1, S],
    [S, S],
    [S + 1, S],
    [5 * MiB + 3, S],
    [5 * MiB + 3, 1024],
    [5 * MiB + 3, MiB],
  ];
  for (const [size, chunkSize] of cases) {
    it(`hashes ${size} bytes in ${chunkSize}-byte chunks exactly as a MerkleBuilder over the chunks in memory`, async () => {
      const bytes = content(size, `${size}/${chunkSize}`);
      const path = join(dir, `f-${size}-${chunkSize}`);
      await writeFile(path, bytes);
      const progress: number[] = [];
      const { metadata, leafHashes } = await hashFile(path, chunkSize, (done, total) => {
        expect(total).to.equal(size);
        progress.push(done);
      });
      await rm(path);

      const chunks = chunksOf(bytes, chunkSize);
      const builder = new MerkleBuilder();
      for (const chunk of chunks) builder.addChunk(chunk);
      const rootHash = builder.rootHash();
      expect(metadata.contentLength).to.equal(size);
      expect(metadata.chunkSize).to.equal(chunkSize);
      expect(metadata.chunkCount).to.equal(chunks.length);
      expect(hex(metadata.rootHash)).to.equal(hex(rootHash));
      expect(metadata.swarmId).to.equal(swarmIdOf(rootHash, size, chunkSize));
      verifySwarmMetadata(metadata);
      expect(leafHashes.length).to.equal(32 * chunks.length);
      expect(hex(rootOfLeafHashes(leafHashes))).to.equal(hex(rootHash));
      expect(hex(leafHashes)).to.equal(hex(Buffer.concat(chunks.map(hashChunk))));
      expect(progress.at(-1) ?? 0).to.equal(size);
      expect([...progress].sort((a, b) => a - b)).to.deep.equal(progress);
      // The leaf hashes hashFile kept are accepted against its root, and every chunk of the file
      // (the short last one included) checks against its own leaf hash; a changed byte or a chunk
      // under another index does not.
      const leaves = LeafHashes.verified(metadata, leafHashes);
      for (let i = 0; i < chunks.length; i++) expect(leaves.verifyChunk(i, chunks[i]!), `chunk ${i}`).to.equal(true);
      if (chunks.length > 0) {
        const last = chunks.length - 1;
        const flipped = Buffer.from(chunks[last]!);
        flipped[flipped.length - 1]! ^= 0x80;
        expect(leaves.verifyChunk(last, flipped), 'flipped byte').to.equal(false);
      }
      if (chunks.length > 1) {
        expect(leaves.verifyChunk(0, chunks[1]!), 'chunk 1 as 0').to.equal(false);
        expect(leaves.verifyChunk(chunks.length - 1, chunks[0]!), 'chunk 0 as the last').to.equal(false);
      }
    });
  }

  it('uses 16 KiB chunks by default', async () => {
    const path = join(dir, 'default');
    await writeFile(path, content(40_000, 'default'));
    const { metadata } = await hashFile(path);
    await rm(path);
    expect(metadata.chunkSize).to.equal(16384);
    expect(metadata.chunkCount).to.equal(3);
  });

  it('refuses a bad chunk size with Invalid_Message before reading, and stops when aborted', async () => {
    const path = join(dir, 'bad');
    await writeFile(path, content(3 * MiB, 'bad'));
    const e = await rejection<ReloadError>(hashFile(path, 1000));
    expect(e).to.be.instanceOf(ReloadError);
    expect(e.code).to.equal(ErrorCode.Invalid_Message);
    const controller = new AbortController();
    const aborted = await rejection(hashFile(path, 1024, () => controller.abort(), controller.signal));
    expect(aborted.name).to.equal('AbortError');
    await rm(path);
  });
});
