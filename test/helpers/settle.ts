/**
 * Waiting for an overlay to settle: every node joined, and its neighbourhood (Chord's successor
 * and predecessor lists, Kademlia's siblings) equal to the ground truth computed from all the
 * nodes' IDs, not what the nodes say of each other. Multi-node tests wait on this before they
 * assert anything that needs a settled overlay (a Store's replica set, a client's responsible
 * peer); every wait is bounded, and a timeout names each node that differs and how.
 */
import type { TopologyName } from '../../overlay/config.js';
import { idFromHex } from '../../overlay/id.js';
import type { Node } from '../../overlay/node.js';
import { callApi } from '../../scripts/api-client.js';
import { neighbourCount, topologyTruth, type NeighbourView } from '../../scripts/topology-truth.js';

/** One line per view that differs from the ground truth over the same nodes; empty when settled. */
export function neighbourhoodDifferences(views: NeighbourView[], count: number, topology: TopologyName = 'CHORD-RELOAD'): string[] {
  const truth = topologyTruth({ topology }, views.map((v) => idFromHex(v.nodeId)));
  return views.flatMap((v) => truth.neighbourhoodError({ state: 'unknown', ...v }, count) ?? []);
}

/** Polls `read` until its views equal the ground truth; rejects after `timeoutMs` with the differences. */
export async function waitForSettled(read: () => NeighbourView[] | Promise<NeighbourView[]>, count: number, timeoutMs = 30_000, topology: TopologyName = 'CHORD-RELOAD'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const differences = neighbourhoodDifferences(await read(), count, topology);
    if (differences.length === 0) return;
    if (Date.now() > deadline) throw new Error(`the overlay did not settle to the ground truth within ${timeoutMs} ms:\n  ${differences.join('\n  ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** What in-process nodes say of their neighbourhood. */
export const nodeViews = (nodes: readonly Node[]): NeighbourView[] => nodes.map((n) => ({ nodeId: n.nodeIdHex, state: n.state, ...n.topologyStatus() }));

/** In-process nodes (a testnet): settled over all the given nodes. */
export function settleNodes(nodes: readonly Node[], timeoutMs?: number): Promise<void> {
  const config = nodes[0]?.config;
  if (!config) return Promise.resolve();
  return waitForSettled(() => nodeViews(nodes), neighbourCount(config), timeoutMs, config.topology);
}

/** Node processes, through each one's GET /status. */
export function settleApis(apis: readonly string[], count: number, timeoutMs?: number, topology?: TopologyName): Promise<void> {
  return waitForSettled(() => Promise.all(apis.map((api) => callApi(api, 'GET', '/status') as Promise<NeighbourView>)), count, timeoutMs, topology);
}
