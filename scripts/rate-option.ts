/** Rate flags of the CLI (`--upload-limit`, `--download-limit`). */
import { parseRate } from '../usages/ppsp/data/rate-limit.js';
import { optionalString, UsageError, type OptionSpec, type ParsedArgs } from './command.js';

/** A rate flag (parseRate's forms), or undefined if not given; a UsageError for a bad one. */
export function rateOption(args: ParsedArgs, name: string): number | undefined {
  const text = optionalString(args, name);
  if (text === undefined) return undefined;
  const rate = parseRate(text);
  if (rate === undefined) throw new UsageError(`--${name} ${text} is not a rate: bytes/s like 500k or 2M, or bits/s like 20Mbit`);
  return rate;
}

/** The swarm's own upload limit, for the commands that start one (seed, get, watch). */
export const SWARM_UPLOAD_LIMIT_OPTION = {
  'upload-limit': { type: 'string', help: 'upload rate limit of this swarm (500k, 2M, 20Mbit; 0 for none; the node\'s applies as well)', valueName: 'RATE' },
} satisfies Record<string, OptionSpec>;

/** Both limits of a swarm, for the commands that start a download (get, watch). */
export const SWARM_LIMIT_OPTIONS = {
  ...SWARM_UPLOAD_LIMIT_OPTION,
  'download-limit': { type: 'string', help: 'download rate limit of this swarm, as --upload-limit', valueName: 'RATE' },
} satisfies Record<string, OptionSpec>;

/** The swarm limits given, as the API's body fields (absent when not given). */
export function swarmLimits(args: ParsedArgs): { uploadLimit?: number; downloadLimit?: number } {
  return { uploadLimit: rateOption(args, 'upload-limit'), downloadLimit: rateOption(args, 'download-limit') };
}
