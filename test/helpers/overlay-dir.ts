/**
 * A new overlay in a temporary folder, made with the CLI as a user would: `ca init`, a patch of
 * the configuration document (e.g. faster Chord timers), and `enroll` for each named node, whose
 * identity goes to `<dir>/<name>`. The caller removes `dir`.
 */
import { expect } from 'chai';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, runCliEach } from './cli.js';

export interface OverlayDir {
  dir: string;
  /** The overlay configuration document (overlay.json). */
  config: string;
  /** Node-ID of each enrolled node, by name, as the CA issued it. */
  nodeIds: Record<string, string>;
}

export async function createOverlayDir(opts: { overlay: string; names: string[]; patch?: (doc: Record<string, unknown>) => void }): Promise<OverlayDir> {
  const dir = await mkdtemp(join(tmpdir(), `reload-${opts.overlay.split('.')[0]}-`));
  const init = await runCli(['ca', 'init', '--dir', join(dir, 'ca'), '--overlay', opts.overlay]);
  expect(init.code, init.stderr).to.equal(0);
  const config = join(dir, 'ca', 'overlay.json');
  if (opts.patch) {
    const doc = JSON.parse(await readFile(config, 'utf8')) as Record<string, unknown>;
    opts.patch(doc);
    await writeFile(config, JSON.stringify(doc));
  }
  const nodeIds: Record<string, string> = {};
  const enrolled = await runCliEach(
    opts.names.map((name) => ['enroll', '--ca', join(dir, 'ca'), '--user', `${name}@${opts.overlay}`, '--out', join(dir, name), '--json']),
    { timeoutMs: 60_000 },
  );
  opts.names.forEach((name, i) => {
    const r = enrolled[i]!;
    expect(r.code, r.stderr).to.equal(0);
    nodeIds[name] = (JSON.parse(r.stdout) as { nodeId: string }).nodeId;
  });
  return { dir, config, nodeIds };
}
