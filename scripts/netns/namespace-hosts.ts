/**
 * What every lab of hosts in network namespaces has in common (NetemHosts, NatHosts): host i is
 * namespace `${prefix}hI`, made and removed by a script under scripts/ that takes `up ...` and
 * `down` with the prefix in PREFIX; programs run in a host through `ip netns exec`, and an API that
 * listens inside a host is called from inside it. A subclass says where its hosts' addresses are.
 */
import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A shell script of scripts/ by name, found from this file whether it runs as TypeScript
 * (scripts/netns/) or compiled (dist/scripts/netns/): the scripts are not compiled.
 */
export function labScript(name: string): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, 'scripts', name);
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`scripts/${name} not found above ${fileURLToPath(import.meta.url)}`);
}

interface Caller {
  child: ChildProcessWithoutNullStreams;
  waiting: Map<number, { resolve: (line: string) => void; reject: (e: Error) => void }>;
}

export abstract class NamespaceHosts {
  private readonly callers = new Map<number, Caller>();
  private nextCall = 0;

  /** `prefix` names this set's namespaces; `scriptPath` is the script that makes and removes them. */
  protected constructor(
    readonly prefix: string,
    private readonly scriptPath: string,
  ) {}

  /** Host i's own address: what a program in it listens on. */
  abstract address(i: number): string;

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

  /** Ends the API callers, then removes every namespace of this set; safe to call twice. */
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

  /** Runs the set's script with this prefix; a failure's message holds the script's stderr. */
  protected async script(...args: string[]): Promise<void> {
    await run('bash', [this.scriptPath, ...args], { env: { ...process.env, PREFIX: this.prefix }, timeout: 60_000 });
  }
}
