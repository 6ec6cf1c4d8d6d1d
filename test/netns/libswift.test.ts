/**
 * Issue 17: our PPSPP (RFC 7574) transport against libswift, the reference implementation, with real
 * processes and real UDP: our downloader fetches a 64 MiB file from a libswift seeder, libswift
 * fetches 64 MiB from our PpsppServer, and both directions survive a link that loses 2 % of the
 * packets each way (network namespaces of scripts/netem-hosts.sh, 5 ms each way). Every file is
 * compared by SHA-256 with its source.
 *
 * Optional: runs only when LIBSWIFT_BIN names a libswift `swift` binary (built outside the project;
 * nothing of libswift is part of it), else the whole suite is skipped, as it is in CI. The lossy
 * link needs root and python3 too (the namespaces, and netem-switch.py doing netem's job in
 * userspace). Our side runs inside a namespace as test/netns/fixtures/ppspp-peer.ts.
 *
 *   LIBSWIFT_BIN=/path/to/swift npx mocha test/netns/libswift.test.ts
 *
 * libswift facts this leans on: a seeder (`-f FILE -l IP:PORT`) prints "Root hash: HEX" and runs
 * until killed, writing FILE.mhash and FILE.mbinmap beside FILE; a leecher (`-t IP:PORT -h HEX -o
 * DIR`) writes DIR/HEX, exits 0 about a second after it completes, and never exits when it cannot
 * complete, so each one is killed after a time limit. Both print a debug trace on stderr, which goes
 * to a log file in the test's directory (and its tail into a failure's message).
 */
import { expect } from 'chai';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, openSync, closeSync, constants as fsConstants } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PpsppContent } from '../../usages/ppsp/ppspp/ppspp-content.js';
import { downloadPpspp } from '../../usages/ppsp/ppspp/ppspp-download.js';
import { PpsppEndpoint } from '../../usages/ppsp/ppspp/ppspp-endpoint.js';
import { PpsppServer } from '../../usages/ppsp/ppspp/ppspp-server.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { NetemHosts } from '../helpers/netem-hosts.js';

const LIBSWIFT = process.env.LIBSWIFT_BIN;
const MiB = 1024 * 1024;
/** The loopback files, both ways. */
const LOOPBACK_BYTES = 64 * MiB;
/** The files over the lossy link, both ways. */
const LOSSY_BYTES = 4 * MiB;
const LOSSY_LINK = { delayMs: 5, jitterMs: 0, lossPercent: 2 };
/** How long a transfer may take before its process is killed and the test fails. */
const LOOPBACK_LIMIT_MS = 150_000;
const LOSSY_LIMIT_MS = 150_000;
/** How long a libswift seeder may take to hash its file and say its root. */
const SEEDER_READY_MS = 60_000;
/** The fixture that is our side inside a namespace. */
const PEER_FIXTURE = join(REPO_ROOT, 'test', 'netns', 'fixtures', 'ppspp-peer.ts');

/** A child process of this suite: its stdout lines as they come, its stderr in a log file. */
interface Child {
  name: string;
  process: ChildProcess;
  lines: string[];
  log: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `what` in MB/s (10^6 bytes a second), bytes and seconds in one line, for the closing note. */
function figures(what: string, bytes: number, ms: number): string {
  return `      ${what}: ${(bytes / 1e6 / (ms / 1000)).toFixed(2)} MB/s, ${bytes} bytes in ${(ms / 1000).toFixed(2)} s`;
}

/** A file of `bytes` random bytes; resolves with its SHA-256. */
async function randomFile(path: string, bytes: number): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  for (let left = bytes; left > 0; ) {
    const piece = randomBytes(Math.min(left, 4 * MiB));
    hash.update(piece);
    if (!out.write(piece)) await once(out, 'drain');
    left -= piece.length;
  }
  out.end();
  await once(out, 'finish');
  return hash.digest('hex');
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of createReadStream(path)) hash.update(piece as Buffer);
  return hash.digest('hex');
}

/** A UDP port on 127.0.0.1 that was free a moment ago, for a libswift seeder. */
async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

