import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { withBrowser } from './browser.js';

/** Live (not zombie) child processes of this test process that run Chromium. */
function chromiumChildren(): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (Number(ppid) === process.pid && state !== 'Z' && cmdline.includes('chromium')) found.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

describe('test helpers: withBrowser', function () {
  this.timeout(60_000);

  it('ends a session that outlives its bound with an error, and no Chromium is left running', async () => {
    let during: number[] = [];
    const outcome = await withBrowser(async () => {
      during = chromiumChildren();
      await new Promise(() => undefined); // a test that hangs
    }, 3_000).then(
      () => 'returned',
      (e: Error) => e.message,
    );
    expect(during, 'Chromium ran during the session').to.have.length.greaterThan(0);
    expect(outcome).to.match(/took more than 3000 ms; Chromium was killed/);
    expect(chromiumChildren()).to.deep.equal([]);
  });

  it('returns what the session returns and closes the browser', async () => {
    const title = await withBrowser(async (browser) => {
      const page = await browser.newPage();
      await page.setContent('<title>hello</title>');
      return page.title();
    });
    expect(title).to.equal('hello');
    expect(chromiumChildren()).to.deep.equal([]);
  });
});
