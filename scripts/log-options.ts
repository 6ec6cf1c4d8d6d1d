/** `--log-level LEVEL` and `--verbose`, for commands that run a long-lived process (`node`). */
import { LOG_LEVELS, type LogLevel } from '../overlay/log.js';
import { optionalString, UsageError, type OptionSpec, type ParsedArgs } from './command.js';

export const LOG_OPTIONS = {
  'log-level': { type: 'string', help: `log messages of this level and above: ${LOG_LEVELS.join(', ')} (default info)`, valueName: 'LEVEL' },
  verbose: { type: 'boolean', help: 'log debug messages too (the same as --log-level debug)' },
} satisfies Record<string, OptionSpec>;

/** The level the flags ask for; info when neither is given. */
export function logLevelOf(args: ParsedArgs): LogLevel {
  const level = optionalString(args, 'log-level');
  const verbose = args.values.verbose === true;
  if (level === undefined) return verbose ? 'debug' : 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, not ${JSON.stringify(level)}`);
  if (verbose && level !== 'debug') throw new UsageError(`--verbose means --log-level debug; it contradicts --log-level ${level}`);
  return level as LogLevel;
}