describe('libswift interop (RFC 7574 over real UDP; only when LIBSWIFT_BIN names a libswift binary)', function () {
  this.timeout(LOOPBACK_LIMIT_MS + SEEDER_READY_MS + 60_000);
  let dir: string;
  const children = new Set<Child>();

  before(async function () {
    if (!LIBSWIFT) {
      console.log('      skipped: LIBSWIFT_BIN is not set (it names a libswift `swift` binary to test against)');
      this.skip();
    }
    await access(LIBSWIFT, fsConstants.X_OK).catch((e: Error) => {
      throw new Error(`LIBSWIFT_BIN=${LIBSWIFT} is not an executable libswift binary: ${e.message}`);
    });
    dir = await mkdtemp(join(tmpdir(), 'libswift-interop-'));
  });

  afterEach(async function () {
    await Promise.all([...children].map(async (c) => {
      if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill('SIGKILL');
      await c.exited;
    }));
    if (this.currentTest?.state === 'failed') {
      for (const c of children) console.log(`      ${c.name} log: ${c.log}`);
    }
    children.clear();
  });

  after(async () => {
    // Logs of a failure stay readable until here; the suite's directory goes in every case.
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Starts `command` (behind `launcher`: a namespace host's `ip netns exec NS`), tracked for afterEach. */
  function start(name: string, command: string, args: string[], launcher: string[] = []): Child {
    const log = join(dir, `${name}.log`);
    const fd = openSync(log, 'w');
    const [cmd, ...rest] = [...launcher, command, ...args];
    const child = spawn(cmd!, rest, { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', fd] });
    closeSync(fd);
    const lines: string[] = [];
    createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const c: Child = { name, process: child, lines, log, exited };
    children.add(c);
    return c;
  }

  /** The last lines of a child's stderr log, for a failure's message. */
  async function tail(c: Child, n = 15): Promise<string> {
    const text = await readFile(c.log, 'utf8').catch(() => '');
    return text.split('\n').slice(-n - 1).join('\n');
  }

  /** Waits until `c` exits; kills it after `limitMs` and fails saying so. */
  async function finish(c: Child, limitMs: number, why: string): Promise<{ code: number | null; ms: number }> {
    const t0 = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), limitMs)));
    const r = await Promise.race([c.exited, timedOut]);
    clearTimeout(timer);
    if (r === 'timeout') {
      c.process.kill('SIGKILL');
      await c.exited;
      throw new Error(`${c.name} did not finish within ${limitMs / 1000} s (${why}); killed. stdout: ${c.lines.slice(-5).join(' | ')}\nstderr tail:\n${await tail(c)}`);
    }
    return { code: r.code, ms: Date.now() - t0 };
  }

  /** Waits for a stdout line of `c` that `match` accepts; fails if it exits first or after `limitMs`. */
  async function line<T>(c: Child, match: (l: string) => T | undefined, limitMs: number, what: string): Promise<T> {
    const deadline = Date.now() + limitMs;
    for (;;) {
      for (const l of c.lines) {
        const m = match(l);
        if (m !== undefined) return m;
      }
      if (c.process.exitCode !== null || c.process.signalCode !== null) {
        throw new Error(`${c.name} exited (${c.process.exitCode ?? c.process.signalCode}) before ${what}: ${c.lines.join(' | ')}\nstderr tail:\n${await tail(c)}`);
      }
      if (Date.now() > deadline) throw new Error(`${c.name}: no ${what} within ${limitMs / 1000} s: ${c.lines.join(' | ')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  const rootHashLine = (l: string) => /^Root hash: ([0-9a-f]{40})$/.exec(l.trim())?.[1];

  /** A libswift seeder of `file` listening on `listen`; resolves with it and the root it printed. */
  async function libswiftSeeder(name: string, file: string, listen: string, launcher?: string[]): Promise<{ seeder: Child; root: string }> {
    // -w: the seeder ends by itself even if this process dies before its afterEach kills it.
    const lifeS = Math.ceil((SEEDER_READY_MS + Math.max(LOOPBACK_LIMIT_MS, LOSSY_LIMIT_MS)) / 1000) + 30;
    const seeder = start(name, LIBSWIFT!, ['-f', file, '-l', listen, '-w', `${lifeS}s`], launcher);
    const root = await line(seeder, rootHashLine, SEEDER_READY_MS, 'its "Root hash:" line');
    return { seeder, root };
  }

  /** A libswift leecher of `root` from `from` into `outDir`; resolves when it exited 0, with the wall time. */
  async function libswiftLeech(name: string, from: string, root: string, outDir: string, limitMs: number, launcher?: string[]): Promise<number> {
    await mkdir(outDir, { recursive: true });
    const leecher = start(name, LIBSWIFT!, ['-t', from, '-h', root, '-o', outDir], launcher);
    const { code, ms } = await finish(leecher, limitMs, 'libswift never exits when its download cannot complete');
    expect(code, `${name}'s exit code; stderr tail:\n${await tail(leecher)}`).to.equal(0);
    return ms;
  }

  describe('on loopback (127.0.0.1)', () => {
    let endpoint: PpsppEndpoint | undefined;
    let server: PpsppServer | undefined;
    let content: PpsppContent | undefined;

    afterEach(async () => {
      server?.close();
      await content?.close();
      await endpoint?.close();
      server = content = endpoint = undefined;
    });

    it('our downloader gets 64 MiB from a libswift seeder, byte-identical, and hashes it to the same root', async () => {
      const file = join(dir, 'from-libswift.bin');
      const sourceSha = await randomFile(file, LOOPBACK_BYTES);
      const port = await freeUdpPort();
      const { root } = await libswiftSeeder('libswift-seeder', file, `127.0.0.1:${port}`);
      endpoint = await PpsppEndpoint.bind('127.0.0.1', 0);
      const out = join(dir, 'ours.bin');
      let timer: NodeJS.Timeout | undefined;
      const result = await Promise.race([
        downloadPpspp({ endpoint, peers: [{ host: '127.0.0.1', port }], root: Buffer.from(root, 'hex'), out }),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`our download from libswift did not finish within ${LOOPBACK_LIMIT_MS / 1000} s`)), LOOPBACK_LIMIT_MS))),
      ]).finally(() => clearTimeout(timer));
      console.log(figures(`libswift -> ours, loopback (${result.chunks} chunks, ${result.corrupt} corrupt)`, result.bytes, result.ms));
      expect(result.bytes).to.equal(LOOPBACK_BYTES);
      expect(result.chunks).to.equal(LOOPBACK_BYTES / 1024);
      expect(result.corrupt).to.equal(0);
      expect(await sha256OfFile(out), 'SHA-256 of our copy').to.equal(sourceSha);
      // Our seeder side hashes the same file to the same SHA-1 root as libswift.
      content = await PpsppContent.open(file);
      expect(content.root.toString('hex')).to.equal(root);
    });

    it('a libswift leecher gets 64 MiB from our PpsppServer, byte-identical', async () => {
      const file = join(dir, 'from-ours.bin');
      const sourceSha = await randomFile(file, LOOPBACK_BYTES);
      content = await PpsppContent.open(file);
      endpoint = await PpsppEndpoint.bind('127.0.0.1', 0);
      server = new PpsppServer(endpoint);
      server.add(content);
      const root = content.root.toString('hex');
      const outDir = join(dir, 'libswift-out');
      const ms = await libswiftLeech('libswift-leecher', `127.0.0.1:${endpoint.address().port}`, root, outDir, LOOPBACK_LIMIT_MS);
      const stats = server.stats;
      console.log(figures(`ours -> libswift, loopback (leecher wall time incl. its ~1 s linger; ${stats.chunksSent} chunks sent, ${stats.chunksLost} counted lost)`, LOOPBACK_BYTES, ms));
      expect(await sha256OfFile(join(outDir, root)), "SHA-256 of libswift's copy").to.equal(sourceSha);
    });
  });

  describe(`over a lossy link (two network namespaces, ${LOSSY_LINK.delayMs} ms each way, ${LOSSY_LINK.lossPercent} % loss)`, () => {
    /** Host 0 runs libswift, host 1 our side. */
    let hosts: NetemHosts | undefined;
    const LIBSWIFT_HOST = 0;
    const OUR_HOST = 1;

    before(async function () {
      if (process.getuid?.() !== 0) {
        console.log('      skipped: network namespaces need root');
        this.skip();
      }
      hosts = await NetemHosts.up(2, LOSSY_LINK);
    });

    after(async () => {
      const h = hosts;
      hosts = undefined;
      if (h) {
        await h.down();
        expect(await h.namespaces(), 'namespaces left behind').to.deep.equal([]);
      }
    });

    it(`our downloader gets ${LOSSY_BYTES / MiB} MiB from a libswift seeder through 2 % loss, byte-identical`, async () => {
      const file = join(dir, 'lossy-from-libswift.bin');
      const sourceSha = await randomFile(file, LOSSY_BYTES);
      const seederAt = hosts!.address(LIBSWIFT_HOST);
      const { root } = await libswiftSeeder('libswift-seeder-lossy', file, `${seederAt}:7000`, hosts!.launcher(LIBSWIFT_HOST));
      const out = join(dir, 'lossy-ours.bin');
      const args = { bind: hosts!.address(OUR_HOST), peer: { host: seederAt, port: 7000 }, root, out, limitMs: LOSSY_LIMIT_MS };
      const getter = start('ppspp-get-lossy', process.execPath, ['--import', 'tsx', PEER_FIXTURE, 'get', JSON.stringify(args)], hosts!.launcher(OUR_HOST));
      const { code, ms } = await finish(getter, LOSSY_LIMIT_MS + 10_000, 'our downloader in the namespace');
      const result = JSON.parse(getter.lines.at(-1) ?? '{}') as { bytes?: number; chunks?: number; corrupt?: number; ms?: number; error?: string };
      if (code !== 0) throw new Error(`our downloader in the namespace failed (exit ${code}): ${getter.lines.join(' | ')}\nits progress (stderr tail):\n${await tail(getter, 5)}`);
      console.log(figures(`libswift -> ours, 2 % loss (${result.chunks} chunks, ${result.corrupt} corrupt; process wall ${(ms / 1000).toFixed(2)} s)`, result.bytes!, result.ms!));
      expect(result.bytes).to.equal(LOSSY_BYTES);
      expect(await sha256OfFile(out), 'SHA-256 of our copy').to.equal(sourceSha);
    });

    it(`a libswift leecher gets ${LOSSY_BYTES / MiB} MiB from our PpsppServer through 2 % loss, byte-identical`, async () => {
      const file = join(dir, 'lossy-from-ours.bin');
      const sourceSha = await randomFile(file, LOSSY_BYTES);
      const serverAt = hosts!.address(OUR_HOST);
      const serveArgs = { bind: serverAt, port: 7001, file, limitMs: LOSSY_LIMIT_MS + SEEDER_READY_MS };
      const serving = start('ppspp-serve-lossy', process.execPath, ['--import', 'tsx', PEER_FIXTURE, 'serve', JSON.stringify(serveArgs)], hosts!.launcher(OUR_HOST));
      const ready = await line(serving, (l) => (l.startsWith('{"ready"') ? (JSON.parse(l) as { root: string }) : undefined), SEEDER_READY_MS, 'its ready line');
      const outDir = join(dir, 'lossy-libswift-out');
      const ms = await libswiftLeech('libswift-leecher-lossy', `${serverAt}:7001`, ready.root, outDir, LOSSY_LIMIT_MS, hosts!.launcher(LIBSWIFT_HOST));
      serving.process.stdin!.end();
      await finish(serving, 10_000, 'our server asked to stop');
      const stats = serving.lines.map((l) => JSON.parse(l) as { stats?: { chunksSent: number; chunksLost: number } }).find((l) => l.stats)?.stats;
      console.log(figures(`ours -> libswift, 2 % loss (leecher wall time incl. its ~1 s linger; ${stats?.chunksSent} chunks sent, ${stats?.chunksLost} counted lost)`, LOSSY_BYTES, ms));
      expect(await sha256OfFile(join(outDir, ready.root)), "SHA-256 of libswift's copy").to.equal(sourceSha);
    });
  });
});
