/**
 * The enrollment CA (RFC 6940 §11.3): a root certificate, and issuing a node certificate from a
 * PKCS#10 request. The CA, never the requester, picks the Node-ID, at random, so that nobody can
 * choose a position on the ring (Sybil / eclipse resistance). node-forge builds the structures;
 * keys come from node:crypto (native, fast).
 */
import { generateKeyPair as generateKeyPairCb, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';
import { idToHex, randomId } from '../overlay/id.js';
import { reloadUri } from './san.js';

const generateKeyPair = promisify(generateKeyPairCb);

/** RSA modulus for CA and node keys (RFC 6940 mandates RSA with SHA-256 signatures). */
export const RSA_KEY_BITS = 2048;
/** Default lifetime of a root certificate. */
export const CA_VALIDITY_DAYS = 3650;
/** Default lifetime of a node certificate; RELOAD has no revocation, so keep it short-ish. */
export const NODE_CERT_VALIDITY_DAYS = 365;

const DAY_MS = 86_400_000;

/** Why enrollment was refused; `reason` is the RFC 6940 §11.3 error token. */
export class EnrollmentError extends Error {
  override name = 'EnrollmentError';
  constructor(
    readonly reason: 'bad_CSR' | 'username_not_available' | 'failed_authentication' | 'Node-IDs_not_available',
    message: string,
  ) {
    super(message);
  }
}

export interface KeyPairPem {
  keyPem: string;
  publicKeyPem: string;
}

export async function generateRsaKey(bits = RSA_KEY_BITS): Promise<KeyPairPem> {
  const { privateKey, publicKey } = await generateKeyPair('rsa', {
    modulusLength: bits,
    publicExponent: 0x10001,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { keyPem: privateKey, publicKeyPem: publicKey };
}

export interface RootCa {
  certPem: string;
  keyPem: string;
}

/**
 * A random 127-bit certificate serial as hex for forge. Positive on purpose: forge writes the hex
 * as-is and a leading byte >= 0x80 would read as a negative serial.
 */
export function randomSerial(): string {
  const bytes = randomBytes(16);
  // forge writes the bytes as they are into a DER INTEGER: a first byte >= 0x80 would make the
  // serial negative and a first byte 0x00 is illegal padding (non-minimal DER), which OpenSSL
  // refuses to parse. 0x01..0x7f is always a valid positive 16-byte serial.
  bytes[0] = (bytes[0]! & 0x7f) || 0x01;
  return bytes.toString('hex');
}

function validity(cert: forge.pki.Certificate, notBefore: Date, notAfter: Date): void {
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
}

export interface RootCaOptions {
  overlay: string;
  validityDays?: number;
  /** For tests of expiry; defaults to now. */
  notBefore?: Date;
}

export async function createRootCa(opts: RootCaOptions): Promise<RootCa> {
  const { keyPem, publicKeyPem } = await generateRsaKey();
  const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  cert.serialNumber = randomSerial();
  const notBefore = opts.notBefore ?? new Date(Date.now() - 60_000);
  validity(cert, notBefore, new Date(notBefore.getTime() + (opts.validityDays ?? CA_VALIDITY_DAYS) * DAY_MS));
  const name = [{ name: 'commonName', value: `${opts.overlay} enrollment CA` }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(key, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

export interface CsrResult {
  keyPem: string;
  csrPem: string;
}

/** A fresh key and a PKCS#10 request naming the user (rfc822Name). The Node-ID is the CA's choice. */
export async function createCsr(user: string): Promise<CsrResult> {
  const { keyPem, publicKeyPem } = await generateRsaKey();
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  csr.setAttributes([
    { name: 'extensionRequest', extensions: [{ name: 'subjectAltName', altNames: [{ type: 1, value: user }] }] },
  ]);
  csr.sign(forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return { keyPem, csrPem: forge.pki.certificationRequestToPem(csr) };
}

interface AltName {
  type: number;
  value?: string;
}

function requestedUsers(csr: forge.pki.CertificateSigningRequest): string[] {
  const attr = csr.getAttribute({ name: 'extensionRequest' }) as { extensions?: { name: string; altNames?: AltName[] }[] } | null;
  const san = attr?.extensions?.find((e) => e.name === 'subjectAltName');
  return (san?.altNames ?? []).filter((a) => a.type === 1).map((a) => String(a.value));
}

/** Parses and checks a PEM PKCS#10 request; throws EnrollmentError('bad_CSR') for anything wrong. */
export function parseCsr(csrPem: string): forge.pki.CertificateSigningRequest {
  let csr: forge.pki.CertificateSigningRequest;
  try {
    csr = forge.pki.certificationRequestFromPem(csrPem);
  } catch (e) {
    throw new EnrollmentError('bad_CSR', `not a PKCS#10 request: ${(e as Error).message}`);
  }
  let ok = false;
  try {
    ok = csr.verify();
  } catch {
    ok = false;
  }
  if (!ok) throw new EnrollmentError('bad_CSR', 'the request signature does not verify');
  if (!csr.publicKey) throw new EnrollmentError('bad_CSR', 'the request has no public key');
  return csr;
}

export interface IssueOptions {
  overlay: string;
  /** The authenticated user; a request naming any other user is refused. */
  user: string;
  validityDays?: number;
  /** For tests of expiry; defaults to a minute ago (clock skew). */
  notBefore?: Date;
  /** The Node-ID to assign (32 hex digits); default fresh and random. A simulation draws them from its seed. */
  nodeIdHex?: string;
}

export interface IssuedCert {
  certPem: string;
  nodeIdHex: string;
}

/** Issues a node certificate for a verified request; the Node-ID is fresh and random unless given. */
export function issueNodeCertificate(ca: RootCa, csrPem: string, opts: IssueOptions): IssuedCert {
  const csr = parseCsr(csrPem);
  const named = requestedUsers(csr);
  if (named.some((u) => u !== opts.user)) {
    throw new EnrollmentError('username_not_available', `the request names user "${named.join(', ')}", not "${opts.user}"`);
  }
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem) as forge.pki.rsa.PrivateKey;
  if (opts.nodeIdHex !== undefined && !/^[0-9a-f]{32}$/.test(opts.nodeIdHex)) throw new RangeError(`"${opts.nodeIdHex}" is not a Node-ID (32 lowercase hex digits)`);
  const nodeIdHex = opts.nodeIdHex ?? idToHex(randomId());
  const cert = forge.pki.createCertificate();
  cert.publicKey = csr.publicKey!;
  cert.serialNumber = randomSerial();
  const notBefore = opts.notBefore ?? new Date(Date.now() - 60_000);
  validity(cert, notBefore, new Date(notBefore.getTime() + (opts.validityDays ?? NODE_CERT_VALIDITY_DAYS) * DAY_MS));
  // RFC 6940 §11.3: the subject DN is empty; the identity lives in the subjectAltName.
  cert.setSubject([]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    {
      name: 'subjectAltName',
      critical: true,
      altNames: [
        { type: 6, value: reloadUri(nodeIdHex, opts.overlay) },
        { type: 1, value: opts.user },
      ],
    },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), nodeIdHex };
}
