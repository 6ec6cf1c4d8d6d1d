/**
 * The files a node writes a swarm to besides the swarm's own path: each `get` of a swarm the node
 * already holds (seeded, downloaded, or downloading elsewhere) gets its own verified copy
 * (swarm-export.ts), and its own status, so a `get` reports success only when ITS file is written.
 */
import { ErrorCode, ReloadError } from '../../../overlay/index.js';
import { exportSwarm } from './swarm-export.js';
import type { Swarm } from '../data/swarm.js';

/** Extra outputs remembered per swarm, at most (finished ones are forgotten first). */
export const MAX_OUTPUTS_PER_SWARM = 16;

/** One output file of a swarm: written once complete and verified, or why it failed. */
export interface SwarmOutput {
  path: string;
  written: boolean;
  error?: string;
}

export class SwarmOutputs {
  private readonly bySwarm = new Map<string, Map<string, SwarmOutput>>();

  /**
   * Starts writing a verified copy of `swarm` to `out` (after it completes, if it is downloading).
   * A copy to the same path already under way is not started twice.
   */
  add(swarm: Swarm, out: string, force: boolean): void {
    let outputs = this.bySwarm.get(swarm.swarmId);
    if (!outputs) this.bySwarm.set(swarm.swarmId, (outputs = new Map()));
    const existing = outputs.get(out);
    if (existing && !existing.written && existing.error === undefined) return;
    if (outputs.size >= MAX_OUTPUTS_PER_SWARM) {
      for (const [path, o] of outputs) if (outputs.size >= MAX_OUTPUTS_PER_SWARM && (o.written || o.error !== undefined)) outputs.delete(path);
      if (outputs.size >= MAX_OUTPUTS_PER_SWARM) {
        throw new ReloadError(ErrorCode.Forbidden, `swarm ${swarm.swarmId} is being written to ${MAX_OUTPUTS_PER_SWARM} files already`, 'too_many_outputs');
      }
    }
    const output: SwarmOutput = { path: out, written: false };
    outputs.set(out, output);
    exportSwarm(swarm, out, force).then(
      () => (output.written = true),
      (e: Error) => (output.error = e.message),
    );
  }

  /** The swarm's own path (the file seeded, or its download) first, then its copies. */
  of(swarm: Swarm): SwarmOutput[] {
    return [{ path: swarm.path, written: swarm.complete }, ...(this.bySwarm.get(swarm.swarmId)?.values() ?? [])];
  }

  /** Forgets the outputs of a swarm that stopped (copies still under way fail on their own). */
  forget(swarmId: string): void {
    this.bySwarm.delete(swarmId);
  }
}
