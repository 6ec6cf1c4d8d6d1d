/** `reload-ppsp bench <suite>` (`npm run bench -- <suite>`): prints the suite's figures as JSON. */
import { DEFAULT_BENCH_NODES } from '../bench/overlay.js';
import { TOPOLOGIES, type TopologyName } from '../../overlay/config.js';
import { integerOption, UsageError, type Command } from '../command.js';
import { topologyOption } from '../topology-option.js';

/** What a suite is given; each suite reads only the options it lists in `takes`. */
interface BenchOptions {
  durationMs?: number;
  nodes?: number;
  sizeMiB?: number;
  viewers?: number;
  topology?: TopologyName;
}

interface Suite {
  load: () => Promise<(o: BenchOptions) => Promise<Record<string, unknown>>>;
  takes: (keyof BenchOptions)[];
}

const SUITES: Record<string, Suite> = {
  wire: { load: async () => (await import('../bench/wire.js')).benchWire, takes: ['durationMs'] },
  link: { load: async () => (await import('../bench/link.js')).benchLink, takes: ['durationMs'] },
  message: { load: async () => (await import('../bench/message.js')).benchMessage, takes: ['durationMs'] },
  overlay: { load: async () => (await import('../bench/overlay.js')).benchOverlay, takes: ['durationMs', 'nodes', 'topology'] },
  storage: { load: async () => (await import('../bench/storage.js')).benchStorage, takes: ['durationMs', 'nodes'] },
  swarm: { load: async () => (await import('../bench/swarm.js')).benchSwarm, takes: ['sizeMiB'] },
  stream: { load: async () => (await import('../bench/stream.js')).benchStream, takes: ['sizeMiB'] },
  live: { load: async () => (await import('../bench/live.js')).benchLive, takes: ['viewers', 'durationMs'] },
  nat: { load: async () => (await import('../bench/nat.js')).benchNat, takes: ['sizeMiB'] },
  ppspp: { load: async () => (await import('../bench/ppspp.js')).benchPpspp, takes: ['sizeMiB'] },
};

/** Bounds of --nodes: an overlay needs two nodes, and all of them run in this one process. */
export const BENCH_MIN_NODES = 2;
export const BENCH_MAX_NODES = 256;
/** Bound of --duration, ms (ten minutes per measurement). */
const BENCH_MAX_DURATION_MS = 600_000;

export const benchCommand: Command = {
  name: 'bench',
  summary: `Measure a layer against its raw baseline in the same run and print JSON (suites: ${Object.keys(SUITES).join(', ')}).`,
  args: 'SUITE',
  options: {
    duration: { type: 'string', help: 'milliseconds per measurement (message: of the pairs and of the baseline, each; overlay, storage: bound on the wait for the ring to settle; live: of channel per run)', valueName: 'MS' },
    nodes: { type: 'string', help: `nodes to run, ${BENCH_MIN_NODES}-${BENCH_MAX_NODES} (overlay, storage; default ${DEFAULT_BENCH_NODES})`, valueName: 'N' },
    size: { type: 'string', help: 'MiB of the file to stream (swarm: default 256; stream: default 256 and 1024; nat: default 16, per ordered pair; ppspp: default 64, on loopback)', valueName: 'MIB' },
    viewers: { type: 'string', help: 'viewers of the live channel, 1-128 (live; default 32)', valueName: 'N' },
    topology: { type: 'string', help: `topology plugin (overlay; ${TOPOLOGIES.join(', ')}; default ${TOPOLOGIES[0]})`, valueName: 'T' },
  },
  async run(args) {
    const [name] = args.positionals;
    const suite = name ? SUITES[name] : undefined;
    if (!suite) throw new UsageError(`name one suite: ${Object.keys(SUITES).join(', ')}`);
    const opts: BenchOptions = {
      durationMs: integerOption(args, 'duration', { min: 100, max: BENCH_MAX_DURATION_MS }),
      nodes: integerOption(args, 'nodes', { min: BENCH_MIN_NODES, max: BENCH_MAX_NODES }),
      sizeMiB: integerOption(args, 'size', { min: 1, max: 4096 }),
      viewers: integerOption(args, 'viewers', { min: 1, max: 128 }),
      topology: topologyOption(args),
    };
    const flag: Record<keyof BenchOptions, string> = { durationMs: 'duration', nodes: 'nodes', sizeMiB: 'size', viewers: 'viewers', topology: 'topology' };
    for (const key of Object.keys(opts) as (keyof BenchOptions)[]) {
      if (opts[key] === undefined) delete opts[key];
      else if (!suite.takes.includes(key)) throw new UsageError(`the ${name} suite takes no --${flag[key]}`);
    }
    const run = await suite.load();
    process.stdout.write(JSON.stringify(await run(opts), null, 2) + '\n');
    return 0;
  },
};
