/**
 * `reload-ppsp demo` (`npm run demo`): the main job on local defaults. Creates a CA and overlay,
 * enrolls nodes, starts them as real processes on 127.0.0.1, links them, pings across the links
 * over TLS and shows each node's view. Everything is removed afterwards unless --keep.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enrollLocal, initCaDir } from '../../certs/ca-dir.js';
import { callApi } from '../api-client.js';
import { UsageError, type Command } from '../command.js';
import { startNodeProcess, type NodeProcess } from '../node-process.js';

const OVERLAY = 'demo.reload';

export const demoCommand: Command = {
  name: 'demo',
  summary: 'Create a CA, enroll nodes, run them on 127.0.0.1 and ping between them over TLS.',
  options: {
    nodes: { type: 'string', help: 'how many nodes to run (2-16, default 2)', valueName: 'N' },
    keep: { type: 'boolean', help: 'keep the working directory (CA, identities) afterwards' },
  },
  async run(args) {
    const count = Number(args.values.nodes ?? 2);
    if (!Number.isInteger(count) || count < 2 || count > 16) throw new UsageError('--nodes must be an integer from 2 to 16');
    const dir = await mkdtemp(join(tmpdir(), 'reload-demo-'));
    const say = (line: string) => process.stdout.write(line + '\n');
    const nodes: NodeProcess[] = [];
    try {
      say(`[1/4] creating the enrollment CA and overlay "${OVERLAY}" in ${dir}`);
      await initCaDir(join(dir, 'ca'), OVERLAY);
      say(`[2/4] enrolling ${count} nodes (the CA picks each Node-ID at random)`);
      const ids = [];
      for (let i = 1; i <= count; i++) {
        const r = await enrollLocal(join(dir, 'ca'), `node${i}@${OVERLAY}`, join(dir, `node${i}`));
        say(`      node${i}@${OVERLAY} -> ${r.nodeIdHex}`);
        ids.push(r.nodeIdHex);
      }
      say(`[3/4] starting ${count} node processes; each links to node1 over mutual TLS`);
      for (let i = 1; i <= count; i++) {
        const p = await startNodeProcess({
          config: join(dir, 'ca', 'overlay.json'),
          identity: join(dir, `node${i}`),
          bootstrap: nodes[0] ? [nodes[0].listen] : [],
        });
        nodes.push(p);
        say(`      node${i} ready: ${p.nodeId} listen=${p.listen} api=${p.api}`);
      }
      say('[4/4] pinging node1 from every other node through its API');
      let failures = 0;
      for (const p of nodes.slice(1)) {
        try {
          const r = (await callApi(p.api, 'POST', '/ping', { destination: nodes[0]!.nodeId })) as { rttMs: number; hops: number };
          say(`      ${p.nodeId.slice(0, 8)}… -> ${nodes[0]!.nodeId.slice(0, 8)}…  hops=${r.hops} rtt=${r.rttMs} ms`);
        } catch (e) {
          failures++;
          say(`      ${p.nodeId.slice(0, 8)}… -> ping failed: ${(e as Error).message}`);
        }
      }
      const status = (await callApi(nodes[0]!.api, 'GET', '/status')) as { links: unknown[] };
      say(`node1 holds ${status.links.length} authenticated links`);
      say(failures === 0 ? 'demo ok' : `demo finished with ${failures} failed pings`);
      return failures === 0 ? 0 : 1;
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
      if (!args.values.keep) await rm(dir, { recursive: true, force: true });
      else say(`kept ${dir}`);
    }
  },
};
