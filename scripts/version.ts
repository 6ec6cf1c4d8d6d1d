/**
 * The version of this package, read at run time from the nearest package.json above this module:
 * scripts/ through tsx, dist/scripts/ once built, and a global install (`npm install -g .`,
 * `npm link`) all find the checkout's or the installed package's own file.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export async function packageVersion(): Promise<string> {
  // Bounded by the path's depth: each step goes one directory up until the root.
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const text = await readFile(join(dir, 'package.json'), 'utf8').catch(() => undefined);
    const version = text === undefined ? undefined : (JSON.parse(text) as { version?: unknown }).version;
    if (typeof version === 'string') return version;
    if (dirname(dir) === dir) throw new Error(`no package.json with a version above ${fileURLToPath(import.meta.url)}`);
  }
}
