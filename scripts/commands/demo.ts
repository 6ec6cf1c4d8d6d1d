/**
 * `reload-ppsp demo` (`npm run demo`): the main job on local defaults. Creates a CA and overlay,
 * enrolls nodes, starts them as real processes on 127.0.0.1 that join one Chord ring through
 * node1, shows the ring as each node sees it, pings far-apart nodes, routes names, stores and
 * fetches a value, checks it all against the ground truth computed from the sorted Node-IDs, and
 * then streams a generated file: node1 seeds it, all the others download it at once, and every
 * copy's hash is checked. Exits 0 only if everything agrees. Everything is removed afterwards
 * unless --keep.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enrollLocal, initCaDir } from '../../certs/ca-dir.js';
import { idFromHex, resourceIdOf } from '../../overlay/id.js';
import { callApi } from '../api-client.js';
import { integerOption, type Command } from '../command.js';
import { RingTruth } from '../local-ring.js';
import { demoSwarm } from '../demo-swarm.js';
import { startNodeProcess, type NodeProcess } from '../node-process.js';

const OVERLAY = 'demo.reload';
export const DEMO_DEFAULT_NODES = 8;
/** Size of the file the demo streams, MiB. */
export const DEMO_DEFAULT_MIB = 32;
export const DEMO_MAX_MIB = 1024;
export const DEMO_MIN_NODES = 2;
export const DEMO_MAX_NODES = 16;
/** Far-apart pairs pinged, and the names routed. */
const DEMO_PING_PAIRS = 3;
const DEMO_NAMES = ['alice', 'bob', 'carol', 'dave'].map((u) => `${u}@${OVERLAY}`);
/** Poll period while waiting for the ring to settle, ms. */
const SETTLE_POLL_MS = 200;

interface Status {
  nodeId: string;
  state: string;
  successors: string[];
  predecessors: string[];
}

