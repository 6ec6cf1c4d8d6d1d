import { expect } from 'chai';
import { runCli } from '../helpers/cli.js';

describe('CLI: demo (the quick start)', function () {
  this.timeout(180_000);

  it('runs a ring of real node processes, stores, streams a file to every node and checks it all: "demo ok", exit 0', async () => {
    const r = await runCli(['demo', '--nodes', '4', '--size', '4'], { timeoutMs: 170_000 });
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^\[6\/6\] streaming with the PPSP usage/m);
    expect(r.stdout).to.match(/SHA-256 of every copy equals the original's/);
    expect(r.stdout.trim().split('\n').at(-1)).to.equal('demo ok');
  });

  it('refuses a bad --size or --nodes with one line and exit code 2', async () => {
    for (const args of [['demo', '--size', 'big'], ['demo', '--nodes', '1']]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).to.equal(2);
      expect(r.stderr.trim().split('\n')).to.have.length(1);
    }
  });
});
