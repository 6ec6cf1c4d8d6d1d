import { expect } from 'chai';
import { KEY_ALGORITHMS } from '../../certs/ca.js';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EnrollmentError } from '../../certs/ca.js';
import { CA_CERT_FILE, CA_KEY_FILE, enrollLocal, initCaDir, loadCaDir, OVERLAY_CONFIG_FILE } from '../../certs/ca-dir.js';
import { IdentityFileError, loadIdentity, NODE_CERT_FILE, NODE_KEY_FILE } from '../../certs/identity.js';
import { loadOverlayConfig } from '../../overlay/config.js';
import { rejection } from '../helpers/rejection.js';

const OVERLAY = 'cadir.test';


describe('certs/ca-dir', () => {
  let tmp: string;
  let caDir: string;

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'reload-ca-dir-'));
    caDir = join(tmp, 'ca');
    await initCaDir(caDir, OVERLAY);
  });

  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('init writes ca.crt, ca.key (mode 0600) and an overlay.json that loads and names the root', async () => {
    expect((await stat(join(caDir, CA_KEY_FILE))).mode & 0o777).to.equal(0o600);
    const certPem = await readFile(join(caDir, CA_CERT_FILE), 'utf8');
    expect(new X509Certificate(certPem).ca).to.equal(true);
    const config = await loadOverlayConfig(join(caDir, OVERLAY_CONFIG_FILE));
    expect(config.overlay).to.equal(OVERLAY);
    expect(config.rootCerts).to.deep.equal([certPem]);
    const loaded = await loadCaDir(caDir);
    expect(loaded.ca.certPem).to.equal(certPem);
    expect(loaded.config.overlay).to.equal(OVERLAY);
  });

  it('init refuses to replace a CA unless forced', async () => {
    const before = await readFile(join(caDir, CA_CERT_FILE), 'utf8');
    const e = await rejection(initCaDir(caDir, OVERLAY));
    expect(e).to.be.instanceOf(IdentityFileError);
    expect(e.message).to.match(/already exists.*--force/);
    expect(await readFile(join(caDir, CA_CERT_FILE), 'utf8')).to.equal(before);

    const other = join(tmp, 'forced');
    await initCaDir(other, OVERLAY);
    const first = await readFile(join(other, CA_CERT_FILE), 'utf8');
    await writeFile(join(other, CA_KEY_FILE), 'x', { mode: 0o644 });
    await initCaDir(other, OVERLAY, { force: true });
    expect(await readFile(join(other, CA_CERT_FILE), 'utf8')).not.to.equal(first);
    expect((await stat(join(other, CA_KEY_FILE))).mode & 0o777).to.equal(0o600);
  });

  it('init refuses a bad overlay name and writes nothing', async () => {
    const dir = join(tmp, 'badname');
    await rejection(initCaDir(dir, 'not a name!'));
    expect(await stat(dir).then(() => true, () => false)).to.equal(false);
  });

  it('loadCaDir names the missing or broken file and the command that creates it', async () => {
    let e = await rejection(loadCaDir(join(tmp, 'nowhere')));
    expect(e).to.be.instanceOf(IdentityFileError);
    expect(e.message).to.contain(join(tmp, 'nowhere', CA_CERT_FILE)).and.to.contain('reload-ppsp ca init');

    const broken = join(tmp, 'broken');
    await initCaDir(broken, OVERLAY);
    await writeFile(join(broken, OVERLAY_CONFIG_FILE), '{"overlay": 5}');
    e = await rejection(loadCaDir(broken));
    expect(e.message).to.contain(join(broken, OVERLAY_CONFIG_FILE)).and.to.contain('"overlay"');

    await writeFile(join(broken, CA_KEY_FILE), 'not a key');
    e = await rejection(loadCaDir(broken));
    expect(e.message).to.contain(join(broken, CA_KEY_FILE));

    // overlay.json of another CA: nodes it enrolls would not be trusted by that configuration
    const mismatched = join(tmp, 'mismatched');
    await initCaDir(mismatched, OVERLAY);
    await writeFile(join(mismatched, OVERLAY_CONFIG_FILE), await readFile(join(caDir, OVERLAY_CONFIG_FILE)));
    e = await rejection(loadCaDir(mismatched));
    expect(e.message).to.match(/does not list .*ca\.crt/);
  });

  it('enrollLocal issues an identity with a CA-chosen random Node-ID, the reload URI and the user name', async () => {
    const user = `alice@${OVERLAY}`;
    const a = await enrollLocal(caDir, user, join(tmp, 'a'));
    const b = await enrollLocal(caDir, user, join(tmp, 'b'));
    expect(a).to.deep.include({ user, overlay: OVERLAY, out: join(tmp, 'a') });
    expect(a.nodeIdHex).to.match(/^[0-9a-f]{32}$/);
    expect(b.nodeIdHex).not.to.equal(a.nodeIdHex);

    const id = await loadIdentity(join(tmp, 'a'));
    expect(id.nodeIdHex).to.equal(a.nodeIdHex);
    expect(id.user).to.equal(user);
    const leaf = new X509Certificate(await readFile(join(tmp, 'a', NODE_CERT_FILE), 'utf8'));
    expect(leaf.subjectAltName).to.equal(`URI:reload://${a.nodeIdHex}@${OVERLAY}/, email:${user}`);
    expect((await stat(join(tmp, 'a', NODE_KEY_FILE))).mode & 0o777).to.equal(0o600);
  });

  it('openssl verifies the node certificate against ca.crt, for an RSA and an ECDSA P-256 key', async () => {
    for (const key of KEY_ALGORITHMS) {
      const out = join(tmp, `ossl-${key}`);
      await enrollLocal(caDir, `bob@${OVERLAY}`, out, { key });
      const { stdout } = await promisify(execFile)('/usr/bin/openssl', ['verify', '-x509_strict', '-CAfile', join(caDir, CA_CERT_FILE), join(out, NODE_CERT_FILE)]);
      expect(stdout.trim()).to.equal(`${join(out, NODE_CERT_FILE)}: OK`);
      const text = (await promisify(execFile)('/usr/bin/openssl', ['x509', '-noout', '-text', '-in', join(out, NODE_CERT_FILE)])).stdout;
      expect(text).to.contain(key === 'rsa' ? 'rsaEncryption' : 'id-ecPublicKey');
    }
  });

  it('enrollLocal refuses to overwrite an identity unless forced, and refuses implausible user names', async () => {
    const out = join(tmp, 'twice');
    const first = await enrollLocal(caDir, `carol@${OVERLAY}`, out);
    const e = await rejection(enrollLocal(caDir, `carol@${OVERLAY}`, out));
    expect(e).to.be.instanceOf(IdentityFileError);
    expect(e.message).to.contain('--force');
    expect((await loadIdentity(out)).nodeIdHex).to.equal(first.nodeIdHex);
    const second = await enrollLocal(caDir, `carol@${OVERLAY}`, out, { force: true });
    expect((await loadIdentity(out)).nodeIdHex).to.equal(second.nodeIdHex);

    for (const bad of ['carol', 'carol smith@x.org', 'a,b@x.org', '@x.org', 'carol@']) {
      expect(await rejection(enrollLocal(caDir, bad, join(tmp, 'bad')))).to.be.instanceOf(EnrollmentError);
    }
  });
});
