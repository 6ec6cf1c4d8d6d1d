/**
 * The topology conformance suite over memory links on a virtual clock (20 ms each way), for every
 * plugin: the same Node code as over TLS, with maintenance intervals that cost no wall time.
 */
import { TOPOLOGIES } from '../../overlay/config.js';
import { ErrorCode, ReloadError } from '../../overlay/errors.js';
import type { Node } from '../../overlay/node.js';
import { startVirtualTestnet } from '../helpers/testnet.js';
import { CONFORMANCE_KIND, describeTopologyConformance } from './topology-conformance.js';

const PEERS = 24;
/** Virtual time one request may take before the test calls it stuck. */
const REQUEST_BOUND_MS = 60_000;

for (const topology of TOPOLOGIES) {
  describeTopologyConformance(`${topology} conformance: ${PEERS} peers over memory links, virtual clock`, { timeoutMs: 120_000, routes: 300, kill: 6, values: 48, settleMs: 60_000 }, async () => {
    const { clock, net } = await startVirtualTestnet(PEERS, { topology, kinds: [CONFORMANCE_KIND], storage: { replicas: 3 } });
    const byId = (hex: string): Node => {
      const node = net.nodes.find((n) => n.nodeIdHex === hex);
      if (!node) throw new Error(`no live node ${hex}`);
      return node;
    };
    const run = <T>(p: Promise<T>) => clock.until(p, REQUEST_BOUND_MS);
    return {
      config: net.config,
      ids: () => net.nodes.map((n) => n.nodeIdHex),
      views: async () => net.nodes.map((n) => ({ nodeId: n.nodeIdHex, state: n.state, ...n.topologyStatus() })),
      ping: async (from, to) => (await run(byId(from).ping(to))).responder,
      route: async (from, key) => (await run(byId(from).route(key))).responsible,
      store: async (from, resource, value) => {
        await run(byId(from).storage.store(CONFORMANCE_KIND.name, resource, { model: 'single', value: { exists: true, value: Buffer.from(value) } }));
      },
      fetch: async (from, resource) => {
        const got = await run(byId(from).storage.fetch(CONFORMANCE_KIND.name, resource));
        return got.values.filter((v) => v.data.value.value.exists).map((v) => Buffer.from(v.data.value.value.value).toString());
      },
      errorName: (e) => (e instanceof ReloadError ? ErrorCode[e.code] : String(e)),
      kill: async (ids) => {
        const victims = ids.map(byId);
        await clock.until(Promise.all(victims.map((v) => v.stop({ leave: false }))), 10_000);
        net.nodes.splice(0, net.nodes.length, ...net.nodes.filter((n) => !victims.includes(n)));
      },
      waitFor: async (what, boundMs, done) => {
        const end = clock.now() + boundMs;
        while (!(await run(done()))) {
          if (clock.now() >= end) throw new Error(`${what}: not within ${boundMs} ms of virtual time`);
          await clock.run(50);
        }
      },
      stop: () => clock.until(net.stopAll(), 30_000),
    };
  });
}
