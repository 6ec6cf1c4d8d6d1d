/**
 * The simulated internet: one address per simulated host (10.x.y.z:6084) and a one-way delay per
 * pair of hosts, fixed for the run and drawn from the seed, uniform between the bounds given.
 */
import { createHash } from 'node:crypto';
import type { PathModel } from '../../overlay/link/memory-network.js';

export const SIM_PORT = 6084;

/** The host of simulated node `i`. */
export function simHost(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

/** Delays between hosts, the same both ways, from a hash of the seed and the pair. */
export function simPaths(seed: number, minMs: number, maxMs: number): (from: string, to: string) => PathModel {
  return (from, to) => {
    const [a, b] = [from.split(':')[0]!, to.split(':')[0]!].sort();
    const h = createHash('sha256').update(`${seed} ${a} ${b}`).digest().readUInt32BE(0) / 4_294_967_296;
    return { latencyMs: Math.round(minMs + h * (maxMs - minMs)) };
  };
}
