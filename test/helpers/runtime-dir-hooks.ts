/**
 * Mocha root hooks (loaded by .mocharc.json for every test run): node processes started by tests
 * write their API runtime records (scripts/api-runtime.ts) into a temporary directory, never into
 * the real home, and the CLI processes and in-process clients of the same run find them there.
 * Spawned processes inherit the environment.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let dir: string | undefined;

export const mochaHooks = {
  beforeAll(): void {
    dir = mkdtempSync(join(tmpdir(), 'reload-runtime-'));
    process.env.RELOAD_PPSP_RUNTIME_DIR = dir;
  },
  afterAll(): void {
    if (dir) rmSync(dir, { recursive: true, force: true });
    delete process.env.RELOAD_PPSP_RUNTIME_DIR;
  },
};
