/**
 * `reload-ppsp node --retry-join` as real processes over TLS: a node started before its bootstrap
 * node keeps trying and joins once the bootstrap node is up; without the flag it exits with one
 * line; a SIGTERM while it waits stops it cleanly.
 */
import { expect } from 'chai';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { startNodeProcess, type NodeProcess } from '../../scripts/node-process.js';
import { runCli, startCli, type RunningCli } from '../helpers/cli.js';
import { createOverlayDir, type OverlayDir } from '../helpers/overlay-dir.js';

/** A loopback port that nothing listens on (taken from the system, then let go). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolves once `cli` has written a stderr line matching `pattern`. */
async function stderrLine(cli: RunningCli, pattern: RegExp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(cli.stderr())) {
    if (Date.now() > deadline) throw new Error(`no stderr line matching ${pattern} within ${timeoutMs} ms:\n${cli.stderr()}`);
    if (cli.child.exitCode !== null) throw new Error(`the process exited (${cli.child.exitCode}) before writing ${pattern}:\n${cli.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('CLI: node --retry-join', function () {
  this.timeout(120_000);
  let overlay: OverlayDir;
  const running: { stop(): Promise<unknown> }[] = [];

  before(async () => {
    overlay = await createOverlayDir({ overlay: 'retry.test', names: ['first', 'second', 'third'] });
  });

  after(async () => {
    await Promise.all(running.map((r) => r.stop()));
    await rm(overlay.dir, { recursive: true, force: true });
  });

  const nodeArgs = (name: string, port: number, ...more: string[]) => ['node', '--config', overlay.config, '--identity', join(overlay.dir, name), '--bootstrap', `127.0.0.1:${port}`, ...more];

  it('keeps trying while its bootstrap node is down, and joins once it is up', async () => {
    const port = await freePort();
    const second = startCli(nodeArgs('second', port, '--retry-join'));
    running.push(second);
    await stderrLine(second, /join attempt 1 failed: .*none of the 1 bootstrap nodes could be reached; trying again in \d+\.\d s/, 30_000);
    const first: NodeProcess = await startNodeProcess({ config: overlay.config, identity: join(overlay.dir, 'first'), listen: `127.0.0.1:${port}` });
    running.push(first);
    const [, nodeId, , api] = await second.waitForLine(/^ready ([0-9a-f]{32}) listen=(\S+) api=(\S+)$/, 60_000);
    expect(nodeId).to.equal(overlay.nodeIds.second);
    const status = await runCli(['status', '--api', api!, '--json']);
    expect(status.code, status.stderr).to.equal(0);
    const s = JSON.parse(status.stdout) as { state: string; links: { nodeId: string }[] };
    expect(s.state).to.equal('joined');
    expect(s.links.map((l) => l.nodeId)).to.include(overlay.nodeIds.first);
  });

  it('without the flag, exits 1 with one line when no bootstrap node answers', async () => {
    const r = await runCli(nodeArgs('third', await freePort()));
    expect(r.code).to.equal(1);
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('reload-ppsp:'))).to.deep.equal(['reload-ppsp: Not_Found: none of the 1 bootstrap nodes could be reached']);
  });

  it('stops cleanly with exit code 0 on SIGTERM while it waits to try again', async () => {
    const third = startCli(nodeArgs('third', await freePort(), '--retry-join'));
    running.push(third);
    await stderrLine(third, /join attempt 1 failed/, 30_000);
    expect(await third.stop('SIGTERM', 15_000)).to.equal(0);
    expect(third.stderr()).to.match(/stopped on SIGTERM before the node joined/);
  });
});
