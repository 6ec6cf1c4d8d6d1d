/**
 * The page link as a user gets it, from real processes: `reload-ppsp status` prints
 * `page http://HOST:PORT/#token=...` (the node prints it at start only on a terminal: it holds the
 * token), and that link opened in headless Chromium shows the node and a swarm seeded with
 * `reload-ppsp seed`.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNodeProcess, type NodeProcess } from '../../../../scripts/node-process.js';
import { withBrowser } from '../../../helpers/browser.js';
import { runCli } from '../../../helpers/cli.js';

describe('the page link printed by reload-ppsp node and status', function () {
  this.timeout(120_000);
  let dir: string;
  let node: NodeProcess | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ppsp-page-link-'));
    const init = await runCli(['ca', 'init', '--dir', join(dir, 'ca'), '--overlay', 'page.test']);
    expect(init.code, init.stderr).to.equal(0);
    const enroll = await runCli(['enroll', '--ca', join(dir, 'ca'), '--user', 'viewer@page.test', '--out', join(dir, 'n1')]);
    expect(enroll.code, enroll.stderr).to.equal(0);
    node = await startNodeProcess({ config: join(dir, 'ca', 'overlay.json'), identity: join(dir, 'n1') });
  });

  after(async () => {
    await node?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('status prints the link (the node prints it only on a terminal), and it opens the page with the node and its swarm', async () => {
    // The node's output is a pipe here, as under a service manager: the link, which holds the token, is not printed.
    expect(node!.page, 'no "page:" line when stdout is not a terminal').to.equal(undefined);

    const status = await runCli(['status', '--api', node!.api]);
    expect(status.code, status.stderr).to.equal(0);
    const link = /^page\s+(\S+)$/m.exec(status.stdout)?.[1];
    expect(link).to.match(new RegExp(`^http://${node!.api.replace(/[.[\]]/g, '\\$&')}/#token=[A-Za-z0-9._~-]+$`));

    const file = join(dir, 'notes.bin');
    await writeFile(file, randomBytes(50_000));
    const seed = await runCli(['seed', file, '--api', node!.api]);
    expect(seed.code, seed.stderr).to.equal(0);
    const swarmId = seed.stdout.trim();

    await withBrowser(async (browser) => {
      const page = await browser.newPage();
      await page.goto(link!);
      await page.waitForSelector(`tr[data-swarm="${swarmId}"]`, { timeout: 30_000 });
      expect(page.url(), 'the token left the address bar').to.equal(`http://${node!.api}/`);
      expect(await page.textContent('#node')).to.include(node!.nodeId);
      expect(await page.textContent(`tr[data-swarm="${swarmId}"]`)).to.include('100.0 %');
    });
  });
});
