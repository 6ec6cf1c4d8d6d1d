/**
 * The V8 flags a node runs with are written twice: in NODE_V8_FLAGS for the processes we spawn and
 * on the CLI's `#!` line for users who run `reload-ppsp` directly. They must not drift apart.
 */
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { cliCommand, NODE_V8_FLAGS } from '../../scripts/node-process.js';

describe('node V8 flags', () => {
  it('the CLI #! line and spawned node processes use the same flags', async () => {
    const shebang = (await readFile(new URL('../../scripts/cli.ts', import.meta.url), 'utf8')).split('\n')[0];
    expect(shebang).to.equal(`#!/usr/bin/env -S node ${NODE_V8_FLAGS.join(' ')}`);
    expect(cliCommand().args.slice(0, NODE_V8_FLAGS.length)).to.deep.equal(NODE_V8_FLAGS);
  });
});
