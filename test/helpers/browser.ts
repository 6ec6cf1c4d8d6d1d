/**
 * Headless Chromium for tests that need a real browser: Debian's `chromium` (or $CHROMIUM_PATH),
 * driven by playwright-core, which downloads no browser of its own. The browser runs as a server
 * process we hold, so that `withBrowser` can kill it outright when a test hangs or a close stalls:
 * no Chromium outlives its test.
 */
import { chromium, type Browser } from 'playwright-core';

const LAUNCH_TIMEOUT_MS = 30_000;
/** A whole browser session, unless the caller says otherwise; beyond it the browser is killed. */
const SESSION_TIMEOUT_MS = 90_000;
/** A graceful close that takes longer than this ends in a kill. */
const CLOSE_TIMEOUT_MS = 5_000;

const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Waits for `work` to settle, at most `ms`; true if it settled in time. Rejections count as settled. */
async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(resolve, ms, false)));
  try {
    return await Promise.race([work.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `fn` with a fresh headless Chromium and always ends that browser, killing it if it must. */
export async function withBrowser<T>(fn: (browser: Browser) => Promise<T>, timeoutMs = SESSION_TIMEOUT_MS): Promise<T> {
  const server = await chromium.launchServer({
    executablePath: CHROMIUM_PATH,
    headless: true,
    timeout: LAUNCH_TIMEOUT_MS,
    args: [
      // Chromium's sandbox needs unprivileged user namespaces, which a root process in a container
      // (CI) is refused, and Chromium will not start as root with it anyway; other users keep it.
      ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
      // A test page plays media without a click.
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  try {
    const browser = await chromium.connect(server.wsEndpoint(), { timeout: LAUNCH_TIMEOUT_MS });
    try {
      const session = fn(browser);
      if (await settlesWithin(session, timeoutMs)) return await session;
      // Still running: the kill below makes its pending browser calls fail; nobody waits for them.
      session.catch(() => undefined);
      throw new Error(`the browser session took more than ${timeoutMs} ms; Chromium was killed`);
    } finally {
      await settlesWithin(browser.close(), CLOSE_TIMEOUT_MS);
    }
  } finally {
    // A graceful close first; a browser that does not go in time is killed (a no-op once it has exited).
    await settlesWithin(server.close(), CLOSE_TIMEOUT_MS);
    await server.kill();
  }
}
