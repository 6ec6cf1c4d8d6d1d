import { expect } from 'chai';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCsr, issueNodeCertificate } from '../../certs/ca.js';
import { loadCaDir } from '../../certs/ca-dir.js';
import { NODE_KEY_FILE, saveIdentity } from '../../certs/identity.js';
import { runCli } from '../helpers/cli.js';
import { makePki } from '../helpers/pki.js';

const OVERLAY = 'identity.test';
const DAY_MS = 86_400_000;
/**
 * A refused identity must stop the node before it listens or dials, in well under the time a
 * join takes to fail (the old code started, then failed ~21 s later with "no route").
 */
const REFUSAL_BOUND_MS = 10_000;

/** `reload-ppsp node` checks its own identity against the config before any network activity. */
describe('CLI: node refuses a bad identity at start', function () {
  this.timeout(60_000);
  let dir: string;
  let config: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reload-cli-identity-'));
    const init = await runCli(['ca', 'init', '--dir', join(dir, 'ca'), '--overlay', OVERLAY]);
    expect(init.code, init.stderr).to.equal(0);
    config = join(dir, 'ca', 'overlay.json');
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Writes an identity issued by the test CA with the given validity into dir/name. */
  async function identityWith(name: string, validity: { notBefore: Date; validityDays: number }): Promise<string> {
    const { ca } = await loadCaDir(join(dir, 'ca'));
    const user = `${name}@${OVERLAY}`;
    const { keyPem, csrPem } = await createCsr(user);
    const { certPem } = issueNodeCertificate(ca, csrPem, { overlay: OVERLAY, user, ...validity });
    await saveIdentity(join(dir, name), keyPem, certPem + ca.certPem);
    return join(dir, name);
  }

  /** Runs the node, which must exit 1 at once with one line matching `message`. */
  async function refused(identity: string, message: RegExp): Promise<string> {
    const started = Date.now();
    const r = await runCli(['node', '--config', config, '--identity', identity], { timeoutMs: REFUSAL_BOUND_MS + 5000 });
    expect(r.code, r.stderr).to.equal(1);
    expect(Date.now() - started).to.be.below(REFUSAL_BOUND_MS);
    expect(r.stdout).not.to.match(/^ready/m);
    const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('reload-ppsp: '));
    expect(lines, r.stderr).to.have.length(1);
    expect(r.stderr).not.to.match(/\n\s+at /);
    expect(lines[0]).to.match(message);
    return lines[0]!;
  }

  it('an expired certificate: says it expired and to enroll again', async () => {
    const id = await identityWith('expired', { notBefore: new Date(Date.now() - 10 * DAY_MS), validityDays: 1 });
    await refused(id, /Forbidden: this node's own certificate expired on .*reload-ppsp enroll/);
  });

  it('a certificate not valid yet: says from when, and to check the clock', async () => {
    const id = await identityWith('future', { notBefore: new Date(Date.now() + 10 * DAY_MS), validityDays: 30 });
    await refused(id, /Forbidden: this node's own certificate is not valid before .*clock/);
  });

  it('a certificate from another CA (same overlay name): says it is not from the config\'s roots', async () => {
    const other = await makePki(OVERLAY);
    const identity = await other.enroll(`stranger@${OVERLAY}`);
    await saveIdentity(join(dir, 'stranger'), identity.keyPem, identity.certPem);
    await refused(join(dir, 'stranger'), /Forbidden: this node's own certificate was not issued by a root CA of overlay "identity\.test"/);
  });

  it('a certificate for another overlay: names both overlays', async () => {
    const other = await makePki('elsewhere.test');
    const identity = await other.enroll('far@elsewhere.test');
    await saveIdentity(join(dir, 'far'), identity.keyPem, identity.certPem);
    await refused(join(dir, 'far'), /Incompatible_with_Overlay: identity is enrolled in overlay "elsewhere\.test", the config is for "identity\.test"/);
  });

  it('node.key readable by group or others: refused like ssh does, naming the file, its mode and the chmod', async () => {
    const ok = await identityWith('loose', { notBefore: new Date(Date.now() - 60_000), validityDays: 30 });
    const key = join(ok, NODE_KEY_FILE);
    for (const mode of [0o644, 0o640, 0o604]) {
      await chmod(key, mode);
      const line = await refused(ok, /UNPROTECTED PRIVATE KEY FILE/);
      expect(line).to.contain(key);
      expect(line).to.contain(`mode 0${mode.toString(8)}`);
      expect(line).to.contain(`chmod 600 ${key}`);
    }
  });
});
