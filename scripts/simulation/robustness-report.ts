/**
 * `npm run sim:robustness -- OUT.svg DIR...`: lookups under malicious peers, side by side. Reads
 * each DIR's result.json (from `reload-ppsp simulate --malicious P --paths D --out DIR`), prints a
 * Markdown table (topology, nodes, malicious share, routes per lookup, success, hops, the malicious share
 * of honest tables, values lost and not fetched)
 * and writes one bar chart of lookup success by topology and routes per lookup.
 */
import { writeFile } from 'node:fs/promises';
import { markdownTable, readRun, runReport, type Run } from './run-dirs.js';
import { renderSvg } from './sim-plots.js';

const percent = (x: number) => `${(x * 100).toFixed(2)} %`;

function table(runs: Run[]): string {
  const head = ['topology', 'nodes', 'malicious', 'routes per lookup', 'lookups', 'success', 'mean hops', 'malicious share of honest tables', 'values lost', 'newest version not fetched in 3 tries', 'of those, an older version served'];
  const rows = runs.map(({ result: r }) => [
    r.options.topology,
    r.options.nodes.toLocaleString('en'),
    percent(r.options.malicious ?? 0),
    String(r.options.paths ?? 1),
    r.lookups.lookups.toLocaleString('en'),
    percent(r.lookups.success),
    r.lookups.meanHops.toFixed(2),
    r.colluderShare === undefined ? '' : percent(r.colluderShare),
    `${r.values.lost} of ${r.values.stored.toLocaleString('en')}`,
    String(r.values.unfetched),
    String(r.values.stale ?? 0),
  ]);
  return markdownTable(head, rows);
}

async function main(args: string[]): Promise<number> {
  const [out, ...dirs] = args;
  if (!out?.endsWith('.svg') || dirs.length === 0) {
    process.stderr.write('usage: npm run sim:robustness -- OUT.svg DIR... (DIRs written by `reload-ppsp simulate --malicious P --paths D --out DIR`)\n');
    return 2;
  }
  const runs = await Promise.all(dirs.map(readRun));
  const bars = runs.map(({ result: r }) => ({
    run: `${r.options.topology}, ${percent(r.options.malicious ?? 0)} malicious`,
    routes: `d = ${r.options.paths ?? 1}`,
    success: r.lookups.success * 100,
  }));
  await writeFile(
    out,
    await renderSvg({
      width: 360,
      height: 220,
      title: 'Lookup success with malicious peers (lying, dropping, serving stale values)',
      data: { values: bars },
      mark: 'bar',
      encoding: {
        x: { field: 'run', type: 'nominal', title: null, axis: { labelAngle: 0 } },
        xOffset: { field: 'routes' },
        y: { field: 'success', type: 'quantitative', title: 'lookup success (%)', scale: { domain: [0, 100] } },
        color: { field: 'routes', type: 'nominal', title: 'routes per lookup' },
      },
    }),
  );
  process.stdout.write(table(runs) + '\n');
  process.stderr.write(`wrote ${out}\n`);
  return 0;
}

runReport('sim:robustness', main);
