/**
 * Mocha root hook (loaded by .mocharc.json): the CLI processes the tests spawn run the compiled
 * CLI in dist/ rather than the sources through tsx, a second less per process (hundreds of them).
 * So that they never run stale code, dist/ is rebuilt first when any source is newer than it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { COMPILED_CLI_ENV } from '../../scripts/node-process.js';
import { REPO_ROOT } from './cli.js';

const SOURCE_DIRS = ['certs', 'overlay', 'usages', 'scripts'];
const COMPILED_CLI = join(REPO_ROOT, 'dist', 'scripts', 'cli.js');

/** The newest modification time of a file under `dir`, ms. */
function newestUnder(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestUnder(path) : statSync(path).mtimeMs);
  }
  return newest;
}

export const mochaHooks = {
  beforeAll(): void {
    const sources = Math.max(...SOURCE_DIRS.map((d) => newestUnder(join(REPO_ROOT, d))), statSync(join(REPO_ROOT, 'tsconfig.json')).mtimeMs);
    if (!existsSync(COMPILED_CLI) || statSync(COMPILED_CLI).mtimeMs < sources) {
      execFileSync(process.execPath, [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', REPO_ROOT], { stdio: 'inherit' });
    }
    process.env[COMPILED_CLI_ENV] = COMPILED_CLI;
  },
};
