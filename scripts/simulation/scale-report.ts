/**
 * `npm run sim:scale -- OUT.svg DIR...`: puts simulation runs of different sizes side by side.
 * Reads each DIR's result.json and run.json (from `reload-ppsp simulate --out DIR`), prints a
 * Markdown table (nodes, wall time, peak memory, lookups, success, hops against the Chord bound,
 * values lost, maintenance) and writes one plot of wall time and peak memory against nodes.
 */
import { writeFile } from 'node:fs/promises';
import { markdownTable, readRun, runReport, type Run } from './run-dirs.js';
import { renderSvg } from './sim-plots.js';

function table(runs: Run[]): string {
  const rows = runs.map(({ result: r, cost }) => {
    const bound = 0.5 * Math.log2(r.options.nodes) + 0.5;
    return [
      r.options.nodes.toLocaleString('en'),
      `${r.options.durationMs / 60_000} min${r.options.meanSessionMs ? `, Pareto ${r.options.meanSessionMs / 60_000} min` : ''}`,
      `${Math.round(cost.wallSeconds / 6) / 10} min`,
      `${(cost.peakMemoryMiB / 1024).toFixed(2)} GiB`,
      r.lookups.lookups.toLocaleString('en'),
      `${(r.lookups.success * 100).toFixed(2)} %`,
      `${r.lookups.meanHops.toFixed(2)} (≤ ${bound.toFixed(2)})`,
      `${r.values.lost} of ${r.values.stored.toLocaleString('en')}`,
      String(r.maintenance.messagesPerNodePerMinute),
    ];
  });
  const head = ['nodes', 'virtual time, churn', 'wall time', 'peak memory', 'lookups', 'success', 'mean hops (½·log2 N + 0.5)', 'values lost', 'maintenance msg/node/min'];
  return markdownTable(head, rows);
}

async function main(args: string[]): Promise<number> {
  const [out, ...dirs] = args;
  if (!out?.endsWith('.svg') || dirs.length === 0) {
    process.stderr.write('usage: npm run sim:scale -- OUT.svg DIR... (DIRs written by `reload-ppsp simulate --out DIR`)\n');
    return 2;
  }
  const runs = (await Promise.all(dirs.map(readRun))).sort((a, b) => a.result.options.nodes - b.result.options.nodes);
  const points = runs.flatMap(({ result, cost }) => [
    { nodes: result.options.nodes, figure: 'wall time (min)', value: cost.wallSeconds / 60 },
    { nodes: result.options.nodes, figure: 'peak memory (GiB)', value: cost.peakMemoryMiB / 1024 },
  ]);
  await writeFile(
    out,
    await renderSvg({
      width: 420,
      height: 240,
      title: 'reload-ppsp simulate: cost against overlay size',
      data: { values: points },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'nodes', type: 'quantitative', title: 'nodes' },
        y: { field: 'value', type: 'quantitative', title: null },
        color: { field: 'figure', type: 'nominal', title: null },
      },
    }),
  );
  process.stdout.write(table(runs) + '\n');
  process.stderr.write(`wrote ${out}\n`);
  return 0;
}

runReport('sim:scale', main);
