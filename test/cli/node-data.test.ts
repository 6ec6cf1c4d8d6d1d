import { expect } from 'chai';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NODE_DB_FILE, NodeDatabase } from '../../overlay/persist/node-database.js';
import { startNodeProcess, type NodeProcess } from '../../scripts/node-process.js';
import { runCli, type CliResult } from '../helpers/cli.js';

/** `reload-ppsp node` refuses a data directory whose database it cannot use, in one line, exit 1. */
describe('CLI: node with an unusable data directory', function () {
  this.timeout(60_000);
  let dir: string;
  let config: string;
  let running: NodeProcess | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reload-cli-data-'));
    const init = await runCli(['ca', 'init', '--dir', join(dir, 'ca'), '--overlay', 'data.test']);
    expect(init.code, init.stderr).to.equal(0);
    config = join(dir, 'ca', 'overlay.json');
    const enrolled = await Promise.all(['n1', 'n2'].map((n) => runCli(['enroll', '--ca', join(dir, 'ca'), '--user', `${n}@data.test`, '--out', join(dir, n)])));
    for (const r of enrolled) expect(r.code, r.stderr).to.equal(0);
  });

  after(async () => {
    await running?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const node = (identity: string, data: string) => runCli(['node', '--config', config, '--identity', join(dir, identity), '--data', data]);
  function expectRefused(r: CliResult, message: RegExp): void {
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stdout).to.equal('');
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('reload-ppsp:')), r.stderr).to.have.length(1);
    expect(r.stderr).to.match(message);
    expect(r.stderr).not.to.match(/\n\s+at /);
  }

  it('a damaged node.db', async () => {
    const data = join(dir, 'damaged');
    await mkdir(data);
    await writeFile(join(data, NODE_DB_FILE), Buffer.alloc(4096, 0x42));
    expectRefused(await node('n1', data), /node\.db is damaged \(file is not a database\); move it away to start with an empty store/);
  });

  it('a node.db written by a newer version', async () => {
    const data = join(dir, 'newer');
    await mkdir(data);
    const db = NodeDatabase.open(join(data, NODE_DB_FILE));
    db.sqlite.prepare("INSERT INTO schema_versions (part, version) VALUES ('storage', 99)").run();
    db.close();
    expectRefused(await node('n1', data), /holds storage tables of schema version 99; this reload-ppsp reads up to 1: it was written by a newer version/);
  });

  it('a data directory another node process is using', async () => {
    const data = join(dir, 'shared');
    running = await startNodeProcess({ config, identity: join(dir, 'n1'), data });
    expectRefused(await node('n2', data), /node\.db is in use by another node process/);
  });
});
