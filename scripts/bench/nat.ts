/**
 * `npm run bench -- nat` (as root, with nftables): real node processes on hosts behind real NATs
 * in network namespaces it makes and removes (scripts/nat-hosts.sh): two public hosts, two behind
 * NATs that keep ports (Linux masquerade), one behind a firewall that drops everything unsolicited,
 * two behind NATs that pick a new port per destination. It prints, for every host, what the node
 * learned of its reachability and how long its join took; for every pair, the mechanism of their
 * overlay link (direct, reversed, punched, relayed) and how long making it took; and for every
 * ordered pair, a file moved over a PPSP data channel, its mechanism and its rate beside raw TCP
 * between the two public hosts in the same run.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { enrollLocal, initCaDir } from '../../certs/ca-dir.js';
import { startNodeProcess, type NodeProcess } from '../node-process.js';
import { NatHosts, type NatKind } from '../netns/nat-hosts.js';

const OVERLAY = 'bench-nat.reload';
const KINDS: NatKind[] = ['public', 'public', 'eim', 'eim', 'firewall', 'symmetric', 'symmetric'];
export const DEFAULT_NAT_BENCH_MIB = 16;
/** How often a download's completion is polled, ms. */
const POLL_MS = 50;
/** A download that has not finished after this long fails the run, ms. */
const DOWNLOAD_LIMIT_MS = 120_000;

const run = promisify(execFile);

interface LinkRow {
  nodeId: string;
  mechanism: string;
  setupMs: number | null;
}

