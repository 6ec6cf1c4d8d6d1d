/** Rate flags of the CLI (`--upload-limit`, `--download-limit`). */
import { parseRate } from '../usages/ppsp/data/rate-limit.js';
import { optionalString, UsageError, type ParsedArgs } from './command.js';

/** A rate flag (parseRate's forms), or undefined if not given; a UsageError for a bad one. */
export function rateOption(args: ParsedArgs, name: string): number | undefined {
  const text = optionalString(args, name);
  if (text === undefined) return undefined;
  const rate = parseRate(text);
  if (rate === undefined) throw new UsageError(`--${name} ${text} is not a rate: bytes/s like 500k or 2M, or bits/s like 20Mbit`);
  return rate;
}
