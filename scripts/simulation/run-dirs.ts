/** Reading back what `reload-ppsp simulate --out DIR` wrote, for the reports that put runs side by side. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SimulationResult } from './simulation.js';

export interface Run {
  result: SimulationResult;
  cost: { wallSeconds: number; peakMemoryMiB: number };
}

export async function readRun(dir: string): Promise<Run> {
  const read = async (file: string) => {
    try {
      return JSON.parse(await readFile(join(dir, file), 'utf8')) as unknown;
    } catch (e) {
      throw new Error(`cannot read ${join(dir, file)}: ${(e as Error).message} (run \`reload-ppsp simulate --out ${dir}\` first)`);
    }
  };
  return { result: (await read('result.json')) as SimulationResult, cost: (await read('run.json')) as Run['cost'] };
}
