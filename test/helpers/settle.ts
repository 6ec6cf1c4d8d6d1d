/**
 * Waiting for a ring to settle: every node joined, and its successor and predecessor lists equal
 * the ground truth computed from all the nodes' IDs (RingTruth), not what the nodes say of each
 * other. Multi-node tests wait on this before they assert anything that needs a settled ring
 * (a Store's replica set, a client's responsible peer); every wait is bounded, and a timeout
 * names each node that differs and how.
 */
import { idFromHex } from '../../overlay/id.js';
import type { Node } from '../../overlay/node.js';
import { callApi } from '../../scripts/api-client.js';
import { RingTruth } from '../../scripts/local-ring.js';

/** What a node says of its place in the ring (the fields of GET /status). */
export interface RingView {
  nodeId: string;
  state: string;
  successors: string[];
  predecessors: string[];
}

/** One line per view that differs from the ground truth over the same nodes; empty when settled. */
export function ringDifferences(views: RingView[], neighbourCount: number): string[] {
  const truth = new RingTruth(views.map((v) => idFromHex(v.nodeId)));
  const short = (ids: string[]) => ids.map((x) => x.slice(0, 8)).join(',');
  return views.flatMap((v) => {
    const id = idFromHex(v.nodeId);
    const succ = truth.successors(id, neighbourCount);
    const pred = truth.predecessors(id, neighbourCount);
    const ok = v.state === 'joined' && v.successors.join() === succ.join() && v.predecessors.join() === pred.join();
    return ok ? [] : [`${v.nodeId.slice(0, 8)} ${v.state}: successors ${short(v.successors)} (want ${short(succ)}), predecessors ${short(v.predecessors)} (want ${short(pred)})`];
  });
}

/** Polls `read` until its views equal the ground truth; rejects after `timeoutMs` with the differences. */
export async function waitForSettledRing(read: () => RingView[] | Promise<RingView[]>, neighbourCount: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const differences = ringDifferences(await read(), neighbourCount);
    if (differences.length === 0) return;
    if (Date.now() > deadline) throw new Error(`the ring did not settle to the ground truth within ${timeoutMs} ms:\n  ${differences.join('\n  ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** In-process nodes (a testnet): settled over all the given nodes. */
export function settleNodes(nodes: readonly Node[], timeoutMs?: number): Promise<void> {
  const neighbourCount = nodes[0]?.config.chord.neighbourCount ?? 0;
  const views = () => nodes.map((n) => ({ nodeId: n.nodeIdHex, state: n.state, ...n.topologyStatus() }));
  return waitForSettledRing(views, neighbourCount, timeoutMs);
}

/** Node processes, through each one's GET /status. */
export function settleApis(apis: readonly string[], neighbourCount: number, timeoutMs?: number): Promise<void> {
  return waitForSettledRing(() => Promise.all(apis.map((api) => callApi(api, 'GET', '/status') as Promise<RingView>)), neighbourCount, timeoutMs);
}
