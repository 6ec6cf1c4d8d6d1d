/**
 * Session and downtime lengths for churn: a shifted Pareto (Lomax) with shape 3, the heavy-tailed
 * lifetime model of OverSim's Pareto churn (most peers stay briefly, a few stay very long).
 */
import type { Random } from '../../overlay/random.js';

export const PARETO_SHAPE = 3;

/** One draw with mean `meanMs`. */
export function paretoMs(meanMs: number, random: Random, shape = PARETO_SHAPE): number {
  const scale = meanMs * (shape - 1);
  return scale * ((1 - random.next()) ** (-1 / shape) - 1);
}
