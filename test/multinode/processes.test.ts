import { expect } from 'chai';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { idFromHex, resourceIdOf, type IdHash } from '../../overlay/id.js';
import { callApi } from '../../scripts/api-client.js';
import { startNodeProcess, type NodeProcess } from '../../scripts/node-process.js';
import { RingTruth } from '../helpers/testnet.js';
import { runCli } from '../helpers/cli.js';
import { fuzzSeed, printReplayOnFailure, Prng } from '../helpers/prng.js';

const PROCESSES = 8;
const OVERLAY = 'processes.test';
/** Maintenance short enough for a test; written into the overlay.json the nodes read. */
const CHORD = { updateIntervalMs: 500, fingerIntervalMs: 1000, neighbourTimeoutMs: 2000 };

interface Status {
  nodeId: string;
  state: string;
  successors: string[];
  predecessors: string[];
}

/**
 * The acceptance test of the overlay as users run it: a CA and identities made by the CLI,
 * `reload-ppsp node` processes joined by --bootstrap, everything checked through the HTTP API only.
 */
describe(`the overlay: ${PROCESSES} reload-ppsp node processes`, function () {
  this.timeout(180_000);
  let dir: string;
  let hash: IdHash;
  let neighbourCount: number;
  let truth: RingTruth;
  const nodes: NodeProcess[] = [];
  const seed = fuzzSeed();
  printReplayOnFailure(seed, import.meta.url);
  const rng = new Prng(seed);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reload-processes-'));
    const init = await runCli(['ca', 'init', '--dir', join(dir, 'ca'), '--overlay', OVERLAY]);
    expect(init.code, init.stderr).to.equal(0);
    const configPath = join(dir, 'ca', 'overlay.json');
    const doc = JSON.parse(await readFile(configPath, 'utf8')) as { hash: IdHash; chord: Record<string, number> };
    doc.chord = { ...doc.chord, ...CHORD };
    await writeFile(configPath, JSON.stringify(doc, null, 2));
    hash = doc.hash;
    neighbourCount = doc.chord.neighbourCount!;
    const enrolled = await Promise.all(
      Array.from({ length: PROCESSES }, (_, i) => runCli(['enroll', '--ca', join(dir, 'ca'), '--user', `n${i + 1}@${OVERLAY}`, '--out', join(dir, `n${i + 1}`), '--json'], { timeoutMs: 60_000 })),
    );
    for (const r of enrolled) expect(r.code, r.stderr).to.equal(0);
    truth = new RingTruth(enrolled.map((r) => idFromHex((JSON.parse(r.stdout) as { nodeId: string }).nodeId)));
  });

  after(async () => {
    // Always runs: every process is stopped, and each must have exited cleanly on SIGTERM.
    const codes = await Promise.all(nodes.map((n) => n.stop()));
    if (dir) await rm(dir, { recursive: true, force: true });
    expect(codes, 'exit codes after SIGTERM').to.deep.equal(nodes.map(() => 0));
  });

  it('the nodes join by --bootstrap through the first one; every /status neighbour list equals the ground truth', async () => {
    const config = join(dir, 'ca', 'overlay.json');
    nodes.push(await startNodeProcess({ config, identity: join(dir, 'n1') }));
    for (let i = 2; i <= PROCESSES; i += 4) {
      const batch = Array.from({ length: Math.min(4, PROCESSES - i + 1) }, (_, j) => startNodeProcess({ config, identity: join(dir, `n${i + j}`), bootstrap: [nodes[0]!.listen] }));
      // Keep every process that came up, so that the after hook stops it even if another failed.
      const started = await Promise.allSettled(batch);
      for (const s of started) if (s.status === 'fulfilled') nodes.push(s.value);
      for (const s of started) if (s.status === 'rejected') throw s.reason;
    }
    expect(nodes.map((n) => n.nodeId).sort()).to.deep.equal(truth.ids());

    const wrong = async () => {
      const statuses = await Promise.all(nodes.map((n) => callApi(n.api, 'GET', '/status') as Promise<Status>));
      return statuses.flatMap((s) => {
        const id = idFromHex(s.nodeId);
        const want = { successors: truth.successors(id, neighbourCount), predecessors: truth.predecessors(id, neighbourCount) };
        const ok = s.state === 'joined' && s.successors.join() === want.successors.join() && s.predecessors.join() === want.predecessors.join();
        return ok ? [] : [`${s.nodeId.slice(0, 8)} ${s.state} succ ${s.successors.map((x) => x.slice(0, 8))} want ${want.successors.map((x) => x.slice(0, 8))}; pred ${s.predecessors.map((x) => x.slice(0, 8))} want ${want.predecessors.map((x) => x.slice(0, 8))}`];
      });
    };
    let last: string[] = [];
    const bound = 6 * CHORD.updateIntervalMs + CHORD.neighbourTimeoutMs;
    const deadline = Date.now() + bound;
    while ((last = await wrong()).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(last, `neighbour tables ${bound} ms after the last join`).to.deep.equal([]);
  });

  it(`every ordered pair pings through POST /ping (${PROCESSES * (PROCESSES - 1)} pings)`, async () => {
    const failures: string[] = [];
    let answered = 0;
    await Promise.all(
      nodes.map(async (from) => {
        for (const to of nodes) {
          if (to === from) continue;
          try {
            const r = (await callApi(from.api, 'POST', '/ping', { destination: to.nodeId })) as { destination: string; hops: number };
            if (r.destination !== to.nodeId) failures.push(`${from.nodeId} -> ${to.nodeId}: answered by ${r.destination}`);
            else answered++;
          } catch (e) {
            failures.push(`${from.nodeId} -> ${to.nodeId}: ${(e as Error).message}`);
          }
        }
      }),
    );
    expect(failures).to.deep.equal([]);
    expect(answered).to.equal(PROCESSES * (PROCESSES - 1));
  });

  it('POST /route of 50 random names lands on the node the ground truth holds responsible', async () => {
    const wrong: string[] = [];
    for (let i = 0; i < 50; i++) {
      const name = `user${rng.next().toString(16)}@${OVERLAY}`;
      const from = rng.pick(nodes);
      const want = truth.responsible(resourceIdOf(name, hash));
      const r = (await callApi(from.api, 'POST', '/route', { resource: name })) as { responsible: string; hops: number };
      if (r.responsible !== want) wrong.push(`${name} from ${from.nodeId}: ${r.responsible}, truth ${want} (hops=${r.hops})`);
    }
    expect(wrong, `seed ${seed}`).to.deep.equal([]);
  });
});
