import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { callApi } from '../../scripts/api-client.js';
import { startNodeProcess, type NodeProcess } from '../../scripts/node-process.js';
import { settleApis } from '../helpers/settle.js';
import { createOverlayDir } from '../helpers/overlay-dir.js';
import { waitForAsync } from '../helpers/wait.js';

const OVERLAY = 'swarm-restart.test';
const FILE_BYTES = 3 * 1024 * 1024 + 517;

interface SwarmSummary {
  swarmId: string;
  role: string;
  path: string;
  complete: boolean;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * A seeder killed with SIGKILL and started again on the same data directory serves its swarm again
 * from the node database, without hashing the file again, to a leecher that never saw it before.
 */
describe('a seeded swarm survives a crash of its seeder: reload-ppsp node processes', function () {
  this.timeout(90_000);
  let dir: string;
  let config: string;
  const running: NodeProcess[] = [];
  const start = async (name: string, bootstrap: string[], log?: string[]) => {
    const n = await startNodeProcess({ config, identity: join(dir, name), bootstrap, onLog: log ? (line) => log.push(line) : undefined });
    running.push(n);
    return n;
  };

  before(async () => {
    ({ dir, config } = await createOverlayDir({ overlay: OVERLAY, names: ['seeder', 'leecher'] }));
  });

  after(async () => {
    await Promise.all(running.map((n) => n.stop()));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('is listed and served again after the restart, unhashed, and a new leecher gets it byte-identical', async () => {
    const content = randomBytes(FILE_BYTES);
    const source = join(dir, 'movie.bin');
    await writeFile(source, content);

    const first = await start('seeder', []);
    const seeded = (await callApi(first.api, 'POST', '/swarms', { path: source })) as { swarmId: string };
    first.child.kill('SIGKILL');
    await new Promise((resolve) => first.child.once('exit', resolve));
    running.splice(running.indexOf(first), 1);

    const log: string[] = [];
    const seeder = await start('seeder', [], log);
    const { swarms } = (await callApi(seeder.api, 'GET', '/swarms')) as { swarms: SwarmSummary[] };
    expect(swarms.map((s) => [s.swarmId, s.role, s.path, s.complete])).to.deep.equal([[seeded.swarmId, 'seed', source, true]]);
    // The record's size, mtime and inode matched the file: its leaf hashes came from the database.
    expect(log.some((l) => l.includes(`serving swarm ${seeded.swarmId}`) && l.includes('unchanged since it was hashed')), log.join('\n')).to.equal(true);

    const leecher = await start('leecher', [seeder.listen]);
    await settleApis([seeder.api, leecher.api], 3);
    const out = join(dir, 'copy.bin');
    await callApi(leecher.api, 'POST', `/swarms/${seeded.swarmId}/download`, { out });
    const written = async () => {
      const s = (await callApi(leecher.api, 'GET', `/swarms/${seeded.swarmId}`)) as { outputs: { path: string; written: boolean }[] };
      return s.outputs.some((o) => o.path === out && o.written);
    };
    await waitForAsync(written, 60_000, 'the download from the restarted seeder');
    expect(sha256(await readFile(out))).to.equal(sha256(content));
  });
});