const short = (id: string) => id.slice(0, 8);
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export const demoCommand: Command = {
  name: 'demo',
  summary: 'Create a CA, enroll nodes, run them on 127.0.0.1 as one Chord ring, ping, route, store, and stream a file from one node to all the others, checking everything.',
  options: {
    nodes: { type: 'string', help: `how many nodes to run (${DEMO_MIN_NODES}-${DEMO_MAX_NODES}, default ${DEMO_DEFAULT_NODES})`, valueName: 'N' },
    size: { type: 'string', help: `MiB of the file node1 seeds to the others (1-${DEMO_MAX_MIB}, default ${DEMO_DEFAULT_MIB}; 0 skips it)`, valueName: 'MIB' },
    keep: { type: 'boolean', help: 'keep the working directory (CA, identities) afterwards' },
  },
  async run(args) {
    const count = integerOption(args, 'nodes', { min: DEMO_MIN_NODES, max: DEMO_MAX_NODES }, DEMO_DEFAULT_NODES);
    const sizeMiB = integerOption(args, 'size', { min: 0, max: DEMO_MAX_MIB }, DEMO_DEFAULT_MIB);
    const dir = await mkdtemp(join(tmpdir(), 'reload-demo-'));
    const say = (line: string) => process.stdout.write(line + '\n');
    const nodes: NodeProcess[] = [];
    const problems: string[] = [];
    try {
      say(`[1/6] creating the enrollment CA and overlay "${OVERLAY}" in ${dir}`);
      const { config } = await initCaDir(join(dir, 'ca'), OVERLAY);
      say(`[2/6] enrolling ${count} nodes (the CA picks each Node-ID at random)`);
      for (let i = 1; i <= count; i++) {
        const r = await enrollLocal(join(dir, 'ca'), `node${i}@${OVERLAY}`, join(dir, `node${i}`));
        say(`      node${i}@${OVERLAY} -> ${r.nodeIdHex}`);
      }
      say(`[3/6] starting ${count} node processes; node1 starts the ring, the others join it with --bootstrap <node1>`);
      for (let i = 1; i <= count; i++) {
        const p = await startNodeProcess({ config: join(dir, 'ca', 'overlay.json'), identity: join(dir, `node${i}`), bootstrap: nodes[0] ? [nodes[0].listen] : [] });
        nodes.push(p);
        say(`      node${i} joined: ${p.nodeId} listen=${p.listen} api=${p.api}`);
      }
      const label = new Map(nodes.map((p, i) => [p.nodeId, `node${i + 1}`]));
      const name = (id: string | undefined) => (id ? `${label.get(id) ?? '?'} ${short(id)}` : '-');
      const truth = new RingTruth(nodes.map((p) => idFromHex(p.nodeId)));
      const k = config.chord.neighbourCount;

      // Joins hand over neighbours at once; stabilization (every updateIntervalMs) fixes the rest.
      const wrongNeighbours = (all: Status[]) =>
        all.flatMap((s) => {
          const id = idFromHex(s.nodeId);
          const want = { successors: truth.successors(id, k), predecessors: truth.predecessors(id, k) };
          if (s.state === 'joined' && s.successors.join() === want.successors.join() && s.predecessors.join() === want.predecessors.join()) return [];
          return [`${label.get(s.nodeId)} (${s.state}) has successors [${s.successors.map(short)}] and predecessors [${s.predecessors.map(short)}]; the ground truth is [${want.successors.map(short)}] and [${want.predecessors.map(short)}]`];
        });
      const statuses = () => Promise.all(nodes.map((p) => callApi(p.api, 'GET', '/status') as Promise<Status>));
      let status = await statuses();
      const settleBoundMs = 2 * config.chord.updateIntervalMs + config.chord.neighbourTimeoutMs;
      if (wrongNeighbours(status).length > 0) {
        say(`      waiting up to ${settleBoundMs / 1000} s for stabilization to settle the neighbour lists`);
        const deadline = Date.now() + settleBoundMs;
        while (wrongNeighbours(status).length > 0 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, SETTLE_POLL_MS));
          status = await statuses();
        }
      }

      say('[4/6] the ring as each node sees it (GET /status), in ring order');
      for (const id of truth.ids()) {
        const s = status[nodes.findIndex((p) => p.nodeId === id)]!;
        say(`      ${name(id).padEnd(16)}  successor ${name(s.successors[0]).padEnd(16)}  predecessor ${name(s.predecessors[0])}`);
      }

      say('[5/6] pinging far-apart nodes (POST /ping), routing names (POST /route), storing and fetching a value (POST /store, /fetch)');
      const ring = truth.ids();
      const pairs = Array.from({ length: Math.min(DEMO_PING_PAIRS, Math.floor(count / 2)) }, (_, i) => [ring[i]!, ring[(i + Math.floor(count / 2)) % count]!] as const);
      for (const [from, to] of pairs) {
        const api = nodes.find((p) => p.nodeId === from)!.api;
        try {
          const r = (await callApi(api, 'POST', '/ping', { destination: to })) as { destination: string; rttMs: number; hops: number };
          say(`      ping  ${name(from)} -> ${name(to)}  hops=${r.hops} rtt=${r.rttMs} ms`);
          if (r.destination !== to) problems.push(`the ping from ${label.get(from)} to ${label.get(to)} was answered by ${r.destination}`);
        } catch (e) {
          say(`      ping  ${name(from)} -> ${name(to)}  failed: ${(e as Error).message}`);
          problems.push(`the ping from ${label.get(from)} to ${label.get(to)} failed: ${(e as Error).message}`);
        }
      }
      for (const [i, resource] of DEMO_NAMES.entries()) {
        const from = nodes[i % count]!;
        const want = truth.responsible(resourceIdOf(resource, config.hash));
        try {
          const r = (await callApi(from.api, 'POST', '/route', { resource })) as { responsible: string; hops: number; rttMs: number };
          say(`      route ${resource.padEnd(18)} from ${label.get(from.nodeId)}: responsible ${name(r.responsible)}  hops=${r.hops} rtt=${r.rttMs} ms`);
          if (r.responsible !== want) problems.push(`${resource} was routed to ${name(r.responsible)}; the ground truth says ${name(want)}`);
        } catch (e) {
          say(`      route ${resource.padEnd(18)} from ${label.get(from.nodeId)}: failed: ${(e as Error).message}`);
          problems.push(`routing ${resource} failed: ${(e as Error).message}`);
        }
      }

      // Storage: node1 stores its user's value; the farthest node fetches it back, verified.
      const owner = `node1@${OVERLAY}`;
      const text = `hello from ${owner} at ${new Date().toISOString()}`;
      try {
        const stored = (await callApi(nodes[0]!.api, 'POST', '/store', { kind: 'user-value', resource: owner, value: text })) as { responsible: string; replicas: string[] };
        say(`      store user-value at ${owner} from node1: responsible ${name(stored.responsible)}, ${stored.replicas.length} replicas`);
        const reader = nodes[nodes.length - 1]!;
        const fetched = (await callApi(reader.api, 'POST', '/fetch', { kind: 'user-value', resource: owner })) as { values: { value: unknown; signer: { user: string } }[] };
        const v = fetched.values[0];
        say(`      fetch user-value at ${owner} from ${label.get(reader.nodeId)}: "${String(v?.value)}" signed by ${v?.signer.user}`);
        if (v?.value !== text || v.signer.user !== owner) problems.push(`the value fetched from ${label.get(reader.nodeId)} is not what node1 stored`);
      } catch (e) {
        problems.push(`store/fetch failed: ${(e as Error).message}`);
      }

      problems.unshift(...wrongNeighbours(await statuses()));
      if (sizeMiB > 0) {
        say(`[6/6] streaming with the PPSP usage: node1 seeds a ${sizeMiB} MiB file, the other ${count - 1} download it at once`);
        problems.push(...(await demoSwarm(nodes, dir, sizeMiB, say)));
      }
      say(`checked against the ground truth (the ${count} Node-IDs sorted): ${count} neighbour lists, ${plural(pairs.length, 'ping')}, ${plural(DEMO_NAMES.length, 'route')}`);
      for (const p of problems) say(`      wrong: ${p}`);
      say(problems.length === 0 ? 'demo ok' : `demo failed: ${plural(problems.length, 'problem')}`);
      return problems.length === 0 ? 0 : 1;
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
      if (!args.values.keep) await rm(dir, { recursive: true, force: true });
      else say(`kept ${dir}`);
    }
  },
};
