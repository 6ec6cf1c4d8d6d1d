/**
 * Runs the real `reload-ppsp` CLI as a child process from the repository root (the compiled CLI
 * that test/helpers/compiled-cli-hooks.ts checked is current, as cliCommand runs it), for
 * acceptance tests of commands, exit codes and output. Every wait is
 * bounded; a child that outlives its bound is killed and the test fails with its output so far.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { cliCommand } from '../../scripts/node-process.js';

/** The repository root, where `scripts/cli.ts` lives. */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Default bound for one CLI run or one wait, ms (tsx start-up plus RSA key generation). */
export const DEFAULT_CLI_TIMEOUT_MS = 15_000;

export interface CliResult {
  /** Exit code; null when the child was ended by a signal. */
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  timeoutMs?: number;
  /** Variables set (or, when undefined, removed) on top of this process's environment. */
  env?: NodeJS.ProcessEnv;
}

function spawnCli(args: readonly string[], cwd = REPO_ROOT, env: NodeJS.ProcessEnv = {}): ChildProcess {
  const { command, args: cliArgs } = cliCommand();
  return spawn(command, [...cliArgs, ...args], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Stack traces only with RELOAD_DEBUG: make sure the tests see what users see.
    env: Object.fromEntries(Object.entries({ ...process.env, RELOAD_DEBUG: '', ...env }).filter(([, v]) => v !== undefined)),
  });
}

/** Runs the CLI to completion. */
export function runCli(args: readonly string[], { cwd, timeoutMs = DEFAULT_CLI_TIMEOUT_MS, env }: CliOptions = {}): Promise<CliResult> {
  const cli = startCli(args, { cwd, env });
  return cli.exited(timeoutMs).then((code) => ({ code, stdout: cli.stdout(), stderr: cli.stderr() }));
}

/**
 * Runs the CLI once per argument list, as many at once as the machine has cores: each run is a tsx
 * start-up, and a dozen at once on two cores can outlast the timeout. Results in the given order.
 */
export async function runCliEach(argvs: readonly (readonly string[])[], opts: CliOptions = {}): Promise<CliResult[]> {
  const atOnce = availableParallelism();
  const results: CliResult[] = [];
  for (let i = 0; i < argvs.length; i += atOnce) results.push(...(await Promise.all(argvs.slice(i, i + atOnce).map((args) => runCli(args, opts)))));
  return results;
}

/** A CLI process left running (a server), with bounded waits on its output and exit. */
export interface RunningCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first complete stdout line matching `pattern` (past or future). */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code once the process has ended; kills it with SIGKILL after `timeoutMs`. */
  exited(timeoutMs?: number): Promise<number | null>;
  /** Sends `signal` (default SIGTERM) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
}

/** Starts the CLI and returns at once. */
export function startCli(args: readonly string[], { cwd, env }: Pick<CliOptions, 'cwd' | 'env'> = {}): RunningCli {
  const child = spawnCli(args, cwd, env);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exit = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const describe = () => `\`reload-ppsp ${args.join(' ')}\`\nstdout: ${out}\nstderr: ${err}`;

  /** Rejects after `ms` unless `p` settles first, killing the child so that nothing is left behind. */
  function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${what} within ${ms} ms: ${describe()}`));
      }, ms);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }

  const running: RunningCli = {
    child,
    stdout: () => out,
    stderr: () => err,
    waitForLine(pattern, timeoutMs = DEFAULT_CLI_TIMEOUT_MS) {
      const found = new Promise<RegExpMatchArray>((resolve, reject) => {
        const check = () => {
          const lines = out.split('\n');
          lines.pop(); // not a whole line yet
          for (const line of lines) {
            const m = line.match(pattern);
            if (m) {
              child.stdout!.off('data', check);
              resolve(m);
              return;
            }
          }
        };
        child.stdout!.on('data', check);
        exit.then(() => reject(new Error(`the process ended before printing ${pattern}: ${describe()}`)));
        check();
      });
      return bounded(found, timeoutMs, `no line matching ${pattern}`);
    },
    exited: (timeoutMs = DEFAULT_CLI_TIMEOUT_MS) => bounded(exit, timeoutMs, 'the process did not exit'),
    stop(signal = 'SIGTERM', timeoutMs = DEFAULT_CLI_TIMEOUT_MS) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return running.exited(timeoutMs);
    },
  };
  return running;
}

/** A TCP port that was free a moment ago on 127.0.0.1, for a child process to listen on. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
