#!/usr/bin/env -S node --initial-old-space-size=128
/**
 * The `reload-ppsp` command line. Each command lives in scripts/commands/; this file only finds
 * the command, parses its flags and turns errors into one line and an exit code.
 */
import { helpText, parseCommandArgs, UsageError, type Command } from './command.js';
import { COMMANDS } from './commands/index.js';
import { errorMessage } from './errors.js';
import { packageVersion } from './version.js';
import { closestName } from '../overlay/util/closest-name.js';

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: reload-ppsp <command> [options]',
    '',
    'A RELOAD (RFC 6940) peer-to-peer overlay with certificate identities and a PPSP streaming usage.',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `reload-ppsp <command> --help` for the options of a command, `reload-ppsp --version` (-V) for the version.',
  ].join('\n');
}

/**
 * The command a user meant but we do not have: its first word, or its first two when the first
 * names a group of commands (`ca`); what follows is arguments, not part of the name.
 */
function unknownCommand(argv: string[]): UsageError {
  const names = COMMANDS.map((c) => c.name);
  const name = names.some((n) => n.startsWith(`${argv[0]} `)) ? argv.slice(0, 2).join(' ') : argv[0]!;
  const near = closestName(name, names);
  return new UsageError(`unknown command "${name}"${near ? ` (did you mean "${near}"?)` : ''} (see reload-ppsp --help)`);
}

/** Matches the longest command name ("ca init" before "ca"). */
function findCommand(argv: string[]): { cmd: Command; rest: string[] } | undefined {
  for (const words of [2, 1]) {
    const name = argv.slice(0, words).join(' ');
    const cmd = COMMANDS.find((c) => c.name === name);
    if (cmd) return { cmd, rest: argv.slice(words) };
  }
  return undefined;
}

async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(mainHelp() + '\n');
    return argv.length === 0 ? 2 : 0;
  }
  if (argv[0] === '--version' || argv[0] === '-V') {
    process.stdout.write(`${await packageVersion()}\n`);
    return 0;
  }
  const found = findCommand(argv);
  if (!found) throw unknownCommand(argv);
  const parsed = parseCommandArgs(found.cmd, found.rest);
  if (parsed === 'help') {
    process.stdout.write(helpText(found.cmd) + '\n');
    return 0;
  }
  return found.cmd.run(parsed);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`reload-ppsp: ${errorMessage(e)}\n`);
    process.exitCode = e instanceof UsageError ? 2 : 1;
  },
);
