/**
 * Starts `reload-ppsp node` as a child process and waits for its `ready` line. Used by the demo,
 * the benchmarks and the multi-process tests, so that they run real processes the way users do.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { dirname, extname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface NodeProcessOptions {
  config: string;
  identity: string;
  listen?: string;
  api?: string;
  bootstrap?: string[];
  /** The data directory (--data); default the node's own, NODEDIR/data. */
  data?: string;
  /** More flags of `reload-ppsp node` (e.g. --upload-limit 200k). */
  extraArgs?: string[];
  /** Gets every stderr line (logs); default: dropped. */
  onLog?: (line: string) => void;
  /** How long to wait for `ready`, ms. */
  readyTimeoutMs?: number;
  /** A command the node runs under, e.g. `ip netns exec NS` to run it in a network namespace. */
  launcher?: string[];
}

export interface NodeProcess {
  nodeId: string;
  listen: string;
  api: string;
  /** The page link the node printed before "ready" (with its API token), if it printed one. */
  page?: string;
  child: ChildProcess;
  /** SIGTERM, then wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** A node process that did not come up; its message quotes the node's last log lines. */
export class NodeProcessError extends Error {
  override name = 'NodeProcessError';
}

const READY = /^ready ([0-9a-f]{32}) listen=(\S+) api=(\S+)$/;
const PAGE = /^page: (\S+)$/;

/**
 * V8 flags a node process runs with (also on the CLI's `#!` line; a test keeps the two alike).
 * A node moving hundreds of MB/s of chunk buffers holds a small heap (~15 MB) but allocates
 * buffers fast, and with V8's default small initial old generation that set off a full
 * mark-compact every ~40 ms, with concurrent marking competing for the cores: about half a
 * downloader's CPU. 128 MB of initial old generation (reserved, not committed) removes them:
 * `npm run bench -- swarm` went from about 220 to 320 MB/s from one seeder, RSS unchanged.
 */
export const NODE_V8_FLAGS = ['--initial-old-space-size=128'];

/**
 * Names a compiled CLI (`dist/scripts/cli.js`) for cliCommand to run when this file runs from the
 * TypeScript sources: the test run sets it once it has checked that dist/ is current, and so saves
 * each spawned process a second of tsx start-up.
 */
export const COMPILED_CLI_ENV = 'RELOAD_PPSP_COMPILED_CLI';

/**
 * The command that runs our CLI: the compiled JavaScript beside this file, or when running from
 * the sources, the compiled CLI COMPILED_CLI_ENV names, else the TypeScript through tsx.
 */
export function cliCommand(): { command: string; args: string[] } {
  const here = fileURLToPath(import.meta.url);
  const ext = extname(here);
  const compiled = ext === '.ts' ? process.env[COMPILED_CLI_ENV] : join(dirname(here), 'cli.js');
  return { command: process.execPath, args: [...NODE_V8_FLAGS, ...(compiled ? [compiled] : ['--import', 'tsx', join(dirname(here), 'cli.ts')])] };
}

export async function startNodeProcess(opts: NodeProcessOptions): Promise<NodeProcess> {
  const { command, args } = cliCommand();
  const argv = [...args, 'node', '--config', opts.config, '--identity', opts.identity, '--listen', opts.listen ?? '127.0.0.1:0', '--api', opts.api ?? '127.0.0.1:0'];
  for (const b of opts.bootstrap ?? []) argv.push('--bootstrap', b);
  if (opts.data) argv.push('--data', opts.data);
  argv.push(...(opts.extraArgs ?? []));
  const [program, ...programArgs] = [...(opts.launcher ?? []), command, ...argv];
  const child = spawn(program!, programArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    stderr.push(line);
    if (stderr.length > 20) stderr.shift();
    opts.onLog?.(line);
  });
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const [code] = await exited;
    return code;
  };
  let page: string | undefined;
  const ready = new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new NodeProcessError(`node did not print "ready" within ${opts.readyTimeoutMs ?? 30_000} ms`)), opts.readyTimeoutMs ?? 30_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      page = PAGE.exec(line)?.[1] ?? page;
      const m = READY.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    void exited.then(([code]) => {
      clearTimeout(timer);
      reject(new NodeProcessError(`node exited with code ${code} before it was ready: ${stderr.slice(-3).join(' | ')}`));
    });
  });
  try {
    const m = await ready;
    return { nodeId: m[1]!, listen: m[2]!, api: m[3]!, page, child, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
