import type { Node } from '../../overlay/node.js';
import { RingTruth } from '../../scripts/local-ring.js';

/**
 * The nodes whose successor or predecessor list differs from the ground truth of `nodes` (the live
 * ring), each as a line saying what it has and what it should have; none when the ring agrees.
 */
export function wrongNeighbours(nodes: Node[], k: number): string[] {
  const truth = new RingTruth(nodes.map((n) => n.nodeId));
  const short = (ids: string[]) => ids.map((x) => x.slice(0, 8));
  return nodes.flatMap((n) => {
    const s = n.topologyStatus();
    const want = { successors: truth.successors(n.nodeId, k), predecessors: truth.predecessors(n.nodeId, k) };
    const ok = JSON.stringify(s.successors) === JSON.stringify(want.successors) && JSON.stringify(s.predecessors) === JSON.stringify(want.predecessors);
    return ok ? [] : [`${n.nodeIdHex.slice(0, 8)} succ ${short(s.successors)} want ${short(want.successors)}; pred ${short(s.predecessors)} want ${short(want.predecessors)}`];
  });
}
