/** `reload-ppsp bench <suite>` (`npm run bench -- <suite>`): prints the suite's figures as JSON. */
import { UsageError, type Command } from '../command.js';

const SUITES: Record<string, () => Promise<(o: { durationMs?: number }) => Promise<Record<string, unknown>>>> = {
  wire: async () => (await import('../bench/wire.js')).benchWire,
  link: async () => (await import('../bench/link.js')).benchLink,
};

export const benchCommand: Command = {
  name: 'bench',
  summary: `Measure a layer against its raw baseline in the same run and print JSON (suites: ${Object.keys(SUITES).join(', ')}).`,
  args: 'SUITE',
  options: {
    duration: { type: 'string', help: 'milliseconds per measurement', valueName: 'MS' },
  },
  async run(args) {
    const [suite, ...extra] = args.positionals;
    const load = suite ? SUITES[suite] : undefined;
    if (!load || extra.length) throw new UsageError(`name one suite: ${Object.keys(SUITES).join(', ')}`);
    const durationMs = args.values.duration === undefined ? undefined : Number(args.values.duration);
    if (durationMs !== undefined && !(Number.isInteger(durationMs) && durationMs >= 100)) throw new UsageError('--duration must be an integer number of milliseconds >= 100');
    const run = await load();
    process.stdout.write(JSON.stringify(await run({ durationMs }), null, 2) + '\n');
    return 0;
  },
};
