/**
 * `reload-ppsp simulate`: an overlay of N nodes in this process (the same Node class as
 * `reload-ppsp node`) over simulated links and virtual time, with churn and lookups; writes
 * result.json (the same for the same seed), run.json (what the run cost) and SVG plots to --out,
 * and prints a summary.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TOPOLOGIES } from '../../overlay/config.js';
import { integerOption, optionalString, printResult, UsageError, type Command } from '../command.js';
import { writePlots } from '../simulation/sim-plots.js';
import { runSimulationInWorker } from '../simulation/run-in-worker.js';
import type { SimulationOptions } from '../simulation/simulation.js';
import { topologyOption } from '../topology-option.js';

const UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "90s", "30m", "1h", "500ms" -> ms. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text);
  if (!m) throw new UsageError(`--${flag} ${text} is not a duration (a number and ms, s, m or h, e.g. 30m)`);
  const ms = Math.round(Number(m[1]) * UNITS_MS[m[2]!]!);
  if (ms <= 0 || ms > 24 * 3_600_000) throw new UsageError(`--${flag} ${text}: give more than 0 and at most 24h`);
  return ms;
}

export const simulateCommand: Command = {
  name: 'simulate',
  summary: 'Run an overlay of N nodes in this process on simulated links and virtual time, with churn and lookups; write result.json and print a summary.',
  options: {
    nodes: { type: 'string', help: 'nodes, 2-10000 (default 100)', valueName: 'N' },
    topology: { type: 'string', help: `topology plugin (${TOPOLOGIES.join(', ')}; default ${TOPOLOGIES[0]})`, valueName: 'T' },
    churn: { type: 'string', help: 'churn model: pareto (session and downtime lengths from a shifted Pareto); default none', valueName: 'MODEL' },
    'mean-session': { type: 'string', help: 'mean session length under churn (default 1h)', valueName: 'DURATION' },
    duration: { type: 'string', help: 'virtual time of the measured phase (default 10m)', valueName: 'DURATION' },
    lookups: { type: 'string', help: 'lookups spread over the measured phase (default 1000)', valueName: 'L' },
    values: { type: 'string', help: 'values stored before it, fetched after it (default 100)', valueName: 'V' },
    malicious: { type: 'string', help: 'percent of the peers that name one another in their Update answers and, once the measured phase starts, drop what they should forward, 0-50 (default 0; the bootstrap nodes are honest)', valueName: 'P' },
    paths: { type: 'string', help: 'routes each lookup takes at once, through different first hops, 1-16 (default 1)', valueName: 'D' },
    seed: { type: 'string', help: 'seed of every draw: the same seed gives the same result.json (default 1)', valueName: 'X' },
    out: { type: 'string', help: 'directory for result.json, run.json (wall time, memory) and SVG plots (default ./simulation)', valueName: 'DIR' },
    json: { type: 'boolean', help: 'print the result as JSON' },
  },
  async run(args) {
    if (args.positionals.length > 0) throw new UsageError(`simulate takes no arguments, got "${args.positionals[0]}"`);
    const topology = topologyOption(args) ?? TOPOLOGIES[0];
    const churn = optionalString(args, 'churn');
    if (churn !== undefined && churn !== 'pareto') throw new UsageError(`--churn ${churn}: the model is pareto`);
    const meanSession = optionalString(args, 'mean-session');
    if (meanSession !== undefined && churn === undefined) throw new UsageError('--mean-session needs --churn pareto');
    const opts: SimulationOptions = {
      nodes: integerOption(args, 'nodes', { min: 2, max: 10_000 }, 100),
      topology,
      seed: integerOption(args, 'seed', { min: 0, max: 2 ** 31 - 1 }, 1),
      durationMs: parseDuration(optionalString(args, 'duration') ?? '10m', 'duration'),
      lookups: integerOption(args, 'lookups', { min: 0, max: 10_000_000 }, 1000),
      values: integerOption(args, 'values', { min: 0, max: 1_000_000 }, 100),
      malicious: integerOption(args, 'malicious', { min: 0, max: 50 }, 0) / 100,
      paths: integerOption(args, 'paths', { min: 1, max: 16 }, 1),
      ...(churn ? { meanSessionMs: parseDuration(meanSession ?? '1h', 'mean-session') } : {}),
    };
    const out = resolve(optionalString(args, 'out') ?? 'simulation');
    await mkdir(out, { recursive: true });
    const started = performance.now();
    const result = await runSimulationInWorker(opts, (line) => process.stderr.write(`simulate: ${line}\n`));
    await writeFile(join(out, 'result.json'), JSON.stringify(result, null, 2) + '\n');
    const plots = await writePlots(result, out);
    // What the run cost differs from run to run, so it is kept apart from result.json.
    const cost = { wallSeconds: Math.round((performance.now() - started) / 1000), peakMemoryMiB: Math.round(process.resourceUsage().maxRSS / 1024), node: process.version };
    await writeFile(join(out, 'run.json'), JSON.stringify(cost, null, 2) + '\n');
    const l = result.lookups;
    process.stderr.write(`simulate: ${cost.wallSeconds} s of wall time, peak memory ${cost.peakMemoryMiB} MiB\n`);
    printResult(
      args,
      result,
      [
        `${opts.nodes} nodes, ${topology}, ${opts.durationMs / 60_000} min of virtual time${opts.meanSessionMs ? `, Pareto churn (mean session ${opts.meanSessionMs / 60_000} min)` : ''}${opts.malicious ? `, ${opts.malicious * 100} % malicious, ${opts.paths} path(s) per lookup` : ''}`,
        `lookups: ${l.lookups} (and ${l.abandoned} whose origin left first), success ${(l.success * 100).toFixed(2)} %, mean hops ${l.meanHops}, latency p50 ${l.latencyMs.p50} ms, p95 ${l.latencyMs.p95} ms`,
        `values: ${result.values.stored} stored, ${result.values.lost} lost (held by no node that is up), ${result.values.unfetched} not fetched in 3 tries (${result.values.stale} of them answered with an older version)`,
        `maintenance: ${result.maintenance.messagesPerNodePerMinute} messages per node per minute`,
        ...(result.colluderShare === undefined ? [] : [`malicious peers: ${(result.colluderShare * 100).toFixed(2)} % of the honest nodes' table entries when the measured phase began`]),
        `written: ${[join(out, 'result.json'), join(out, 'run.json'), ...plots].join(', ')}`,
      ].join('\n'),
    );
    return 0;
  },
};
