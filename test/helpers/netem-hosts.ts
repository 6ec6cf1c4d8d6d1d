/**
 * Hosts in network namespaces with delay, jitter and loss between them (scripts/netem-hosts.sh),
 * for tests of the real TLS path over a bad network. Each set has its own prefix, so runs never
 * collide; `down` removes every namespace and the switch, and is safe to call twice.
 */
import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
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

interface Caller {
  child: ChildProcessWithoutNullStreams;
  waiting: Map<number, { resolve: (line: string) => void; reject: (e: Error) => void }>;
}

export class NetemHosts {
  readonly prefix = `rt${process.pid % 100000}-`;

  private readonly callers = new Map<number, Caller>();
  private nextCall = 0;

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
   * One request to an API listening inside host i (its loopback is not ours), made by a small node
   * program that runs in host i for the hosts' life: starting a process per request cost more CPU
   * than the nodes under test. Resolves with the status and the JSON answer.
   */
  async call(i: number, api: string, tokenFile: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    const caller = this.callers.get(i) ?? this.startCaller(i);
    const id = this.nextCall++;
    const answer = new Promise<string>((resolve, reject) => caller.waiting.set(id, { resolve, reject }));
    caller.child.stdin.write(JSON.stringify({ id, api, tokenFile, method, path, body: body === undefined ? '' : JSON.stringify(body) }) + '\n');
    const line = JSON.parse(await answer) as { error?: string; status: number; json: Record<string, unknown> };
    if (line.error !== undefined) throw new Error(`h${i} ${method} ${path}: ${line.error}`);
    return { status: line.status, json: line.json };
  }

  private startCaller(i: number): Caller {
    const program = `
      const fs = require('node:fs');
      require('node:readline').createInterface({ input: process.stdin }).on('line', async (l) => {
        const q = JSON.parse(l);
        const out = (a) => process.stdout.write(JSON.stringify({ id: q.id, ...a }) + '\\n');
        try {
          const token = fs.readFileSync(q.tokenFile, 'utf8').trim();
          const r = await fetch('http://' + q.api + q.path, { method: q.method, headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' }, body: q.body || undefined, signal: AbortSignal.timeout(20000) });
          out({ status: r.status, json: JSON.parse(await r.text()) });
        } catch (e) { out({ error: String(e) }); }
      });`;
    const child = this.spawnIn(i, process.execPath, ['-e', program]);
    const caller: Caller = { child, waiting: new Map() };
    createInterface({ input: child.stdout }).on('line', (l) => {
      const { id } = JSON.parse(l) as { id: number };
      caller.waiting.get(id)?.resolve(l);
      caller.waiting.delete(id);
    });
    child.once('exit', (code) => {
      this.callers.delete(i);
      for (const w of caller.waiting.values()) w.reject(new Error(`the API caller in h${i} exited with ${code}`));
    });
    this.callers.set(i, caller);
    return caller;
  }

  /** Starts a program in host i with piped stdio. */
  spawnIn(i: number, command: string, args: string[]): ChildProcessWithoutNullStreams {
    const [cmd, ...rest] = [...this.launcher(i), command, ...args];
    return spawn(cmd!, rest, { stdio: ['pipe', 'pipe', 'pipe'] });
  }

  async down(): Promise<void> {
    await Promise.all([...this.callers.values()].map(({ child }) => {
      child.stdin.end();
      return once(child, 'exit');
    }));
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
