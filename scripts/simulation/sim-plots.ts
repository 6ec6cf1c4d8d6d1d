/**
 * Plots of a simulation as SVG files a person can open: hop count histogram, lookup latency CDF,
 * lookup success per minute, and messages sent per node per minute by name. Drawn by Vega-Lite,
 * rendered headless by Vega (no browser, no canvas).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { SimulationResult } from './simulation.js';

const SIZE = { width: 420, height: 240 };

/** One chart as SVG text. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

function charts(r: SimulationResult): Record<string, TopLevelSpec> {
  const what = `${r.options.nodes} nodes, ${r.options.topology}`;
  return {
    'hops.svg': {
      ...SIZE,
      title: `Hops per successful lookup (${what}; mean ${r.lookups.meanHops})`,
      data: { values: Object.entries(r.lookups.hops).map(([hops, lookups]) => ({ hops: Number(hops), lookups })) },
      mark: 'bar',
      encoding: { x: { field: 'hops', type: 'ordinal', title: 'hops' }, y: { field: 'lookups', type: 'quantitative', title: 'lookups' } },
    },
    'latency-cdf.svg': {
      ...SIZE,
      title: `Lookup latency, CDF (${what})`,
      data: { values: [{ ms: 0, share: 0 }, ...r.lookups.latencyMs.cdf.map(([ms, share]) => ({ ms, share }))] },
      mark: { type: 'line', interpolate: 'step-after', point: true },
      encoding: { x: { field: 'ms', type: 'quantitative', title: 'latency (ms of virtual time)' }, y: { field: 'share', type: 'quantitative', title: 'share of lookups', scale: { domain: [0, 1] } } },
    },
    'success.svg': {
      ...SIZE,
      title: `Lookup success per minute (${what}${r.options.meanSessionMs ? `, Pareto churn, mean session ${r.options.meanSessionMs / 60_000} min` : ''})`,
      data: { values: r.lookups.perMinute },
      mark: { type: 'line', point: true },
      encoding: { x: { field: 'minute', type: 'quantitative', title: 'minute of the measured phase' }, y: { field: 'success', type: 'quantitative', title: 'share successful', scale: { zero: false } } },
    },
    'messages.svg': {
      ...SIZE,
      title: `Messages sent per node per minute (${what}; maintenance ${r.maintenance.messagesPerNodePerMinute})`,
      data: { values: Object.entries(r.sentPerNodePerMinute).map(([message, rate]) => ({ message, rate })) },
      mark: 'bar',
      encoding: { y: { field: 'message', type: 'nominal', sort: '-x', title: null }, x: { field: 'rate', type: 'quantitative', title: 'per node per minute' } },
    },
  };
}

/** Writes the plots of `result` into `dir`; returns the paths written. */
export async function writePlots(result: SimulationResult, dir: string): Promise<string[]> {
  const written: string[] = [];
  for (const [file, spec] of Object.entries(charts(result))) {
    const path = join(dir, file);
    await writeFile(path, await renderSvg(spec));
    written.push(path);
  }
  return written;
}
