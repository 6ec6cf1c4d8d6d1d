/**
 * The page for people at `/`, in headless Chromium against a node API over real HTTP: without the
 * token it shows how to get the link and no data; with the link it takes the token out of the
 * address bar, lists a seeded swarm at 100 % with the node's ID, and plays it in its <video>.
 * A page of another origin still cannot read the API.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApi, type ApiServer } from '../../../../overlay/api/http-api.js';
import { ppspApi } from '../../../../usages/ppsp/ppsp-api.js';
import { PpspUsage } from '../../../../usages/ppsp/ppsp-usage.js';
import { withBrowser } from '../../../helpers/browser.js';
import { httpRequest } from '../../../helpers/http.js';
import { makeMp4 } from '../../../helpers/media.js';
import { startTestnet, type Testnet } from '../../../helpers/testnet.js';

async function writeSmallFile(dir: string, name: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, randomBytes(40_000));
  return path;
}

/** The page's document, typed by hand: the tests are compiled without the DOM's types. */
type PageGlobal = {
  document: { getElementById(id: string): { currentTime: number; error: unknown } };
  sessionStorage: { length: number };
};
/** An element handle's node, typed by hand as above. */
type Attached = { isConnected: boolean };

const PROPS = { accessType: 'fixed' as const, upKbps: 10_000, downKbps: 10_000, nat: 'unknown' as const, uptimeSec: 0 };
const TOKEN = randomBytes(32).toString('hex');

describe('the page for people at /', function () {
  this.timeout(120_000);
  let net: Testnet;
  let dir: string;
  let api: ApiServer;
  let foreign: Server;
  let swarmId: string;
  const usages: PpspUsage[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ppsp-page-'));
    net = await startTestnet(1, {
      beforeStart: (node, i) => {
        usages[i] = new PpspUsage({ properties: PROPS });
        usages[i]!.attach(node);
      },
    });
    for (const u of usages) await u.start();
    api = await startApi(net.nodes[0]!, { host: '127.0.0.1', port: 0, token: TOKEN }, [ppspApi(usages[0]!)]);
    swarmId = (await usages[0]!.seed(await makeMp4(dir, 8, 'holiday.mp4'))).swarmId;
    foreign = createServer((_req, res) => res.end('<!doctype html><title>elsewhere</title>'));
    await new Promise<void>((resolve) => foreign.listen(0, '127.0.0.1', resolve));
  });

  after(async () => {
    await new Promise((resolve) => foreign?.close(resolve));
    await api?.close();
    for (const u of usages) await u.stop();
    await net?.stopAll();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('is served without a token, holds no data, and sends a nonce-based Content-Security-Policy', async () => {
    const r = await httpRequest(`http://${api.address}`, '/');
    expect(r.status).to.equal(200);
    expect(r.headers['content-type']).to.equal('text/html; charset=utf-8');
    expect(r.headers['content-security-policy']).to.match(/default-src 'none'; script-src 'nonce-[A-Za-z0-9+/=]+'/);
    expect(r.text).not.to.include(net.nodes[0]!.nodeIdHex);
    expect(r.text).not.to.include(swarmId);
  });

  it('without the token shows how to get the link; with it, lists the node and the swarm, drops the token from the address bar, and plays the swarm', async () => {
    await withBrowser(async (browser) => {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => (m.type() === 'error' ? errors.push(m.text()) : undefined));

      await page.goto(`http://${api.address}/`);
      expect(await page.isVisible('#login')).to.equal(true);
      expect(await page.isVisible('#app')).to.equal(false);
      expect(await page.textContent('#login')).to.include(`reload-ppsp status --api ${api.address}`);

      // A new load, not a same-document fragment change.
      await page.goto('about:blank');
      await page.goto(`http://${api.address}/#token=${TOKEN}`);
      await page.waitForSelector(`tr[data-swarm="${swarmId}"]`, { timeout: 30_000 });
      expect(page.url(), 'the token left the address bar').to.equal(`http://${api.address}/`);
      expect(await page.textContent('#node')).to.include(net.nodes[0]!.nodeIdHex);
      const row = (await page.textContent(`tr[data-swarm="${swarmId}"]`))!;
      expect(row).to.include('holiday.mp4');
      expect(row).to.include('seed');
      expect(row).to.include('100.0 %');

      // A reload has no fragment: the token kept in sessionStorage serves it.
      await page.reload();
      await page.waitForSelector(`tr[data-swarm="${swarmId}"]`, { timeout: 30_000 });
      expect(await page.isVisible('#login')).to.equal(false);

      // A refresh that brings a new swarm keeps the rows already shown (and their Play buttons).
      const button = await page.$(`tr[data-swarm="${swarmId}"] button`);
      const second = (await usages[0]!.seed(await writeSmallFile(dir, 'notes.txt'))).swarmId;
      await page.waitForSelector(`tr[data-swarm="${second}"]`, { timeout: 30_000 });
      expect(await button!.evaluate((b) => (b as unknown as Attached).isConnected), 'the first Play button is still in the page').to.equal(true);

      await button!.click();
      // Functions, not strings: the page's CSP forbids eval, which string predicates need.
      await page.waitForFunction(() => (globalThis as unknown as PageGlobal).document.getElementById('player').currentTime > 2, undefined, { timeout: 30_000 });
      expect(await page.evaluate(() => (globalThis as unknown as PageGlobal).document.getElementById('player').error)).to.equal(null);
      expect(await page.textContent('#error')).to.equal('');
      expect(errors, 'script errors and CSP violations').to.deep.equal([]);
    });
  });

  it('forgets a token the node refuses (a link from before a restart) and shows the how-to, saying why', async () => {
    await withBrowser(async (browser) => {
      const page = await browser.newPage();
      await page.goto(`http://${api.address}/#token=${randomBytes(32).toString('hex')}`);
      await page.waitForSelector('#login', { state: 'visible', timeout: 30_000 });
      expect(await page.isVisible('#app')).to.equal(false);
      expect(await page.textContent('#login')).to.match(/refused this page's token.*reload-ppsp status --api/);
      expect(await page.evaluate(() => (globalThis as unknown as PageGlobal).sessionStorage.length)).to.equal(0);
    });
  });

  it('a page of another origin cannot read the API, even knowing the token', async () => {
    await withBrowser(async (browser) => {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${(foreign.address() as AddressInfo).port}/`);
      const outcome = await page.evaluate(
        `fetch('http://${api.address}/status', { headers: { authorization: 'Bearer ${TOKEN}' } }).then((r) => 'read ' + r.status, (e) => 'blocked: ' + e.message)`,
      );
      expect(outcome).to.match(/^blocked/);
    });
  });
});
