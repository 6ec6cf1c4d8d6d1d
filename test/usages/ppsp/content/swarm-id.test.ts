import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { ErrorCode } from '../../../../overlay/errors.js';
import {
  chunkCountOf,
  chunkRange,
  DEFAULT_CHUNK_SIZE,
  isValidChunkSize,
  MAX_CHUNK_COUNT,
  metadataOfSwarm,
  MAX_CHUNK_SIZE,
  MIN_CHUNK_SIZE,
  parseSwarmId,
  swarmIdOf,
  swarmMetadataOf,
  verifySwarmMetadata,
} from '../../../../usages/ppsp/content/swarm-id.js';
import { expectReloadError } from '../../../helpers/expect-reload-error.js';

const invalid = (fn: () => unknown, reason?: string) => expectReloadError(fn, ErrorCode.Invalid_Message, reason ? { reason } : {});
const root = createHash('sha256').update('root').digest();

describe('ppsp swarm ID and geometry', () => {
  it('is SHA-256(root ‖ length u64 BE ‖ chunk size u32 BE) in lowercase hex', () => {
    const geometry = Buffer.from('0000000100000002' + '00004000', 'hex'); // length 2^32+2, 16 KiB
    const expected = createHash('sha256').update(root).update(geometry).digest('hex');
    expect(swarmIdOf(root, 2 ** 32 + 2, 16384)).to.equal(expected).and.to.match(/^[0-9a-f]{64}$/);
  });

  it('commits to the content length and the chunk size as well as the root', () => {
    const id = swarmIdOf(root, 100_000, DEFAULT_CHUNK_SIZE);
    expect(swarmIdOf(root, 100_001, DEFAULT_CHUNK_SIZE)).to.not.equal(id);
    expect(swarmIdOf(root, 99_999, DEFAULT_CHUNK_SIZE)).to.not.equal(id);
    expect(swarmIdOf(root, 100_000, 2 * DEFAULT_CHUNK_SIZE)).to.not.equal(id);
    expect(swarmIdOf(root, 100_000, DEFAULT_CHUNK_SIZE / 2)).to.not.equal(id);
    const other = Buffer.from(root);
    other[31]! ^= 1;
    expect(swarmIdOf(other, 100_000, DEFAULT_CHUNK_SIZE)).to.not.equal(id);
    expect(swarmIdOf(root, 100_000, DEFAULT_CHUNK_SIZE)).to.equal(id);
  });

  it('parses 64 hex digits of either case to lowercase and refuses anything else', () => {
    const id = swarmIdOf(root, 1, MIN_CHUNK_SIZE);
    expect(parseSwarmId(id)).to.equal(id);
    expect(parseSwarmId(id.toUpperCase())).to.equal(id);
    for (const bad of [id.slice(1), id + '0', ` ${id.slice(1)}`, id.slice(0, 63) + 'g', '0x' + id.slice(2), '', 42, null, Buffer.from(id)]) {
      invalid(() => parseSwarmId(bad), 'bad_swarm_id');
    }
  });

  it('limits chunk sizes to powers of two in 1 KiB..1 MiB, default 16 KiB', () => {
    expect(DEFAULT_CHUNK_SIZE).to.equal(16384);
    for (const ok of [1024, 2048, 16384, 1 << 20]) expect(isValidChunkSize(ok), String(ok)).to.equal(true);
    for (const bad of [0, 512, 1000, 1536, 3 * 1024, 2 << 20, 16384.5, NaN, '16384']) {
      expect(isValidChunkSize(bad), String(bad)).to.equal(false);
      invalid(() => swarmIdOf(root, 10, bad as number), 'bad_chunk_size');
    }
    expect(MIN_CHUNK_SIZE).to.equal(1024);
    expect(MAX_CHUNK_SIZE).to.equal(1 << 20);
  });

  it('counts chunks and gives byte ranges, the last one short', () => {
    expect(chunkCountOf(0, 1024)).to.equal(0);
    expect(chunkCountOf(1, 1024)).to.equal(1);
    expect(chunkCountOf(1024, 1024)).to.equal(1);
    expect(chunkCountOf(1025, 1024)).to.equal(2);
    expect(chunkRange(0, 1025, 1024)).to.deep.equal({ start: 0, end: 1024 });
    expect(chunkRange(1, 1025, 1024)).to.deep.equal({ start: 1024, end: 1025 });
    expect(chunkRange(1, 2048, 1024)).to.deep.equal({ start: 1024, end: 2048 });
    invalid(() => chunkRange(2, 1025, 1024), 'chunk_out_of_range');
    invalid(() => chunkRange(-1, 1025, 1024), 'chunk_out_of_range');
    invalid(() => chunkRange(0, 0, 1024), 'chunk_out_of_range');
    invalid(() => chunkCountOf(-1, 1024), 'bad_content_length');
    invalid(() => chunkCountOf(1.5, 1024), 'bad_content_length');
    expect(chunkCountOf(MAX_CHUNK_COUNT * 1024, 1024)).to.equal(MAX_CHUNK_COUNT);
    invalid(() => chunkCountOf(MAX_CHUNK_COUNT * 1024 + 1, 1024), 'too_many_chunks');
  });

  it('verifies metadata: the id, either case, and the chunk count must follow from root and geometry', () => {
    const meta = swarmMetadataOf(root, 40_000, DEFAULT_CHUNK_SIZE);
    expect(meta.chunkCount).to.equal(3);
    verifySwarmMetadata(meta);
    verifySwarmMetadata({ ...meta, swarmId: meta.swarmId.toUpperCase() });
    invalid(() => verifySwarmMetadata({ ...meta, contentLength: 40_001 }), 'swarm_id_mismatch');
    invalid(() => verifySwarmMetadata({ ...meta, chunkSize: 8192, chunkCount: 5 }), 'swarm_id_mismatch');
    invalid(() => verifySwarmMetadata({ ...meta, chunkCount: 4 }), 'bad_chunk_count');
    invalid(() => verifySwarmMetadata({ ...meta, rootHash: new Uint8Array(32) }), 'swarm_id_mismatch');
    invalid(() => verifySwarmMetadata({ ...meta, rootHash: new Uint8Array(31) }), 'bad_hash_length');
    invalid(() => verifySwarmMetadata({ ...meta, swarmId: 'x' }), 'bad_swarm_id');
    invalid(() => verifySwarmMetadata({ ...meta, chunkSize: 1000 }), 'bad_chunk_size');
  });

  it('a tls-only swarm (seed §4.6.1) hashes one byte 0x01 after the geometry, so its requirement cannot be dropped', () => {
    const geometry = Buffer.from('0000000000009c40' + '00004000' + '01', 'hex'); // length 40,000, 16 KiB, tls-only
    const expected = createHash('sha256').update(root).update(geometry).digest('hex');
    const meta = swarmMetadataOf(root, 40_000, DEFAULT_CHUNK_SIZE, true);
    expect(meta.swarmId).to.equal(expected).and.to.not.equal(swarmIdOf(root, 40_000, DEFAULT_CHUNK_SIZE));
    expect(meta.tlsOnly).to.equal(true);
    verifySwarmMetadata(meta);
    // Received metadata says nothing of it: which form the ID commits to does.
    expect(metadataOfSwarm(meta.swarmId, root, 40_000, DEFAULT_CHUNK_SIZE).tlsOnly).to.equal(true);
    expect(metadataOfSwarm(swarmIdOf(root, 40_000, DEFAULT_CHUNK_SIZE), root, 40_000, DEFAULT_CHUNK_SIZE).tlsOnly).to.equal(undefined);
    invalid(() => verifySwarmMetadata({ ...meta, tlsOnly: false }), 'swarm_id_mismatch');
    invalid(() => metadataOfSwarm(meta.swarmId, root, 40_001, DEFAULT_CHUNK_SIZE), 'swarm_id_mismatch');
    invalid(() => metadataOfSwarm(meta.swarmId, root, 40_000, 1000), 'bad_chunk_size');
  });
});
