/**
 * Hosts in network namespaces with delay, jitter and loss between them (scripts/netem-hosts.sh),
 * for tests of the real TLS path over a bad network. Each set has its own prefix, so runs never
 * collide; `down` removes every namespace and the switch, and is safe to call twice.
 */
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './cli.js';

const run = promisify(execFile);
const SCRIPT = join(REPO_ROOT, 'scripts', 'netem-hosts.sh');

export interface NetemOptions {
  delayMs: number;
  jitterMs: number;
  lossPercent: number;
}

export class NetemHosts {
  readonly prefix = `rt${process.pid % 100000}-`;

  private constructor(readonly count: number) {}

  static async up(count: number, o: NetemOptions): Promise<NetemHosts> {
    const hosts = new NetemHosts(count);
    await hosts.script('up', String(count), '--delay', String(o.delayMs), '--jitter', String(o.jitterMs), '--loss', String(o.lossPercent));
    return hosts;
  }

  /** Host i's address. */
  address(i: number): string {
    return `198.18.0.${10 + i}`;
  }

  /** The command prefix that runs a program in host i. */
  launcher(i: number): string[] {
    return ['ip', 'netns', 'exec', `${this.prefix}h${i}`];
  }

  /**
   * One request to an API listening inside host i (its loopback is not ours): run there by a short
   * node program; resolves with the status and the JSON answer.
   */
  async call(i: number, api: string, tokenFile: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    const program = `
      const [api, tokenFile, method, path, body] = process.argv.slice(1);
      const token = require('node:fs').readFileSync(tokenFile, 'utf8').trim();
      fetch('http://' + api + path, { method, headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' }, body: body || undefined, signal: AbortSignal.timeout(20000) })
        .then(async (r) => process.stdout.write(JSON.stringify({ status: r.status, json: JSON.parse(await r.text()) })))
        .catch((e) => { process.stderr.write(String(e)); process.exit(1); });`;
    const [cmd, ...args] = [...this.launcher(i), process.execPath, '-e', program, api, tokenFile, method, path, body === undefined ? '' : JSON.stringify(body)];
    const { stdout } = await run(cmd!, args, { timeout: 30_000 });
    return JSON.parse(stdout) as { status: number; json: Record<string, unknown> };
  }

  /** Starts a program in host i with piped stdio. */
  spawnIn(i: number, command: string, args: string[]) {
    const [cmd, ...rest] = [...this.launcher(i), command, ...args];
    return spawn(cmd!, rest, { stdio: ['pipe', 'pipe', 'pipe'] });
  }

  async down(): Promise<void> {
    await this.script('down');
  }

  /** Namespaces of this set that exist now. */
  async namespaces(): Promise<string[]> {
    const { stdout } = await run('ip', ['netns', 'list']);
    return stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(this.prefix));
  }

  private async script(...args: string[]): Promise<void> {
    await run('bash', [SCRIPT, ...args], { env: { ...process.env, PREFIX: this.prefix }, timeout: 60_000 });
  }
}
