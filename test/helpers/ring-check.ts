import type { Node } from '../../overlay/node.js';
import type { RingStatus } from '../../overlay/topology/topology.js';
import { neighbourhoodDifferences, nodeViews } from './settle.js';

/**
 * The nodes whose neighbourhood (Chord's successor and predecessor lists, Kademlia's siblings)
 * differs from the ground truth of `nodes` (the live overlay), each as a line saying what it has
 * and what it should have; none when the overlay agrees. `k` neighbours each way.
 */
export function wrongNeighbours(nodes: Node[], k: number): string[] {
  return neighbourhoodDifferences(nodeViews(nodes), k, nodes[0]?.config.topology);
}

/** A CHORD-RELOAD node's (or a client's) status; throws for a node of another topology. */
export function ringStatus(node: Node): RingStatus {
  const s = node.topologyStatus();
  if (s.topology === 'KADEMLIA') throw new Error(`${node.nodeIdHex} runs ${s.topology}, not a ring`);
  return s;
}
