import { expect } from 'chai';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { idFromHex, idToHex, resourceIdOf, type IdHash } from '../../overlay/id.js';
import { NODE_DB_FILE, NodeDatabase } from '../../overlay/persist/node-database.js';
import { SqlitePeerCacheStore } from '../../overlay/persist/sqlite-peer-cache-store.js';
import { SqliteBackend } from '../../overlay/storage/sqlite-backend.js';
import { ApiError, callApi } from '../../scripts/api-client.js';
import { pool } from '../../scripts/bench/measure.js';
import { startNodeProcess, type NodeProcess } from '../../scripts/node-process.js';
import { runCli } from '../helpers/cli.js';
import { settleApis } from '../helpers/settle.js';
import { RingTruth } from '../helpers/testnet.js';
import { waitFor } from '../helpers/wait.js';

const OVERLAY = 'persist.test';
/**
 * One holder per value (replicas 1): a restarted node gets nothing back from replicas, so what it
 * serves is what it kept. A long sync interval: no storer refreshes its values and no periodic
 * sweep runs during the test, so only the restart can drop what expired. Short request timeouts:
 * stores in flight when the victim dies fail fast.
 */
const CONFIG = {
  requestTimeoutMs: 3000,
  chord: { updateIntervalMs: 300, fingerIntervalMs: 1000, neighbourTimeoutMs: 1500 },
  storage: { replicas: 1, syncIntervalMs: 600_000 },
};
/** Any node may register under any resource, keyed by its own Node-ID (RFC 7374 §5). */
const BURST_KIND = { id: 0xf0000020, name: 'burst', dataModel: 'dictionary', accessControl: 'NODE-ID-MATCH', maxCount: 8, maxSize: 1024 };
const BURST = 200;
const SHORT_LIVED = 10;
const SHORT_LIFETIME_SEC = 2;
const IN_FLIGHT = 8;

interface Status {
  nodeId: string;
  state: string;
  successors: string[];
  predecessors: string[];
}

interface Stored {
  responsible: string;
}

/**
 * Restarts that forget nothing, over real `reload-ppsp node` processes: a node killed with SIGKILL
 * in a burst of stores keeps every store it acknowledged, and a node restarted with no reachable
 * bootstrap node gets back in through its saved peer cache.
 */
