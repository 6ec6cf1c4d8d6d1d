/**
 * The simulation on a worker thread (scripts/simulation/run-in-worker.ts): the thread gets the
 * heap it was given, and the run is the same as in this thread.
 */
import { expect } from 'chai';
import { totalmem } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { heapLimitMiB, runSimulationInWorker } from '../../scripts/simulation/run-in-worker.js';
import { runSimulation, type SimulationOptions } from '../../scripts/simulation/simulation.js';

const OWN_MIB = Math.round(getHeapStatistics().heap_size_limit / 2 ** 20);

describe('simulation on a worker thread', function () {
  this.timeout(120_000);

  it('runs with the heap it was given and gives the result the same run gives in this thread', async () => {
    const opts: SimulationOptions = { nodes: 8, topology: 'KADEMLIA', seed: 3, durationMs: 60_000, lookups: 40, values: 8, malicious: 0, paths: 1 };
    const lines: string[] = [];
    const asked = OWN_MIB + 512;
    const inWorker = await runSimulationInWorker(opts, (line) => lines.push(line), asked);
    const heap = /^on a thread with a (\d+) MiB heap$/.exec(lines[0] ?? '');
    expect(heap, lines[0]).not.to.equal(null);
    // V8's limit counts the young generation too.
    expect(Number(heap![1])).to.be.at.least(asked);
    expect(lines, lines.join('\n')).to.include('stored 8 values');
    expect(JSON.stringify(inWorker)).to.equal(JSON.stringify(await runSimulation(opts, () => {})));
  });

  it('sizes the heap to the overlay: V8\'s own limit for a small one, more for 10,000 nodes where the machine has the memory, never past three quarters of it', () => {
    const machineMiB = Math.floor((totalmem() / 2 ** 20) * 0.75);
    expect(heapLimitMiB(2)).to.equal(OWN_MIB);
    expect(heapLimitMiB(10_000)).to.be.at.most(Math.max(OWN_MIB, machineMiB));
    // Where three quarters of the machine is more than V8's own limit, 10,000 nodes get more than it.
    expect(heapLimitMiB(10_000) > OWN_MIB, `${machineMiB} MiB of the machine, V8's own ${OWN_MIB}`).to.equal(machineMiB > OWN_MIB);
    expect(heapLimitMiB(10_000)).to.be.at.least(heapLimitMiB(5_000));
  });
});
