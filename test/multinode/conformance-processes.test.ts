/**
 * The topology conformance suite as users run the overlay, for every plugin: a CA and identities
 * made by the CLI, `reload-ppsp node` processes over real TLS on 127.0.0.1 joined by --bootstrap,
 * everything checked through the HTTP API only, failures by SIGKILL.
 */
import { expect } from 'chai';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseOverlayConfig, TOPOLOGIES, type OverlayConfig, type TopologyName } from '../../overlay/config.js';
import { idToHex } from '../../overlay/id.js';
import { ApiError, callApi } from '../../scripts/api-client.js';
import { startNodeProcess, type NodeProcess } from '../../scripts/node-process.js';
import type { NeighbourView } from '../../scripts/topology-truth.js';
import { runCli } from '../helpers/cli.js';
import { FAST_CHORD, FAST_KADEMLIA } from '../helpers/testnet.js';
import { CONFORMANCE_KIND, describeTopologyConformance, type ConformanceNet } from './topology-conformance.js';

const PROCESSES = 8;
const OVERLAY = 'conformance.test';

/** A CA and PROCESSES identities by the CLI, an overlay.json for `topology`, and the nodes joined through the first. */
async function startProcesses(topology: TopologyName): Promise<ConformanceNet> {
  const dir = await mkdtemp(join(tmpdir(), 'reload-conformance-'));
  const nodes: NodeProcess[] = [];
  const stopAll = async () => {
    const codes = await Promise.all(nodes.map((n) => n.stop()));
    await rm(dir, { recursive: true, force: true });
    expect(codes, 'exit codes after SIGTERM').to.deep.equal(nodes.map(() => 0));
  };
  try {
    const init = await runCli(['ca', 'init', '--dir', join(dir, 'ca'), '--overlay', OVERLAY]);
    expect(init.code, init.stderr).to.equal(0);
    const configPath = join(dir, 'ca', 'overlay.json');
    const doc = JSON.parse(await readFile(configPath, 'utf8')) as Record<string, unknown> & { chord: object; kademlia: object; storage: object; kinds: unknown[] };
    Object.assign(doc, {
      topology,
      chord: { ...doc.chord, ...FAST_CHORD },
      kademlia: { ...doc.kademlia, ...FAST_KADEMLIA },
      storage: { ...doc.storage, replicas: 3, syncIntervalMs: 500 },
      kinds: [...doc.kinds, CONFORMANCE_KIND],
    });
    await writeFile(configPath, JSON.stringify(doc, null, 2));
    const config: OverlayConfig = parseOverlayConfig(doc);
    const enrolled = await Promise.all(
      Array.from({ length: PROCESSES }, (_, i) => runCli(['enroll', '--ca', join(dir, 'ca'), '--user', `n${i + 1}@${OVERLAY}`, '--out', join(dir, `n${i + 1}`), '--json'], { timeoutMs: 60_000 })),
    );
    for (const r of enrolled) expect(r.code, r.stderr).to.equal(0);
    nodes.push(await startNodeProcess({ config: configPath, identity: join(dir, 'n1') }));
    for (let i = 2; i <= PROCESSES; i += 4) {
      const batch = Array.from({ length: Math.min(4, PROCESSES - i + 1) }, (_, j) => startNodeProcess({ config: configPath, identity: join(dir, `n${i + j}`), bootstrap: [nodes[0]!.listen] }));
      // Keep every process that came up, so that stopAll stops it even if another failed.
      const started = await Promise.allSettled(batch);
      for (const s of started) if (s.status === 'fulfilled') nodes.push(s.value);
      for (const s of started) if (s.status === 'rejected') throw s.reason;
    }
    const byId = (hex: string): NodeProcess => {
      const node = nodes.find((n) => n.nodeId === hex);
      if (!node) throw new Error(`no live node ${hex}`);
      return node;
    };
    const post = (from: string, path: string, body: unknown) => callApi(byId(from).api, 'POST', path, body) as Promise<Record<string, unknown>>;
    return {
      config,
      ids: () => nodes.map((n) => n.nodeId),
      views: () => Promise.all(nodes.map((n) => callApi(n.api, 'GET', '/status') as Promise<NeighbourView>)),
      ping: async (from, to) => (await post(from, '/ping', { destination: to })).destination as string,
      route: async (from, key) => (await post(from, '/route', { resource: idToHex(key) })).responsible as string,
      store: async (from, resource, value) => {
        await post(from, '/store', { kind: CONFORMANCE_KIND.name, resource: idToHex(resource), value });
      },
      fetch: async (from, resource) => ((await post(from, '/fetch', { kind: CONFORMANCE_KIND.name, resource: idToHex(resource) })).values as { value: string }[]).map((v) => v.value),
      errorName: (e) => (e instanceof ApiError ? e.errorName : String(e)),
      kill: async (ids) => {
        const victims = ids.map(byId);
        await Promise.all(victims.map((v) => (v.child.kill('SIGKILL'), v.stop())));
        nodes.splice(0, nodes.length, ...nodes.filter((n) => !victims.includes(n)));
      },
      waitFor: async (what, boundMs, done) => {
        const end = Date.now() + boundMs;
        while (!(await done())) {
          if (Date.now() >= end) throw new Error(`${what}: not within ${boundMs} ms`);
          await new Promise((r) => setTimeout(r, 100));
        }
      },
      stop: stopAll,
    };
  } catch (e) {
    await stopAll().catch(() => undefined);
    throw e;
  }
}

for (const topology of TOPOLOGIES) {
  describeTopologyConformance(`${topology} conformance: ${PROCESSES} reload-ppsp node processes over TLS`, { timeoutMs: 180_000, routes: 50, kill: 3, values: 16, settleMs: 30_000 }, () => startProcesses(topology));
}
