/**
 * Headless Chromium for tests that need a real browser: Debian's `chromium` (or $CHROMIUM_PATH),
 * driven by playwright-core, which downloads no browser of its own. `withBrowser` always closes it.
 */
import { chromium, type Browser } from 'playwright-core';

const LAUNCH_TIMEOUT_MS = 30_000;

export async function withBrowser<T>(fn: (browser: Browser) => Promise<T>): Promise<T> {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    timeout: LAUNCH_TIMEOUT_MS,
    args: [
      // Root (CI containers) cannot use Chromium's user-namespace sandbox; other users keep it.
      ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
      // A test page plays media without a click.
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  try {
    return await fn(browser);
  } finally {
    await browser.close();
  }
}