describe('restarts keep what a node held: reload-ppsp node processes, SIGKILL and restart', function () {
  this.timeout(90_000);
  let dir: string;
  let config: string;
  let hash: IdHash;
  let truth: RingTruth;
  /** The running process of n1..n3 (index 0..2), undefined while one is down. */
  const nodes: (NodeProcess | undefined)[] = [];
  const start = async (i: number, bootstrap: string[]) => {
    nodes[i] = await startNodeProcess({ config, identity: join(dir, `n${i + 1}`), data: join(dir, `data${i + 1}`), bootstrap });
    return nodes[i]!;
  };
  const running = () => nodes.filter((n): n is NodeProcess => n !== undefined);

  /** Every running node is joined with the ground truth's neighbours among the running ones. */
  const settled = () => settleApis(running().map((n) => n.api), 3, 20_000);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reload-persist-'));
    const init = await runCli(['ca', 'init', '--dir', join(dir, 'ca'), '--overlay', OVERLAY]);
    expect(init.code, init.stderr).to.equal(0);
    config = join(dir, 'ca', 'overlay.json');
    const doc = JSON.parse(await readFile(config, 'utf8')) as { hash: IdHash; chord: object; storage: object; kinds: unknown[] };
    Object.assign(doc, { requestTimeoutMs: CONFIG.requestTimeoutMs, chord: { ...doc.chord, ...CONFIG.chord }, storage: { ...doc.storage, ...CONFIG.storage }, kinds: [...doc.kinds, BURST_KIND] });
    await writeFile(config, JSON.stringify(doc, null, 2));
    hash = doc.hash;
    const enrolled = await Promise.all(
      [1, 2, 3].map((i) => runCli(['enroll', '--ca', join(dir, 'ca'), '--user', `n${i}@${OVERLAY}`, '--out', join(dir, `n${i}`), '--json'], { timeoutMs: 60_000 })),
    );
    for (const r of enrolled) expect(r.code, r.stderr).to.equal(0);
    truth = new RingTruth(enrolled.map((r) => idFromHex((JSON.parse(r.stdout) as { nodeId: string }).nodeId)));
    const first = await start(0, []);
    await Promise.all([start(1, [first.listen]), start(2, [first.listen])]);
    await settled();
  });

  after(async () => {
    const codes = await Promise.all(running().map((n) => n.stop()));
    if (dir) await rm(dir, { recursive: true, force: true });
    expect(codes, 'exit codes after SIGTERM').to.deep.equal(codes.map(() => 0));
  });

  it(`a node killed with SIGKILL during a burst of ${BURST} stores serves every store it acknowledged after a restart; values that expired while it was down are gone`, async () => {
    const [bootstrap, victim, storer] = [nodes[0]!, nodes[1]!, nodes[2]!];
    // Names whose responsible node is the victim, by the ground truth from the Node-IDs alone.
    const names: string[] = [];
    for (let i = 0; names.length < BURST + SHORT_LIVED; i++) {
      const name = `burst-${i}`;
      if (truth.responsible(resourceIdOf(name, hash)) === victim.nodeId) names.push(name);
    }
    const [shortLived, burst] = [names.slice(0, SHORT_LIVED), names.slice(SHORT_LIVED)];
    const store = (from: NodeProcess, name: string, lifetime?: number) =>
      callApi(from.api, 'POST', '/store', { kind: BURST_KIND.name, resource: name, key: { base64: Buffer.from(from.nodeId, 'hex').toString('base64') }, value: `value of ${name}`, lifetime }) as Promise<Stored>;

    const storedAt = Date.now();
    for (const name of shortLived) expect((await store(storer, name, SHORT_LIFETIME_SEC)).responsible).to.equal(victim.nodeId);

    // The burst, from two storers, IN_FLIGHT at a time; the victim is killed once half of it is acknowledged.
    const acknowledged: { name: string; from: NodeProcess }[] = [];
    let killed = false;
    await pool(burst.length, IN_FLIGHT, async (i) => {
      if (killed) return; // the stores in flight at the kill are the point; later ones would only wait
      const name = burst[i]!;
      const from = i % 2 === 0 ? storer : bootstrap;
      try {
        const r = await store(from, name);
        if (r.responsible === victim.nodeId) acknowledged.push({ name, from });
      } catch {
        // In flight when the victim died (or routed to it before the ring noticed): not acknowledged.
      }
      if (!killed && acknowledged.length >= burst.length / 2) {
        killed = true;
        victim.child.kill('SIGKILL');
      }
    });
    nodes[1] = undefined;
    expect(await victim.stop(), 'killed, not exited').to.equal(null);
    expect(acknowledged.length).to.be.at.least(burst.length / 2);

    // Down until the short lifetime has run out.
    const expiredAt = storedAt + SHORT_LIFETIME_SEC * 1000 + 100;
    await waitFor(() => Date.now() > expiredAt, SHORT_LIFETIME_SEC * 1000 + 1000, 'the short lifetime to run out');
    const restarted = await start(1, [bootstrap.listen]);
    expect(restarted.nodeId).to.equal(victim.nodeId);
    await settled();

    // Every acknowledged value, fetched through the other nodes: answered by the victim, and its
    // signature verified by the fetching node (with the certificate the victim kept).
    const missing: string[] = [];
    await pool(acknowledged.length, IN_FLIGHT, async (i) => {
      const { name, from } = acknowledged[i]!;
      const via = i % 2 === 0 ? bootstrap : storer;
      try {
        const r = (await callApi(via.api, 'POST', '/fetch', { kind: BURST_KIND.name, resource: name })) as { from: string; rejected: number; values: { value: string; signer: { nodeId: string } }[] };
        const ok = r.from === victim.nodeId && r.rejected === 0 && r.values.length === 1 && r.values[0]!.value === `value of ${name}` && r.values[0]!.signer.nodeId === from.nodeId;
        if (!ok) missing.push(`${name}: ${JSON.stringify(r)}`);
      } catch (e) {
        missing.push(`${name}: ${(e as Error).message}`);
      }
    });
    expect(missing, `${missing.length} of ${acknowledged.length} acknowledged values`).to.deep.equal([]);
    for (const name of shortLived) {
      const error = await callApi(storer.api, 'POST', '/fetch', { kind: BURST_KIND.name, resource: name }).then(() => undefined, (e: unknown) => e);
      expect(error, `${name} outlived its lifetime`).to.be.instanceOf(ApiError).with.property('errorName', 'Not_Found');
    }
    // The victim's own account: every acknowledged value (and perhaps a few it committed but could
    // not answer before it died), checked by its own metrics and, once stopped, by its database.
    const metrics = (await callApi(restarted.api, 'GET', '/metrics')) as string;
    const held = Number(new RegExp(`^reload_storage_values\\{kind="${BURST_KIND.name}"\\} (\\d+)$`, 'm').exec(metrics)?.[1]);
    expect(held).to.be.within(acknowledged.length, acknowledged.length + IN_FLIGHT);
    expect(await restarted.stop()).to.equal(0);
    nodes[1] = undefined;
    const db = NodeDatabase.open(join(dir, 'data2', NODE_DB_FILE));
    try {
      // Loading checks every row (CBOR, key, signer, certificate): no corrupt record.
      const kept = new Set([...new SqliteBackend(db).entries()].map(([hex]) => hex));
      for (const { name } of acknowledged) expect(kept.has(idToHex(resourceIdOf(name, hash))), `${name} on disk`).to.equal(true);
      // The expired values were dropped at load, rows and all (no periodic sweep ran: CONFIG).
      for (const name of shortLived) expect(kept.has(idToHex(resourceIdOf(name, hash))), `${name} on disk`).to.equal(false);
    } finally {
      db.close();
    }
    await start(1, [bootstrap.listen]);
    await settled();
  });

  it('a node restarted while its bootstrap node is down gets back in through the peer cache it saved', async () => {
    const [bootstrap, member, other] = [nodes[0]!, nodes[1]!, nodes[2]!];
    expect(await member.stop()).to.equal(0);
    nodes[1] = undefined;
    // What it saved: the other two nodes' addresses.
    const db = NodeDatabase.open(join(dir, 'data2', NODE_DB_FILE));
    const cached = new SqlitePeerCacheStore(db).load().map((p) => p.nodeIdHex);
    db.close();
    expect(cached).to.include(other.nodeId);
    expect(await bootstrap.stop()).to.equal(0);
    nodes[0] = undefined;

    const back = await start(1, [bootstrap.listen]);
    await settled();
    const status = (await callApi(back.api, 'GET', '/status')) as Status;
    expect(status).to.include({ state: 'joined' });
    expect(status.successors).to.deep.equal([other.nodeId]);
  });
});
