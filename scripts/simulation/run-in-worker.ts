/**
 * Runs a simulation on a worker thread whose heap is sized to the overlay. V8's default limit
 * (about 4 GiB on a 24 GiB machine) leaves a 10,000-node Kademlia overlay too little room (2.5 GB
 * alive after a full collection with 8,500 nodes joined; 88 links a node at 1,000), and near its
 * limit V8 collects over and over: a virtual minute took 5 minutes of wall time, against under 2
 * with 0.6 MiB a node. That was still too little for the whole 30-minute run: its links grow, the
 * process stayed at 6.97 GiB from virtual minute 15 on, and the minutes slowed to 4 of wall time.
 */
import { totalmem } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { COMPILED_CLI_ENV } from '../node-process.js';
import type { SimulationOptions, SimulationResult } from './simulation.js';

/**
 * Old-generation heap a simulated node may need with room to collect, MiB. Measured after a full
 * collection: 0.13 for Chord, 0.3 for Kademlia while joining, more as its links grow under churn.
 */
const HEAP_PER_NODE_MIB = 1;
/** Heap besides the nodes: the run's own bookkeeping and the code, MiB. */
const HEAP_BASE_MIB = 1024;

/** The heap limit for `nodes`: never below V8's own, never above three quarters of the machine's memory. */
export function heapLimitMiB(nodes: number): number {
  const own = Math.round(getHeapStatistics().heap_size_limit / 2 ** 20);
  const machine = Math.floor((totalmem() / 2 ** 20) * 0.75);
  return Math.max(own, Math.min(machine, Math.round(HEAP_BASE_MIB + nodes * HEAP_PER_NODE_MIB)));
}

/**
 * The worker's module: the compiled one beside this file, or when running from the sources (the
 * tests, under tsx) the one beside the compiled CLI that COMPILED_CLI_ENV names: on Node 20 a
 * worker thread does not get tsx's loader, and the test hooks keep dist/ current.
 */
function workerEntry(): URL {
  if (extname(fileURLToPath(import.meta.url)) === '.js') return new URL('./simulation-worker.js', import.meta.url);
  const compiled = process.env[COMPILED_CLI_ENV];
  if (!compiled) throw new Error(`a simulation from the TypeScript sources needs the compiled one: build (npm run build) and set ${COMPILED_CLI_ENV} to dist/scripts/cli.js`);
  return pathToFileURL(join(dirname(compiled), 'simulation', 'simulation-worker.js'));
}

type FromWorker = { progress: string } | { result: SimulationResult };

/** runSimulation on a worker thread whose old generation may grow to `heapMiB`. */
export function runSimulationInWorker(opts: SimulationOptions, progress: (line: string) => void, heapMiB = heapLimitMiB(opts.nodes)): Promise<SimulationResult> {
  const worker = new Worker(workerEntry(), { workerData: opts, resourceLimits: { maxOldGenerationSizeMb: heapMiB } });
  return new Promise((resolve, reject) => {
    let result: SimulationResult | undefined;
    worker.on('message', (m: FromWorker) => {
      if ('progress' in m) progress(m.progress);
      else result = m.result;
    });
    worker.on('error', (e: Error & { code?: string }) => {
      reject(e.code === 'ERR_WORKER_OUT_OF_MEMORY' ? new Error(`the simulation needed more than its ${heapMiB} MiB heap; try fewer nodes`) : e);
    });
    worker.on('exit', (code) => {
      if (result) resolve(result);
      else reject(new Error(`the simulation's thread ended (code ${code}) without a result`));
    });
  });
}
