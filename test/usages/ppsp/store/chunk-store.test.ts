import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, truncate, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirtualClock } from '../../../../overlay/clock.js';
import { ErrorCode, ReloadError } from '../../../../overlay/errors.js';
import { ChunkStore, MAX_CHUNKS_PER_IO, ResumeConflictError, type DownloadChunkStore, type DownloadStoreOptions } from '../../../../usages/ppsp/store/chunk-store.js';
import { ChunkBitmap } from '../../../../usages/ppsp/content/chunk-bitmap.js';
import {
  checkGeometry,
  checkSwarmId,
  chunkCountOf,
  decodeSidecar,
  encodeSidecar,
  MAX_CHUNK_SIZE_BYTES,
  SIDECAR_MAGIC,
} from '../../../../usages/ppsp/store/chunk-store-state.js';
import { expectReloadError } from '../../../helpers/expect-reload-error.js';
import { Prng } from '../../../helpers/prng.js';
import { rejection } from '../../../helpers/rejection.js';
import { waitFor } from '../../../helpers/wait.js';

const CS = 1024;
const SWARM = 'ab'.repeat(32);
const OTHER_SWARM = 'cd'.repeat(32);
/** Content lengths that exercise the edges: empty, one byte, short of one chunk, exact multiples, a short last chunk. */
const SIZES = [0, 1, CS - 1, CS, 4 * CS, 4 * CS + 123];

async function expectRejectsReloadError(p: Promise<unknown>, code: ErrorCode, reason?: string): Promise<ReloadError> {
  const e = await rejection(p);
  expect(e, String(e)).to.be.instanceOf(ReloadError);
  const error = e as ReloadError;
  expect(error.code, error.message).to.equal(code);
  if (reason !== undefined) expect(error.reason, error.message).to.equal(reason);
  return error;
}

function sliceOf(content: Buffer, index: number, chunkSize = CS): Buffer {
  return content.subarray(index * chunkSize, Math.min(content.length, (index + 1) * chunkSize));
}

