/**
 * The shape of a CLI command and the flag parsing they share. Flags follow the usual conventions
 * (`--name value`, `--name=value`, `--help`, `--json`); a user mistake is a UsageError, printed as
 * one line with exit code 2.
 */
import { stat } from 'node:fs/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {
  override name = 'UsageError';
}

export type OptionSpec = NonNullable<ParseArgsConfig['options']>[string] & { help: string; valueName?: string };

export interface Command {
  /** e.g. "enroll" or "ca init". */
  name: string;
  summary: string;
  /** Positional arguments, e.g. "FILE". */
  args?: string;
  options: Record<string, OptionSpec>;
  run(parsed: ParsedArgs): Promise<number>;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export function helpText(cmd: Command): string {
  const lines = [`Usage: reload-ppsp ${cmd.name}${cmd.args ? ' ' + cmd.args : ''} [options]`, '', cmd.summary, '', 'Options:'];
  const entries = Object.entries(cmd.options).map(([name, o]) => {
    const flag = `--${name}${o.type === 'string' ? ' ' + (o.valueName ?? name.toUpperCase()) : ''}`;
    return [flag, o.help + (o.multiple ? ' (repeatable)' : '')] as const;
  });
  entries.push(['--help', 'show this help']);
  const width = Math.max(...entries.map(([f]) => f.length));
  for (const [flag, help] of entries) lines.push(`  ${flag.padEnd(width)}  ${help}`);
  return lines.join('\n');
}

/**
 * `--flag -5` as `--flag=-5`: parseArgs refuses a value that starts with a dash as ambiguous and
 * tells the user to write `--flag=-5`, which the flag's own check then refuses anyway. A word
 * that reads as a negative number is never a flag here, so it is taken as the value and checked
 * like any other (`--generation -1` says what --generation takes; `--value -5` stores "-5").
 */
function attachNegativeValues(argv: string[], options: NonNullable<ParseArgsConfig['options']>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') return [...out, ...argv.slice(i)];
    const name = word.startsWith('--') ? word.slice(2) : undefined;
    const next = argv[i + 1];
    if (name !== undefined && options[name]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      out.push(`${word}=${next}`);
      i++;
    } else out.push(word);
  }
  return out;
}

/** The positional arguments `cmd.args` names ("FILE" is one, none when absent). */
const positionalNames = (cmd: Command): string[] => cmd.args?.split(/\s+/) ?? [];

export function parseCommandArgs(cmd: Command, argv: string[]): ParsedArgs | 'help' {
  const options: ParseArgsConfig['options'] = { help: { type: 'boolean', short: 'h' } };
  for (const [name, o] of Object.entries(cmd.options)) {
    const { help: _help, valueName: _valueName, ...spec } = o;
    options[name] = spec;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: attachNegativeValues(argv, options), options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${(e as Error).message.split('\n')[0]} (see reload-ppsp ${cmd.name} --help)`);
  }
  if (parsed.values.help) return 'help';
  const names = positionalNames(cmd);
  const extra = parsed.positionals.slice(names.length);
  if (extra.length > 0) {
    const takes = names.length === 0 ? 'takes no arguments' : `takes only ${names.join(' ')}`;
    throw new UsageError(`${cmd.name} ${takes}; unexpected ${extra.map((a) => JSON.stringify(a)).join(' ')} (see reload-ppsp ${cmd.name} --help)`);
  }
  return { values: parsed.values as ParsedArgs['values'], positionals: parsed.positionals };
}

/** Bounds of an integer flag, both inclusive. */
export interface IntegerRange {
  min: number;
  max: number;
}

/** `text` as an integer within `range`, or a UsageError naming `flag` and what it takes. */
export function parseInteger(text: string, flag: string, { min, max }: IntegerRange): number {
  const n = /^-?\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${flag} must be an integer from ${min} to ${max}, not ${JSON.stringify(text)}`);
  return n;
}

/** The integer flag `--name` within `range`; `fallback` (or undefined) when it is not given. */
export function integerOption(args: ParsedArgs, name: string, range: IntegerRange): number | undefined;
export function integerOption(args: ParsedArgs, name: string, range: IntegerRange, fallback: number): number;
export function integerOption(args: ParsedArgs, name: string, range: IntegerRange, fallback?: number): number | undefined {
  const v = optionalString(args, name);
  return v === undefined ? fallback : parseInteger(v, `--${name}`, range);
}

/** A required string flag, or a UsageError naming it. */
export function requireString(args: ParsedArgs, name: string): string {
  const v = args.values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`missing --${name}`);
  return v;
}

export function optionalString(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function stringList(args: ParsedArgs, name: string): string[] {
  const v = args.values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

/** An output file that exists is replaced only with --force (`get`, `fetch --out`). */
export async function refuseToReplace(path: string, force: boolean): Promise<void> {
  if (!force && (await stat(path).catch(() => undefined))) throw new UsageError(`${path} exists; pass --force to replace it`);
}

/** Prints a result either as JSON (`--json`) or as the given human-readable lines. */
export function printResult(args: ParsedArgs, json: unknown, human: string): void {
  process.stdout.write((args.values.json ? JSON.stringify(json) : human) + '\n');
}
