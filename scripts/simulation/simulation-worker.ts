/**
 * The thread a simulation runs on (run-in-worker.ts starts it): runs it with the options it was
 * given and posts back its heap limit and each progress line, then the result.
 */
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { runSimulation, type SimulationOptions } from './simulation.js';

const port = parentPort;
if (!port) throw new Error('simulation-worker runs as a worker thread (run-in-worker.ts)');
port.postMessage({ progress: `on a thread with a ${Math.round(getHeapStatistics().heap_size_limit / 2 ** 20)} MiB heap` });
const result = await runSimulation(workerData as SimulationOptions, (line) => port.postMessage({ progress: line }));
port.postMessage({ result });