function shuffled(n: number, prng: Prng): number[] {
  const out = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = prng.int(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Chunks `first`..`last` (inclusive) of `content`, back to back. */
function rangeOf(content: Buffer, first: number, last: number): Buffer {
  return content.subarray(first * CS, Math.min(content.length, (last + 1) * CS));
}

/** Replaces the data file's writev, as the kernel would behave (short writes, errors). */
function fakeWritev(store: DownloadChunkStore, fake: (real: FileHandle['writev'], buffers: Uint8Array[], position: number) => ReturnType<FileHandle['writev']>): void {
  const data = (store as unknown as { data: FileHandle }).data;
  const real = data.writev.bind(data) as FileHandle['writev'];
  data.writev = ((buffers: Uint8Array[], position: number) => fake(real, buffers, position)) as FileHandle['writev'];
}

/** Open descriptors of this process, where the platform shows them (Linux). */
function openFds(): number | undefined {
  return existsSync('/proc/self/fd') ? readdirSync('/proc/self/fd').length : undefined;
}

/** Bits set in the sidecar as it is on disk right now (what a restart would see). */
async function persistedOnDisk(statePath: string): Promise<number[]> {
  const decoded = decodeSidecar(await readFile(statePath));
  if (!decoded.ok) throw new Error(decoded.why);
  const out: number[] = [];
  for (let i = 0; i < decoded.bitmap.size; i++) if (decoded.bitmap.get(i)) out.push(i);
  return out;
}

describe('chunk store state: geometry, bitmap, sidecar layout', () => {
  it('cuts content into ceil(length / chunkSize) chunks, none for empty content', () => {
    expect([0, 1, CS - 1, CS, CS + 1, 4 * CS].map((n) => chunkCountOf(n, CS))).to.deep.equal([0, 1, 1, 1, 2, 4]);
    expect(checkGeometry(CS, 4 * CS + 1, 5)).to.deep.equal({ chunkSize: CS, contentLength: 4 * CS + 1, chunkCount: 5 });
  });

  it('refuses impossible or disagreeing metadata as Invalid_Message (bad_metadata)', () => {
    for (const [size, length, count] of [
      [0, 10, undefined],
      [1.5, 10, undefined],
      [MAX_CHUNK_SIZE_BYTES + 1, 10, undefined],
      [CS, -1, undefined],
      [CS, 2 ** 60, undefined],
      [CS, CS + 1, 1],
      [CS, 0, 1],
    ] as const) {
      expectReloadError(() => checkGeometry(size, length, count), ErrorCode.Invalid_Message, { reason: 'bad_metadata' });
    }
  });

  it('accepts only lowercase hex swarm IDs of bounded length', () => {
    checkSwarmId(SWARM);
    for (const bad of ['', 'AB', 'xyz', 'a'.repeat(257), 'ab cd']) expectReloadError(() => checkSwarmId(bad), ErrorCode.Invalid_Message, { reason: 'bad_swarm_id' });
  });

  it('ignores bits past the last chunk in a sidecar, so they can never count as chunks', () => {
    const header = { swarmId: SWARM, chunkSize: CS, contentLength: 10 * CS };
    const bytes = Buffer.concat([encodeSidecar(header, new ChunkBitmap(10)).subarray(0, -2), Buffer.from([0xff, 0xff])]);
    const decoded = decodeSidecar(bytes);
    if (!decoded.ok) throw new Error(decoded.why);
    expect(decoded.bitmap.count).to.equal(10);
    expect([...decoded.bitmap.missing()]).to.deep.equal([]);
    expect([...decoded.bitmap.toBytes()]).to.deep.equal([0xff, 0xc0]);
  });

  it('round-trips a sidecar and refuses bytes that are not exactly one', () => {
    const bitmap = new ChunkBitmap(20);
    bitmap.set(3);
    bitmap.set(19);
    const header = { swarmId: SWARM, chunkSize: CS, contentLength: 20 * CS - 7 };
    const bytes = encodeSidecar(header, bitmap);
    const decoded = decodeSidecar(bytes);
    if (!decoded.ok) throw new Error(decoded.why);
    expect(decoded.header).to.deep.equal(header);
    expect(decoded.headerLength).to.equal(bytes.length - 3);
    expect([...decoded.bitmap.missing()].length).to.equal(18);
    expect(decoded.bitmap.get(3) && decoded.bitmap.get(19)).to.equal(true);

    const otherVersion = Buffer.from(bytes);
    otherVersion[SIDECAR_MAGIC.length - 1] = 2;
    for (const bad of [Buffer.alloc(0), bytes.subarray(0, 12), bytes.subarray(0, bytes.length - 1), Buffer.concat([bytes, Buffer.from([0])]), otherVersion]) {
      expect(decodeSidecar(bad).ok).to.equal(false);
    }
  });
});

describe('chunk store on disk', function () {
  let dir: string;
  let open: Array<{ close(): Promise<void> }>;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reload-chunk-store-'));
    open = [];
  });

  afterEach(async () => {
    for (const s of open) await s.close().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  async function seedFile(length: number): Promise<{ path: string; content: Buffer }> {
    const content = randomBytes(length);
    const path = join(dir, `seed-${length}.bin`);
    await writeFile(path, content);
    return { path, content };
  }

  async function download(out: string, length: number, extra: Partial<DownloadStoreOptions> = {}): Promise<DownloadChunkStore> {
    const store = await ChunkStore.openDownload(out, { swarmId: SWARM, chunkSize: CS, contentLength: length, chunkCount: chunkCountOf(length, CS), syncIntervalMs: 0, ...extra });
    open.push(store);
    return store;
  }

  describe('ChunkStore.openComplete (seeder)', () => {
    it('reads every chunk as exactly its slice of the file, for every edge size', async () => {
      for (const length of SIZES) {
        const { path, content } = await seedFile(length);
        const store = await ChunkStore.openComplete(path, { chunkSize: CS, contentLength: length });
        open.push(store);
        expect(store.chunkCount).to.equal(chunkCountOf(length, CS));
        expect(store.count).to.equal(store.chunkCount);
        const pieces: Buffer[] = [];
        for (let i = 0; i < store.chunkCount; i++) {
          expect(store.has(i)).to.equal(true);
          const chunk = await store.read(i);
          expect(chunk.length).to.equal(store.chunkLength(i));
          expect(chunk.equals(sliceOf(content, i)), `chunk ${i} of ${length}`).to.equal(true);
          pieces.push(chunk);
        }
        expect(Buffer.concat(pieces).equals(content)).to.equal(true);
        expect(store.has(store.chunkCount)).to.equal(false);
        await store.close();
      }
    });

    it('refuses an index outside the swarm as Invalid_Message (out_of_range)', async () => {
      const { path } = await seedFile(2 * CS + 5);
      const store = await ChunkStore.openComplete(path, { chunkSize: CS, contentLength: 2 * CS + 5 });
      open.push(store);
      for (const index of [-1, 3, 1.5, NaN, Number.MAX_SAFE_INTEGER + 2]) {
        await expectRejectsReloadError(store.read(index), ErrorCode.Invalid_Message, 'out_of_range');
        expect(store.has(index)).to.equal(false);
      }
      const empty = await seedFile(0);
      const none = await ChunkStore.openComplete(empty.path, { chunkSize: CS, contentLength: 0 });
      open.push(none);
      await expectRejectsReloadError(none.read(0), ErrorCode.Invalid_Message, 'out_of_range');
    });

    it('refuses a file whose size is not the content length, or that is missing, naming the path', async () => {
      const { path } = await seedFile(CS);
      expect((await rejection(ChunkStore.openComplete(path, { chunkSize: CS, contentLength: CS + 1 }))).message).to.include(path);
      const missing = join(dir, 'nope.bin');
      expect((await rejection(ChunkStore.openComplete(missing, { chunkSize: CS, contentLength: 1 }))).message).to.include(missing);
      await expectRejectsReloadError(ChunkStore.openComplete(path, { chunkSize: 0, contentLength: CS }), ErrorCode.Invalid_Message, 'bad_metadata');
    });

    it('reads a range of chunks as one buffer of exactly their bytes, the short last chunk included', async () => {
      for (const length of SIZES.filter((l) => l > 0)) {
        const { path, content } = await seedFile(length);
        const store = await ChunkStore.openComplete(path, { chunkSize: CS, contentLength: length });
        open.push(store);
        const last = store.chunkCount - 1;
        for (const [a, b] of [[0, last], [last, last], [0, 0], [Math.min(1, last), last]] as const) {
          expect((await store.readRange(a, b)).equals(rangeOf(content, a, b)), `${a}..${b} of ${length}`).to.equal(true);
        }
      }
      const { path, content } = await seedFile((MAX_CHUNKS_PER_IO + 2) * CS);
      const store = await ChunkStore.openComplete(path, { chunkSize: CS, contentLength: content.length });
      open.push(store);
      expect((await store.readRange(1, MAX_CHUNKS_PER_IO)).equals(rangeOf(content, 1, MAX_CHUNKS_PER_IO))).to.equal(true);
    });

    it('reads chunks into separate targets (past frame headers) with one call, and refuses a target of the wrong length', async () => {
      const length = 5 * CS - 7;
      const { path, content } = await seedFile(length);
      const store = await ChunkStore.openComplete(path, { chunkSize: CS, contentLength: length });
      open.push(store);
      const frames = [2, 3, 4].map((c) => Buffer.alloc(3 + store.chunkLength(c), 0xaa));
      await store.readChunksInto(2, frames.map((f) => f.subarray(3)));
      frames.forEach((f, i) => {
        expect(f.subarray(0, 3).equals(Buffer.alloc(3, 0xaa)), `header room of chunk ${2 + i} untouched`).to.equal(true);
        expect(f.subarray(3).equals(rangeOf(content, 2 + i, 2 + i)), `chunk ${2 + i}`).to.equal(true);
      });
      expect(await rejection(store.readChunksInto(0, [Buffer.alloc(CS), Buffer.alloc(CS - 1)]))).to.be.instanceOf(RangeError);
      expect(await rejection(store.readChunksInto(4, [Buffer.alloc(CS)]))).to.be.instanceOf(RangeError);
    });

    it('refuses a range outside the swarm or reversed as Invalid_Message (out_of_range), and one over MAX_CHUNKS_PER_IO chunks as RangeError', async () => {
      const { path } = await seedFile((MAX_CHUNKS_PER_IO + 2) * CS);
      const store = await ChunkStore.openComplete(path, { chunkSize: CS, contentLength: (MAX_CHUNKS_PER_IO + 2) * CS });
      open.push(store);
      for (const [a, b] of [[-1, 0], [0, MAX_CHUNKS_PER_IO + 2], [MAX_CHUNKS_PER_IO + 2, MAX_CHUNKS_PER_IO + 2], [2, 1], [0.5, 1], [0, NaN]] as const) {
        await expectRejectsReloadError(store.readRange(a, b), ErrorCode.Invalid_Message, 'out_of_range');
      }
      for (const [a, b] of [[0, MAX_CHUNKS_PER_IO], [1, MAX_CHUNKS_PER_IO + 1]] as const) {
        expect(await rejection(store.readRange(a, b)), `${a}..${b}`).to.be.instanceOf(RangeError);
      }
    });

    it('closes its file handle, and refuses reads afterwards', async () => {
      const before = openFds();
      const { path } = await seedFile(CS);
      const store = await ChunkStore.openComplete(path, { chunkSize: CS, contentLength: CS });
      await store.read(0);
      await store.close();
      await store.close();
      if (before !== undefined) expect(openFds()).to.equal(before);
      expect((await rejection(store.read(0))).message).to.match(/closed/);
    });
  });

  describe('ChunkStore.openDownload (leecher)', () => {
    it('creates a sparse part file of the content length and a sidecar with no chunks', async () => {
      const out = join(dir, 'out.bin');
      const store = await download(out, 10 * CS + 1);
      expect(store.path).to.equal(out + '.part');
      expect(store.statePath).to.equal(out + '.part.state');
      expect((await readFile(store.path)).length).to.equal(10 * CS + 1);
      expect(await persistedOnDisk(store.statePath)).to.deep.equal([]);
      expect(store.count).to.equal(0);
      expect([...store.missing()]).to.deep.equal(Array.from({ length: 11 }, (_, i) => i));
      expect(existsSync(out)).to.equal(false);
    });

    it('writes chunks in random order, resumes after close with exactly those, and finishes byte-identical', async () => {
      const prng = new Prng(5);
      const length = 37 * CS + 301;
      const content = randomBytes(length);
      const out = join(dir, 'out.bin');
      const before = openFds();
      const order = shuffled(38, prng);
      const first = order.slice(0, 23);

      const store = await download(out, length, { syncEveryChunks: 5 });
      await Promise.all(first.map((i) => store.write(i, sliceOf(content, i))));
      expect(store.count).to.equal(first.length);
      await store.close();
      if (before !== undefined) expect(openFds(), 'no handle left open').to.equal(before);
      expect(existsSync(out + '.part') && existsSync(out + '.part.state')).to.equal(true);
      expect(await persistedOnDisk(out + '.part.state')).to.deep.equal([...first].sort((a, b) => a - b));

      const again = await download(out, length);
      expect(again.count).to.equal(first.length);
      for (let i = 0; i < 38; i++) expect(again.has(i), `chunk ${i}`).to.equal(first.includes(i));
      expect([...again.missing()].sort((a, b) => a - b)).to.deep.equal(order.slice(23).sort((a, b) => a - b));
      // Verified chunks are served while downloading.
      for (const i of first) expect((await again.read(i)).equals(sliceOf(content, i))).to.equal(true);
      await expectRejectsReloadError(again.read(order[30]!), ErrorCode.Not_Found);

      for (const i of again.missing()) await again.write(i, sliceOf(content, i));
      expect(again.complete).to.equal(true);
      await again.finish();
      expect((await readFile(out)).equals(content)).to.equal(true);
      expect(existsSync(out + '.part') || existsSync(out + '.part.state')).to.equal(false);
      if (before !== undefined) expect(openFds()).to.equal(before);
      expect((await rejection(again.write(0, sliceOf(content, 0)))).message).to.include(out + '.part');
    });

    it('downloads every edge size, including empty content (no chunks, complete at once)', async () => {
      for (const length of SIZES) {
        const content = randomBytes(length);
        const out = join(dir, `out-${length}.bin`);
        const store = await download(out, length);
        expect(store.complete).to.equal(length === 0);
        for (const i of shuffled(store.chunkCount, new Prng(length))) await store.write(i, sliceOf(content, i));
        await store.finish();
        expect((await readFile(out)).equals(content), `size ${length}`).to.equal(true);
        expect(existsSync(out + '.part.state')).to.equal(false);
      }
    });

    it('persists a bit only after a data sync that covers it: every syncEveryChunks chunks (behind the writer), or on flush', async () => {
      const content = randomBytes(10 * CS);
      const store = await download(join(dir, 'out.bin'), content.length, { syncEveryChunks: 4 });
      for (const i of [7, 1, 3]) await store.write(i, sliceOf(content, i));
      // Written and readable, but not yet promised to survive a crash.
      expect(store.count).to.equal(3);
      expect(store.persistedCount).to.equal(0);
      expect((await store.read(7)).equals(sliceOf(content, 7))).to.equal(true);
      expect(await persistedOnDisk(store.statePath)).to.deep.equal([]);

      await store.write(0, sliceOf(content, 0));
      // The write started the batch sync but did not wait for it: the data sync cannot have finished yet.
      expect(store.persistedCount).to.equal(0);
      await waitFor(() => store.persistedCount === 4, 5000, 'the batch sync');
      // Queued behind the batch sync with nothing of its own to persist, so it returns once the sidecar is written.
      await store.flush();
      expect(await persistedOnDisk(store.statePath)).to.deep.equal([0, 1, 3, 7]);

      await store.write(9, sliceOf(content, 9));
      expect(await persistedOnDisk(store.statePath)).to.deep.equal([0, 1, 3, 7]);
      await store.flush();
      expect(await persistedOnDisk(store.statePath)).to.deep.equal([0, 1, 3, 7, 9]);
    });

    it('leaves a chunk written while a sync runs to the next batch, even when it shares a bitmap byte', async () => {
      const content = randomBytes(8 * CS);
      const store = await download(join(dir, 'out.bin'), content.length, { syncEveryChunks: 1000 });
      await store.write(0, sliceOf(content, 0));
      const syncing = store.flush();
      const late = store.write(1, sliceOf(content, 1));
      await syncing;
      expect(await persistedOnDisk(store.statePath)).to.deep.equal([0]);
      await late;
      await store.flush();
      expect(await persistedOnDisk(store.statePath)).to.deep.equal([0, 1]);
    });

    it('persists a lone chunk after syncIntervalMs on the injected clock, and leaves no timer on close', async () => {
      const clock = new VirtualClock();
      const content = randomBytes(3 * CS);
      const store = await download(join(dir, 'out.bin'), content.length, { clock, syncIntervalMs: 500, syncEveryChunks: 1000 });
      await store.write(2, sliceOf(content, 2));
      expect(clock.pendingCount).to.equal(1);
      clock.advance(499);
      expect(store.persistedCount).to.equal(0);
      clock.advance(1);
      await waitFor(() => store.persistedCount === 1, 5000, 'the timed sync');
      expect(await persistedOnDisk(store.statePath)).to.deep.equal([2]);
      await store.write(0, sliceOf(content, 0));
      expect(clock.pendingCount).to.equal(1);
      await store.close();
      expect(clock.pendingCount).to.equal(0);
      expect(await persistedOnDisk(store.statePath)).to.deep.equal([0, 2]);
    });

    it('after a crash between the data write and the sidecar update, the chunk is simply missing', async () => {
      const content = randomBytes(8 * CS);
      const source = join(dir, 'source.bin');
      await writeFile(source, content);
      const out = join(dir, 'out.bin');
      const plan = { out, source, swarmId: SWARM, chunkSize: CS, contentLength: content.length, synced: [5, 0, 2], unsynced: [6, 1] };
      // A real process, killed with SIGKILL once the unsynced chunks' bytes are in the file.
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          '--input-type=module',
          '-e',
          `const { ChunkStore } = await import(process.env.STORE_MODULE);
           const { readFile } = await import('node:fs/promises');
           const p = JSON.parse(process.env.CRASH_PLAN);
           const content = await readFile(p.source);
           const slice = (i) => content.subarray(i * p.chunkSize, Math.min(p.contentLength, (i + 1) * p.chunkSize));
           const store = await ChunkStore.openDownload(p.out, { swarmId: p.swarmId, chunkSize: p.chunkSize, contentLength: p.contentLength,
             chunkCount: Math.ceil(p.contentLength / p.chunkSize), syncEveryChunks: 1000, syncIntervalMs: 0 });
           for (const i of p.synced) await store.write(i, slice(i));
           await store.flush();
           for (const i of p.unsynced) await store.write(i, slice(i));
           process.stdout.write('ready\\n');
           setInterval(() => {}, 1000);`,
        ],
        {
          env: { ...process.env, STORE_MODULE: new URL('../../../../usages/ppsp/store/chunk-store.ts', import.meta.url).href, CRASH_PLAN: JSON.stringify(plan) },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<string | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
        child.on('exit', () => reject(new Error(`child exited before writing: ${stderr}`)));
      });
      child.kill('SIGKILL');
      expect(await exited).to.equal('SIGKILL');

      // The lost chunks' bytes did reach the file; only the promise that they are durable is missing.
      const part = await readFile(out + '.part');
      expect(part.subarray(6 * CS, 7 * CS).equals(sliceOf(content, 6))).to.equal(true);

      const store = await download(out, content.length);
      expect([0, 1, 2, 3, 4, 5, 6, 7].filter((i) => store.has(i))).to.deep.equal([0, 2, 5]);
      for (const i of store.missing()) await store.write(i, sliceOf(content, i));
      await store.finish();
      expect((await readFile(out)).equals(content)).to.equal(true);
    });

    it('refuses to resume a sidecar of another swarm, leaving both files as they were; restart starts over', async () => {
      const content = randomBytes(4 * CS);
      const out = join(dir, 'out.bin');
      const first = await download(out, content.length);
      await first.write(1, sliceOf(content, 1));
      await first.close();
      const partBefore = await readFile(out + '.part');
      const stateBefore = await readFile(out + '.part.state');

      const conflict = await rejection(download(out, content.length, { swarmId: OTHER_SWARM }));
      expect(conflict).to.be.instanceOf(ResumeConflictError);
      expect((conflict as ResumeConflictError).path).to.equal(out + '.part.state');
      expect(conflict.message).to.include(out + '.part.state').and.include(SWARM);
      expect((await readFile(out + '.part')).equals(partBefore)).to.equal(true);
      expect((await readFile(out + '.part.state')).equals(stateBefore)).to.equal(true);

      const other = await download(out, content.length, { swarmId: OTHER_SWARM, restart: true });
      expect(other.count).to.equal(0);
      expect(other.swarmId).to.equal(OTHER_SWARM);
      await other.close();
      // The first swarm's partial download is gone now: it refuses in turn.
      expect(await rejection(download(out, content.length))).to.be.instanceOf(ResumeConflictError);
      const same = await download(out, content.length, { restart: true });
      expect(same.count).to.equal(0);
    });

    it('refuses a sidecar with other geometry, a corrupt sidecar, or a part file of the wrong size', async () => {
      const out = join(dir, 'out.bin');
      await (await download(out, 4 * CS)).close();
      expect(await rejection(download(out, 4 * CS, { chunkSize: CS / 2, chunkCount: 8 }))).to.be.instanceOf(ResumeConflictError);
      expect(await rejection(download(out, 4 * CS - 1))).to.be.instanceOf(ResumeConflictError);

      await truncate(out + '.part', 3);
      const wrongSize = await rejection(download(out, 4 * CS));
      expect(wrongSize).to.be.instanceOf(ResumeConflictError);
      expect((wrongSize as ResumeConflictError).path).to.equal(out + '.part');

      await writeFile(out + '.part.state', 'not a sidecar at all');
      expect((await rejection(download(out, 4 * CS))).message).to.include(out + '.part.state');
      expect((await download(out, 4 * CS, { restart: true })).count).to.equal(0);
    });

    it('starts over when the part file is gone (nothing to resume, e.g. a finish interrupted before the sidecar went)', async () => {
      const content = randomBytes(2 * CS);
      const out = join(dir, 'out.bin');
      const first = await download(out, content.length);
      await first.write(0, sliceOf(content, 0));
      await first.close();
      await unlink(out + '.part');
      const again = await download(out, content.length);
      expect(again.count).to.equal(0);
      expect(await persistedOnDisk(again.statePath)).to.deep.equal([]);
    });

    it('writes the chunks staged in one turn with one writev per run of consecutive indices, of at most MAX_CHUNKS_PER_IO chunks', async () => {
      const count = 2 * MAX_CHUNKS_PER_IO + 10;
      const content = randomBytes(count * CS - 100);
      const out = join(dir, 'out.bin');
      const store = await download(out, content.length);
      await Promise.all(Array.from({ length: 10 }, (_, i) => store.write(i, sliceOf(content, i))));
      expect(store.dataWrites).to.equal(1);
      expect(store.count).to.equal(10);
      for (let i = 0; i < 10; i++) expect((await store.read(i)).equals(sliceOf(content, i)), `chunk ${i}`).to.equal(true);

      // The other 2 × MAX_CHUNKS_PER_IO chunks, the short last one included, take exactly two more runs.
      await Promise.all([...store.missing()].map((i) => store.write(i, sliceOf(content, i))));
      expect(store.dataWrites).to.equal(3);
      await store.finish();
      expect((await readFile(out)).equals(content)).to.equal(true);
    });

    it('writes out-of-order and gapped chunks to their own places, one run per consecutive stretch', async () => {
      const content = randomBytes(20 * CS + 7);
      const out = join(dir, 'out.bin');
      const store = await download(out, content.length);
      // One turn, three stretches (0..2, 5..6, 9..11), arriving scrambled.
      await Promise.all([9, 2, 0, 5, 1, 11, 6, 10].map((i) => store.write(i, sliceOf(content, i))));
      expect(store.dataWrites).to.equal(3);
      expect([...store.missing()]).to.deep.equal([3, 4, 7, 8, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
      for (const i of shuffled(store.chunkCount, new Prng(7)).filter((i) => !store.has(i))) await store.write(i, sliceOf(content, i));
      await store.finish();
      expect((await readFile(out)).equals(content)).to.equal(true);
    });

    it('continues a short writev from where it stopped, even mid-chunk', async () => {
      const content = randomBytes(6 * CS);
      const out = join(dir, 'out.bin');
      const store = await download(out, content.length);
      fakeWritev(store, (real, buffers, position) => real([Buffer.concat(buffers).subarray(0, 1000)], position));
      await Promise.all(Array.from({ length: 6 }, (_, i) => store.write(i, sliceOf(content, i))));
      expect(store.dataWrites).to.equal(Math.ceil(content.length / 1000));
      await store.finish();
      expect((await readFile(out)).equals(content)).to.equal(true);
    });

    it('rejects every chunk of a run whose writev fails, naming the file, and accepts them again afterwards', async () => {
      const content = randomBytes(4 * CS);
      const out = join(dir, 'out.bin');
      const store = await download(out, content.length);
      let fail = true;
      fakeWritev(store, (real, buffers, position) => (fail ? Promise.reject(new Error('EIO: simulated')) : real(buffers, position)));
      const results = await Promise.allSettled([0, 1, 2].map((i) => store.write(i, sliceOf(content, i))));
      for (const r of results) {
        expect(r.status).to.equal('rejected');
        expect((r as PromiseRejectedResult).reason.message).to.include(store.path).and.include('EIO: simulated');
      }
      expect(store.count).to.equal(0);
      fail = false;
      for (let i = 0; i < 4; i++) await store.write(i, sliceOf(content, i));
      await store.finish();
      expect((await readFile(out)).equals(content)).to.equal(true);
    });

    it('close() waits for staged and running writes, then persists them all', async () => {
      const content = randomBytes(12 * CS);
      const out = join(dir, 'out.bin');
      const store = await download(out, content.length, { maxWritesInFlight: 1, syncEveryChunks: 1000 });
      const indices = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11];
      const writes = Promise.all(indices.map((i) => store.write(i, sliceOf(content, i))));
      const closed = store.close();
      expect((await rejection(store.write(10, sliceOf(content, 10)))).message).to.match(/closed/);
      await writes;
      await closed;
      expect(await persistedOnDisk(store.statePath)).to.deep.equal(indices);
      const again = await download(out, content.length);
      expect((await again.readRange(0, 9)).equals(rangeOf(content, 0, 9))).to.equal(true);
      expect((await again.read(11)).equals(sliceOf(content, 11))).to.equal(true);
    });

    it('readRange serves chunks written so far and refuses a range with a chunk not held as Not_Found', async () => {
      const content = randomBytes(5 * CS + 9);
      const store = await download(join(dir, 'out.bin'), content.length);
      for (const i of [0, 1, 3, 5]) await store.write(i, sliceOf(content, i));
      expect((await store.readRange(0, 1)).equals(rangeOf(content, 0, 1))).to.equal(true);
      expect((await store.readRange(5, 5)).equals(sliceOf(content, 5))).to.equal(true);
      for (const [a, b] of [[0, 3], [2, 2], [3, 5]] as const) await expectRejectsReloadError(store.readRange(a, b), ErrorCode.Not_Found, 'not_found');
    });

    it('refuses bad indices, wrong lengths and reads of missing chunks, writing nothing to either file', async () => {
      const content = randomBytes(3 * CS + 10);
      const store = await download(join(dir, 'out.bin'), content.length, { syncEveryChunks: 1 });
      await store.write(1, sliceOf(content, 1));
      // The batch sync runs behind the writer: let it finish before taking the files' picture.
      await store.flush();
      const part = await readFile(store.path);
      const state = await readFile(store.statePath);

      for (const index of [-1, 4, 2.5, NaN, 2 ** 40]) {
        await expectRejectsReloadError(store.write(index, Buffer.alloc(CS, 0xee)), ErrorCode.Invalid_Message, 'out_of_range');
        await expectRejectsReloadError(store.read(index), ErrorCode.Invalid_Message, 'out_of_range');
      }
      await expectRejectsReloadError(store.write(0, Buffer.alloc(CS + 1, 0xee)), ErrorCode.Invalid_Message, 'bad_chunk_length');
      await expectRejectsReloadError(store.write(3, Buffer.alloc(CS, 0xee)), ErrorCode.Invalid_Message, 'bad_chunk_length');
      await expectRejectsReloadError(store.write(0, Buffer.alloc(0)), ErrorCode.Invalid_Message, 'bad_chunk_length');
      await expectRejectsReloadError(store.read(0), ErrorCode.Not_Found);

      expect((await readFile(store.path)).equals(part)).to.equal(true);
      expect((await readFile(store.statePath)).equals(state)).to.equal(true);
      expect(store.count).to.equal(1);
    });

    it('refuses bad metadata before creating any file', async () => {
      const out = join(dir, 'out.bin');
      await expectRejectsReloadError(ChunkStore.openDownload(out, { swarmId: SWARM, chunkSize: CS, contentLength: 3 * CS, chunkCount: 4 }), ErrorCode.Invalid_Message, 'bad_metadata');
      await expectRejectsReloadError(ChunkStore.openDownload(out, { swarmId: 'Not-Hex', chunkSize: CS, contentLength: CS, chunkCount: 1 }), ErrorCode.Invalid_Message, 'bad_swarm_id');
      expect(readdirSync(dir)).to.deep.equal([]);
    });

    it('refuses to finish early and stays usable; duplicate and concurrent writes of one chunk are harmless', async () => {
      const content = randomBytes(50 * CS);
      const out = join(dir, 'out.bin');
      const store = await download(out, content.length, { maxWritesInFlight: 2, syncEveryChunks: 7 });
      await store.write(0, sliceOf(content, 0));
      await expectRejectsReloadError(store.finish(), ErrorCode.Not_Found, 'incomplete');
      const writes: Promise<void>[] = [];
      for (let i = 0; i < 50; i++) writes.push(store.write(i, sliceOf(content, i)), store.write(i, sliceOf(content, i)));
      await Promise.all(writes);
      expect(store.count).to.equal(50);
      await store.finish();
      expect((await readFile(out)).equals(content)).to.equal(true);
    });

    it('reports a file-system failure with the path', async () => {
      const out = join(dir, 'no-such-dir', 'out.bin');
      const e = await rejection(download(out, CS));
      expect(e).not.to.be.instanceOf(ReloadError);
      expect(e.message).to.include(join(dir, 'no-such-dir'));
    });
  });
});
