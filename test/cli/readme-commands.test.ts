/**
 * The README's command table and the CLI agree: every flag a row shows exists on that command,
 * and every flag of every command is in its row. (The table once showed `route --hash ALG`, a
 * flag route never had.)
 */
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { COMMANDS } from '../../scripts/commands/index.js';
import { REPO_ROOT } from '../helpers/cli.js';

describe('README command table', () => {
  it('shows exactly the flags each command has', async () => {
    const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('### Commands'), readme.indexOf('### The node API'));
    const rows = [...table.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!.replace(/\\\|/g, '|'));
    const documented = new Map<string, Set<string>>();
    for (const row of rows) {
      if (row.startsWith('--')) continue; // reload-ppsp's own flags (--version)
      const cmd = COMMANDS.filter((c) => row === c.name || row.startsWith(`${c.name} `)).sort((a, b) => b.name.length - a.name.length)[0];
      expect(cmd, `a row for no command: ${row}`).to.not.equal(undefined);
      // A command may have several rows (get: by swarm ID, and from a PPSPP peer): their flags add up.
      documented.set(cmd!.name, new Set([...(documented.get(cmd!.name) ?? []), ...(row.match(/--[a-z][a-z-]*/g) ?? [])]));
    }
    for (const cmd of COMMANDS) {
      const flags = documented.get(cmd.name);
      expect(flags, `${cmd.name} has no row`).to.not.equal(undefined);
      const real = Object.keys(cmd.options).map((o) => `--${o}`);
      expect([...flags!].filter((f) => !real.includes(f)), `flags the README shows but ${cmd.name} lacks`).to.deep.equal([]);
      expect(real.filter((f) => !flags!.has(f)), `flags of ${cmd.name} missing from its README row`).to.deep.equal([]);
    }
  });
});