/** Raw TCP between two hosts of the lab: connect time and the rate of one bulk transfer. */
async function rawTcp(hosts: NatHosts, from: number, to: number, bytes: number): Promise<{ connectMs: number; MiBps: number }> {
  const server = hosts.spawnIn(to, process.execPath, [
    '-e',
    `const s=require('node:net').createServer(c=>{let n=0;c.on('data',d=>{n+=d.length;if(n>=${bytes}){c.end('done');}})}).listen(7700,'${hosts.address(to)}',()=>console.log('up'));setTimeout(()=>s.close(),60000).unref();`,
  ]);
  await new Promise<void>((resolve) => server.stdout.once('data', () => resolve()));
  const { stdout } = await run('ip', [
    ...hosts.launcher(from).slice(1),
    process.execPath,
    '-e',
    `const net=require('node:net');const t0=performance.now();const c=net.connect(7700,'${hosts.publicAddress(to)}',()=>{const t1=performance.now();const b=Buffer.alloc(65536);let sent=0;const pump=()=>{while(sent<${bytes}){sent+=b.length;if(!c.write(b))return c.once('drain',pump);}};pump();c.on('data',()=>{console.log(JSON.stringify({connectMs:t1-t0,ms:performance.now()-t1}));c.destroy();});});`,
  ]);
  server.kill();
  const { connectMs, ms } = JSON.parse(stdout) as { connectMs: number; ms: number };
  return { connectMs: round(connectMs), MiBps: round(bytes / 2 ** 20 / (ms / 1000)) };
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

export async function benchNat(opts: { sizeMiB?: number }): Promise<Record<string, unknown>> {
  if (process.getuid?.() !== 0) throw new Error('the nat suite builds network namespaces: run it as root (and apt-get install -y nftables)');
  const bytes = (opts.sizeMiB ?? DEFAULT_NAT_BENCH_MIB) * 2 ** 20;
  const say = (line: string) => process.stderr.write(`nat bench: ${line}\n`);
  const dir = await mkdtemp(join(tmpdir(), 'reload-bench-nat-'));
  let hosts: NatHosts | undefined;
  const nodes: NodeProcess[] = [];
  try {
    const names = KINDS.map((_, i) => `h${i}`);
    await initCaDir(join(dir, 'ca'), OVERLAY);
    for (const n of names) await enrollLocal(join(dir, 'ca'), `${n}@${OVERLAY}`, join(dir, n));
    hosts = await NatHosts.up(KINDS);
    const lab = hosts;
    say(`hosts up: ${KINDS.map((k, i) => `h${i} ${k}`).join(', ')}`);
    const baseline = await rawTcp(lab, 1, 0, bytes);
    say(`raw TCP h1 -> h0: connect ${baseline.connectMs} ms, ${baseline.MiBps} MiB/s`);
    const joinMs: number[] = [];
    for (const [i, name] of names.entries()) {
      const started = performance.now();
      nodes.push(await startNodeProcess({ config: join(dir, 'ca', 'overlay.json'), identity: join(dir, name), listen: `${lab.address(i)}:0`, bootstrap: i === 0 ? [] : [nodes[0]!.listen], launcher: lab.launcher(i), readyTimeoutMs: 60_000 }));
      joinMs.push(Math.round(performance.now() - started));
      say(`h${i} (${KINDS[i]}) joined in ${joinMs[i]} ms`);
    }
    const call = async (i: number, method: string, path: string, body?: unknown) => {
      const r = await lab.call(i, nodes[i]!.api, join(dir, names[i]!, 'data', 'api-token'), method, path, body);
      if (r.status !== 200) throw new Error(`h${i} ${method} ${path}: ${r.status} ${JSON.stringify(r.json)}`);
      return r.json;
    };
    const statuses = await Promise.all(nodes.map((_, i) => call(i, 'GET', '/status')));
    const hostRows = statuses.map((s, i) => ({ host: `h${i}`, kind: KINDS[i], ...(s.reachability as object), joinMs: joinMs[i] }));
    const links = [];
    for (let i = 0; i < KINDS.length; i++) {
      for (let j = i + 1; j < KINDS.length; j++) {
        const mine = (statuses[i]!.links as LinkRow[]).find((l) => l.nodeId === nodes[j]!.nodeId);
        const theirs = (statuses[j]!.links as LinkRow[]).find((l) => l.nodeId === nodes[i]!.nodeId);
        // A pair the ring did not link (not neighbours or fingers) is linked now, and timed.
        const made = mine ?? theirs ? undefined : await call(i, 'POST', '/attach', { destination: nodes[j]!.nodeId });
        const mechanism = mine?.mechanism ?? theirs?.mechanism ?? (made?.mechanism as string | undefined);
        const setupMs = mine?.setupMs ?? theirs?.setupMs ?? (made?.ms as number | undefined) ?? null;
        links.push({ a: `h${i}`, b: `h${j}`, kinds: `${KINDS[i]}-${KINDS[j]}`, mechanism, setupMs });
      }
    }
    say(`links: ${links.map((l) => `${l.a}-${l.b} ${l.mechanism}`).join(', ')}`);
    const channels = [];
    for (let s = 0; s < KINDS.length; s++) {
      for (let d = 0; d < KINDS.length; d++) {
        if (s === d) continue;
        const content = randomBytes(bytes);
        const file = join(dir, `from-${s}-to-${d}.bin`);
        const out = `${file}.out`;
        await writeFile(file, content);
        const id = (await call(s, 'POST', '/swarms', { path: file })).swarmId as string;
        const before = (await call(d, 'GET', '/swarms')).channelsOpened as Record<string, number>;
        const started = performance.now();
        await call(d, 'POST', `/swarms/${id}/download`, { out });
        for (;;) {
          if (((await call(d, 'GET', `/swarms/${id}`)).outputs as { written: boolean }[]).some((o) => o.written)) break;
          if (performance.now() - started > DOWNLOAD_LIMIT_MS) throw new Error(`h${d} did not download h${s}'s file within ${DOWNLOAD_LIMIT_MS} ms`);
          await new Promise((r) => setTimeout(r, POLL_MS));
        }
        const seconds = (performance.now() - started) / 1000;
        if (createHash('sha256').update(await readFile(out)).digest('hex') !== createHash('sha256').update(content).digest('hex')) throw new Error(`h${d}'s copy of h${s}'s file differs`);
        const after = (await call(d, 'GET', '/swarms')).channelsOpened as Record<string, number>;
        const MiBps = round(bytes / 2 ** 20 / seconds);
        channels.push({ from: `h${s}`, to: `h${d}`, kinds: `${KINDS[s]}->${KINDS[d]}`, mechanism: Object.keys(after).filter((m) => after[m]! > before[m]!).join('+'), seconds: round(seconds), MiBps, ofRawTcp: round(MiBps / baseline.MiBps) });
        for (const k of [s, d]) await call(k, 'DELETE', `/swarms/${id}`);
        await rm(file);
        await rm(out);
      }
      say(`data channels from h${s} done`);
    }
    const count = (rows: { mechanism: string | undefined }[]) => rows.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.mechanism ?? 'none']: (acc[r.mechanism ?? 'none'] ?? 0) + 1 }), {});
    return {
      suite: 'nat',
      fileMiB: bytes / 2 ** 20,
      baseline: { rawTcpConnectMs: baseline.connectMs, rawTcpMiBps: baseline.MiBps },
      hosts: hostRows,
      links,
      linksByMechanism: count(links),
      dataChannels: channels,
      dataChannelsByMechanism: count(channels),
    };
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    await hosts?.down();
    await rm(dir, { recursive: true, force: true });
  }
}
