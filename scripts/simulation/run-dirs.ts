/** Reading back what `reload-ppsp simulate --out DIR` wrote, and what the reports that put runs side by side share. */
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

/** A Markdown table. */
export function markdownTable(head: string[], rows: string[][]): string {
  return [head, head.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

/** Runs a report's `main` on the command line: its code is the exit code, an error one line on stderr and exit 1. */
export function runReport(name: string, main: (args: string[]) => Promise<number>): void {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: Error) => {
      process.stderr.write(`${name}: ${e.message}\n`);
      process.exit(1);
    },
  );
}
