/**
 * The enrollment server's own TLS certificate, issued by the overlay's root CA for the address the
 * server listens on (an IP SAN for an IP address, a DNS SAN for a name). Clients that hold the
 * overlay configuration trust the root already, so they can check the server with no other PKI
 * (RFC 6940 §11.3 runs enrollment over HTTPS). It carries no reload URI, so no peer will ever take
 * it for a node identity.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import forge from 'node-forge';
import { generateRsaKey, randomSerial, type RootCa } from './ca.js';

export const SERVER_CERT_FILE = 'server.crt';
export const SERVER_KEY_FILE = 'server.key';
/** Lifetime of a server certificate; a fresh one is issued when it is about to expire. */
export const SERVER_CERT_VALIDITY_DAYS = 365;
/** A certificate closer than this to its end is replaced rather than reused. */
const RENEW_BEFORE_MS = 7 * 86_400_000;

/** A TLS key and certificate in PEM. */
export interface TlsKeyPair {
  keyPem: string;
  certPem: string;
}

/** Issues a TLS server certificate for `host` (IP address or DNS name), signed by the root CA. */
export async function issueServerCertificate(ca: RootCa, host: string): Promise<TlsKeyPair> {
  const { keyPem, publicKeyPem } = await generateRsaKey();
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = new Date(Date.now() - 60_000); // a minute of clock skew
  cert.validity.notAfter = new Date(Date.now() + SERVER_CERT_VALIDITY_DAYS * 86_400_000);
  cert.setSubject([{ name: 'commonName', value: host }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [isIP(host) ? { type: 7, ip: host } : { type: 2, value: host }] },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(ca.keyPem) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return { keyPem, certPem: forge.pki.certificateToPem(cert) };
}

/** True when a stored pair is still usable: issued by this CA, for this host, valid for a while, matching key. */
function stillFits(pair: TlsKeyPair, ca: RootCa, host: string): boolean {
  try {
    const cert = new X509Certificate(pair.certPem);
    const names = isIP(host) ? cert.checkIP(host) : cert.checkHost(host);
    return (
      cert.verify(new X509Certificate(ca.certPem).publicKey) &&
      names !== undefined &&
      Date.parse(cert.validTo) - Date.now() > RENEW_BEFORE_MS &&
      cert.checkPrivateKey(createPrivateKey(pair.keyPem))
    );
  } catch {
    return false; // unreadable files are replaced like stale ones
  }
}

/**
 * The server certificate in DIR/server.crt and DIR/server.key, issued and written (key mode 0600)
 * when absent, or when the stored one no longer fits: another CA (after `ca init --force`), another
 * listen host, or close to expiry.
 */
export async function ensureServerCertificate(dir: string, ca: RootCa, host: string): Promise<TlsKeyPair> {
  const certPath = join(dir, SERVER_CERT_FILE);
  const keyPath = join(dir, SERVER_KEY_FILE);
  const [certPem, keyPem] = await Promise.all([readFile(certPath, 'utf8').catch(() => ''), readFile(keyPath, 'utf8').catch(() => '')]);
  if (certPem && keyPem && stillFits({ certPem, keyPem }, ca, host)) return { certPem, keyPem };
  const fresh = await issueServerCertificate(ca, host);
  await writeFile(keyPath, fresh.keyPem, { mode: 0o600 });
  await chmod(keyPath, 0o600);
  await writeFile(certPath, fresh.certPem, { mode: 0o644 });
  return fresh;
}
