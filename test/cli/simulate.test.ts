/**
 * `reload-ppsp simulate`: the same seed gives the same result.json byte for byte; without churn
 * every lookup reaches the node the ground truth holds responsible (checked inside against the
 * sorted Node-IDs) in about ½·log2 N hops, and no value is lost; bad flags are one line, exit 2.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runCli } from '../helpers/cli.js';

const NODES = 12;

describe('CLI: simulate', function () {
  this.timeout(300_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'simulate-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('two runs with the same seed write the same result.json; lookups all succeed within the Chord path length; nothing lost; SVG plots and run costs are written; sim:scale tables and plots runs', async () => {
    const run = async (out: string, seed: number) => {
      const r = await runCli(['simulate', '--nodes', String(NODES), '--duration', '2m', '--lookups', '150', '--values', '24', '--seed', String(seed), '--out', join(dir, out)], { timeoutMs: 240_000 });
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/lookups: 150 \(and 0 whose origin left first\), success 100\.00 %/);
      expect(r.stderr).to.match(/simulate: joined 12\/12 nodes/);
      return readFile(join(dir, out, 'result.json'), 'utf8');
    };
    const first = await run('a', 5);
    expect(await run('b', 5)).to.equal(first);
    const result = JSON.parse(first) as { lookups: { lookups: number; success: number; meanHops: number }; values: { stored: number; lost: number; unfetched: number; stale: number } };
    expect(result.lookups.success).to.equal(1);
    expect(result.lookups.meanHops).to.be.at.most(0.5 * Math.log2(NODES) + 0.5);
    expect(result.values).to.deep.equal({ stored: 24, lost: 0, unfetched: 0, stale: 0 });
    for (const [file, title] of [['hops.svg', 'Hops per successful lookup'], ['latency-cdf.svg', 'Lookup latency, CDF'], ['success.svg', 'Lookup success per minute'], ['messages.svg', 'Messages sent per node per minute']]) {
      const svg = await readFile(join(dir, 'a', file!), 'utf8');
      expect(svg, file).to.match(/^<svg /).and.to.contain(title).and.to.contain('</svg>');
    }
    const cost = JSON.parse(await readFile(join(dir, 'a', 'run.json'), 'utf8')) as { wallSeconds: number; peakMemoryMiB: number };
    expect(cost.wallSeconds).to.be.a('number').and.at.least(0);
    expect(cost.peakMemoryMiB).to.be.above(0);
    expect(await run('c', 6), 'another seed, another run').to.not.equal(first);

    // Runs side by side: one table row per run, and a plot of their cost.
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/simulation/scale-report.ts', join(dir, 'scale.svg'), join(dir, 'a'), join(dir, 'c')]);
    const rows = stdout.trim().split('\n');
    expect(rows).to.have.length(4);
    for (const row of rows.slice(2)) expect(row).to.match(/^\| 12 \| 2 min \| .* \| 150 \| 100\.00 % \| .* \| 0 of 24 \|/);
    expect(await readFile(join(dir, 'scale.svg'), 'utf8')).to.match(/^<svg /).and.to.contain('cost against overlay size');
  });

  it('runs Kademlia too; with malicious peers, sim:robustness tables and plots the runs', async () => {
    const k = await runCli(['simulate', '--nodes', String(NODES), '--topology', 'KADEMLIA', '--duration', '1m', '--lookups', '100', '--values', '12', '--out', join(dir, 'k')], { timeoutMs: 240_000 });
    expect(k.code, k.stderr).to.equal(0);
    expect(k.stdout).to.match(/KADEMLIA/).and.to.match(/lookups: 100 \(and 0 whose origin left first\), success 100\.00 %/);
    const m = await runCli(['simulate', '--nodes', String(NODES), '--topology', 'KADEMLIA', '--duration', '1m', '--lookups', '100', '--values', '12', '--malicious', '25', '--paths', '3', '--out', join(dir, 'm')], { timeoutMs: 240_000 });
    expect(m.code, m.stderr).to.equal(0);
    expect(m.stdout).to.match(/25 % malicious, 3 path\(s\) per lookup/);
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/simulation/robustness-report.ts', join(dir, 'robustness.svg'), join(dir, 'k'), join(dir, 'm')]);
    const rows = stdout.trim().split('\n');
    expect(rows.slice(2)[0]).to.match(/^\| KADEMLIA \| 12 \| 0\.00 % \| 1 \| 100 \| 100\.00 % \|/);
    expect(rows.slice(2)[1]).to.match(/^\| KADEMLIA \| 12 \| 25\.00 % \| 3 \| 100 \| /);
    expect(await readFile(join(dir, 'robustness.svg'), 'utf8')).to.match(/^<svg /).and.to.contain('Lookup success with malicious peers');
  });

  it('refuses bad flags with one line and exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['simulate', '--churn', 'weibull'], /--churn weibull: the model is pareto/],
      [['simulate', '--duration', '5x'], /--duration 5x is not a duration/],
      [['simulate', '--mean-session', '1h'], /--mean-session needs --churn pareto/],
      [['simulate', '--nodes', '1'], /--nodes/],
      [['simulate', '--topology', 'PASTRY'], /--topology PASTRY is not one of/],
      [['simulate', '--malicious', '60'], /--malicious/],
      [['simulate', '--paths', '0'], /--paths/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args, { timeoutMs: 60_000 });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).to.equal(2);
      expect(r.stderr.trim().split('\n').at(-1), args.join(' ')).to.match(message);
    }
  });
});
