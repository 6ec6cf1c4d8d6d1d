/**
 * The CA directory that `reload-ppsp ca init` creates: `ca.crt` (the overlay's root), `ca.key`
 * (mode 0600) and `overlay.json` (the configuration document naming that root), plus, once
 * `ca serve` has run, the enrollment server's TLS pair. Local enrollment issues identities
 * straight from it, without the HTTPS round trip.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { newOverlayConfig, overlayConfigToJson, parseOverlayConfig, type OverlayConfig } from '../overlay/config.js';
import { createCsr, createRootCa, issueNodeCertificate, type KeyAlgorithm, type RootCa } from './ca.js';
import { checkIdentitySlot, IdentityFileError, saveIdentity } from './identity.js';
import { assertUserName } from './users.js';

export const CA_CERT_FILE = 'ca.crt';
export const CA_KEY_FILE = 'ca.key';
export const OVERLAY_CONFIG_FILE = 'overlay.json';

/** A loaded CA directory. */
export interface CaDir {
  ca: RootCa;
  config: OverlayConfig;
}

/** What `initCaDir` wrote. */
export interface InitCaResult extends CaDir {
  dir: string;
  overlay: string;
  /** Paths of the files written: certificate, key, configuration. */
  files: { caCert: string; caKey: string; config: string };
}

/** What an enrollment (local or remote) produced. */
export interface EnrollResult {
  nodeIdHex: string;
  user: string;
  overlay: string;
  /** The node directory holding node.key and node.crt. */
  out: string;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function paths(dir: string) {
  return { caCert: join(dir, CA_CERT_FILE), caKey: join(dir, CA_KEY_FILE), config: join(dir, OVERLAY_CONFIG_FILE) };
}

/**
 * Creates a root CA and the overlay configuration naming it in `dir`. Refuses a directory that
 * already holds any of the three files unless `force`: replacing a root makes every identity it
 * issued untrusted.
 */
export async function initCaDir(dir: string, overlay: string, { force = false } = {}): Promise<InitCaResult> {
  const files = paths(dir);
  if (!force) {
    for (const path of Object.values(files)) {
      if (await exists(path)) throw new IdentityFileError(`${path} already exists; pass --force to replace the CA (identities it issued stop being trusted)`);
    }
  }
  const ca = await createRootCa({ overlay });
  // Built before anything is written, so that a bad overlay name leaves the directory untouched.
  const config = newOverlayConfig(overlay, ca.certPem);
  await mkdir(dir, { recursive: true });
  await writeFile(files.caKey, ca.keyPem, { mode: 0o600 });
  await chmod(files.caKey, 0o600); // writeFile's mode applies only to a file it creates
  await writeFile(files.caCert, ca.certPem, { mode: 0o644 });
  await writeFile(files.config, overlayConfigToJson(config), { mode: 0o644 });
  return { dir, overlay: config.overlay, files, ca, config };
}

/**
 * Reads a CA directory and checks that its parts belong together: the key is the certificate's,
 * the certificate is a CA, and overlay.json lists it among its roots. Errors name the file and
 * the command that creates it.
 */
export async function loadCaDir(dir: string): Promise<CaDir> {
  const files = paths(dir);
  const hint = `(create the CA directory with \`reload-ppsp ca init --dir ${dir} --overlay NAME\`)`;
  const read = (path: string) =>
    readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
      throw new IdentityFileError(`cannot read ${path}: ${e.code ?? e.message} ${hint}`);
    });
  const certPem = await read(files.caCert);
  const keyPem = await read(files.caKey);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (e) {
    throw new IdentityFileError(`${files.caCert} is not a PEM certificate: ${(e as Error).message} ${hint}`);
  }
  if (!cert.ca) throw new IdentityFileError(`${files.caCert} is not a CA certificate ${hint}`);
  let keyMatches: boolean;
  try {
    keyMatches = cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch (e) {
    throw new IdentityFileError(`${files.caKey} is not a PEM private key: ${(e as Error).message} ${hint}`);
  }
  if (!keyMatches) throw new IdentityFileError(`${files.caKey} does not belong to ${files.caCert}`);
  let config: OverlayConfig;
  const configText = await read(files.config);
  try {
    config = parseOverlayConfig(JSON.parse(configText));
  } catch (e) {
    throw new IdentityFileError(`${files.config}: ${(e as Error).message} ${hint}`);
  }
  const listed = config.rootCerts.some((pem) => {
    try {
      return new X509Certificate(pem).fingerprint256 === cert.fingerprint256;
    } catch {
      return false;
    }
  });
  if (!listed) throw new IdentityFileError(`${files.config} does not list ${files.caCert} among its rootCerts: nodes it enrolls would not be trusted`);
  return { ca: { certPem, keyPem }, config };
}

/**
 * Enrolls `user` from a local CA directory: a fresh key and CSR, a certificate with a random
 * Node-ID chosen by the CA (RFC 6940 §11.3), saved in `outDir` with the root appended. Refuses an
 * existing identity in `outDir` unless `force`.
 */
export async function enrollLocal(caDir: string, user: string, outDir: string, { force = false, key = 'rsa' as KeyAlgorithm } = {}): Promise<EnrollResult> {
  assertUserName(user);
  const { ca, config } = await loadCaDir(caDir);
  await checkIdentitySlot(outDir, force); // before the key is made, not after
  const { keyPem, csrPem } = await createCsr(user, key);
  const { certPem, nodeIdHex } = issueNodeCertificate(ca, csrPem, { overlay: config.overlay, user });
  await saveIdentity(outDir, keyPem, certPem + ca.certPem, force);
  return { nodeIdHex, user, overlay: config.overlay, out: outDir };
}
