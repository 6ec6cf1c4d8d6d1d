/**
 * The shape of a CLI command and the flag parsing they share. Flags follow the usual conventions
 * (`--name value`, `--name=value`, `--help`, `--json`); a user mistake is a UsageError, printed as
 * one line with exit code 2.
 */
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

export function parseCommandArgs(cmd: Command, argv: string[]): ParsedArgs | 'help' {
  const options: ParseArgsConfig['options'] = { help: { type: 'boolean', short: 'h' } };
  for (const [name, o] of Object.entries(cmd.options)) {
    const { help: _help, valueName: _valueName, ...spec } = o;
    options[name] = spec;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${(e as Error).message.split('\n')[0]} (see reload-ppsp ${cmd.name} --help)`);
  }
  if (parsed.values.help) return 'help';
  return { values: parsed.values as ParsedArgs['values'], positionals: parsed.positionals };
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

/** Prints a result either as JSON (`--json`) or as the given human-readable lines. */
export function printResult(args: ParsedArgs, json: unknown, human: string): void {
  process.stdout.write((args.values.json ? JSON.stringify(json) : human) + '\n');
}
