/**
 * Node processes' logs: every stderr line starts with an ISO 8601 UTC time and its level;
 * `--log-level warn` leaves out info, `--log-level debug` shows the steps of a join.
 */
import { expect } from 'chai';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, startCli, type RunningCli } from '../helpers/cli.js';
import { createOverlayDir } from '../helpers/overlay-dir.js';

const OVERLAY = 'logging.test';
const LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (debug|info|warn|error) (reload(?::[\w-]+)*) (.*)$/;
const READY = /^ready ([0-9a-f]{32}) listen=(\S+) api=(\S+)$/;

describe('CLI: node log lines and --log-level', function () {
  this.timeout(90_000);
  let dir: string;
  const running: RunningCli[] = [];

  before(async () => {
    ({ dir } = await createOverlayDir({ overlay: OVERLAY, names: ['n1', 'n2'] }));
  });

  after(async () => {
    await Promise.all(running.map((p) => p.stop()));
    await rm(dir, { recursive: true, force: true });
  });

  /** Every non-empty stderr line parsed; fails on a line without time and level, or with a time outside [fromMs, toMs]. */
  function logLines(stderr: string, fromMs: number, toMs: number): { level: string; namespace: string; msg: string }[] {
    return stderr.split('\n').filter(Boolean).map((line) => {
      const m = LINE.exec(line);
      expect(m, `a log line without time and level: ${line}`).to.not.equal(null);
      expect(Date.parse(m![1]!), line).to.be.within(fromMs, toMs);
      return { level: m![2]!, namespace: m![3]!, msg: m![4]! };
    });
  }

  it('a node at --log-level warn logs no info; one at debug shows its join step by step, every line timestamped', async () => {
    const config = join(dir, 'ca', 'overlay.json');
    const started = Date.now();
    const first = startCli(['node', '--config', config, '--identity', join(dir, 'n1'), '--log-level', 'warn']);
    running.push(first);
    const [, firstId, firstListen] = await first.waitForLine(READY);
    const second = startCli(['node', '--config', config, '--identity', join(dir, 'n2'), '--bootstrap', firstListen!, '--log-level', 'debug']);
    running.push(second);
    await second.waitForLine(READY);
    expect(await second.stop()).to.equal(0);
    expect(await first.stop()).to.equal(0);
    const stopped = Date.now();

    expect(logLines(first.stderr(), started, stopped).filter((l) => l.level === 'info' || l.level === 'debug')).to.deep.equal([]);

    const lines = logLines(second.stderr(), started, stopped);
    const debug = lines.filter((l) => l.level === 'debug').map((l) => l.msg);
    const step = (re: RegExp) => debug.findIndex((m) => re.test(m));
    const steps = [
      step(new RegExp(`^join: linked to bootstrap ${firstId}; Attach to Resource-ID self\\+1`)),
      step(new RegExp(`^join: Update exchange with ${firstId} done; 1 successors, 1 predecessors$`)),
      step(new RegExp(`^join: Join sent to successor ${firstId}$`)),
      step(new RegExp(`^join: Join answered by ${firstId}; Update to 1 neighbours$`)),
    ];
    expect(steps.every((i) => i >= 0), `join steps missing from:\n${second.stderr()}`).to.equal(true);
    expect([...steps].sort((a, b) => a - b), 'in order').to.deep.equal(steps);
    expect(lines.find((l) => l.msg.startsWith('join:'))!.namespace).to.equal('reload:node:topology');
    expect(lines.some((l) => l.level === 'info' && l.msg === 'joined'), 'info lines too').to.equal(true);
  });

  it('a bad --log-level is a usage error', async () => {
    const r = await runCli(['node', '--config', join(dir, 'ca', 'overlay.json'), '--identity', join(dir, 'n1'), '--log-level', 'loud']);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.equal('reload-ppsp: --log-level must be one of debug, info, warn, error, not "loud"\n');
  });
});
