/**
 * The enrollment CA (RFC 6940 §11.3): a root certificate, and issuing a node certificate from a
 * PKCS#10 request. The CA, never the requester, picks the Node-ID, at random, so that nobody can
 * choose a position on the ring (Sybil / eclipse resistance). node-forge builds the structures;
 * keys and the signatures of requests and node certificates come from node:crypto (x509-der.ts),
 * so node keys may be RSA or EC P-256.
 */
import { createPrivateKey, generateKeyPair as generateKeyPairCb, randomBytes, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';
import { idToHex, randomId } from '../overlay/id.js';
import { reloadUri } from './san.js';
import { PLACEHOLDER_KEY, requestInfo, signatureOidOf, signStructure, tbsCertificate, toPem, verifySelfSigned, withPlaceholderSpki } from './x509-der.js';

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

/** A node's key: RSA-2048 (RFC 6940's mandatory algorithm, the default) or ECDSA on P-256. */
export type KeyAlgorithm = 'rsa' | 'ecdsa';
export const KEY_ALGORITHMS: readonly KeyAlgorithm[] = ['rsa', 'ecdsa'];

/** A fresh node key pair (PKCS#8 PEM and the key objects). */
export async function generateNodeKey(algorithm: KeyAlgorithm = 'rsa'): Promise<{ keyPem: string; privateKey: KeyObject; publicKey: KeyObject }> {
  const { privateKey, publicKey } = algorithm === 'rsa' ? await generateKeyPair('rsa', { modulusLength: RSA_KEY_BITS, publicExponent: 0x10001 }) : await generateKeyPair('ec', { namedCurve: 'P-256' });
  return { keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, privateKey, publicKey };
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

/** A fresh key and a PKCS#10 request naming the user (rfc822Name), signed by that key. The Node-ID is the CA's choice. */
export async function createCsr(user: string, algorithm: KeyAlgorithm = 'rsa'): Promise<CsrResult> {
  const { keyPem, privateKey, publicKey } = await generateNodeKey(algorithm);
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = PLACEHOLDER_KEY;
  csr.setAttributes([
    { name: 'extensionRequest', extensions: [{ name: 'subjectAltName', altNames: [{ type: 1, value: user }] }] },
  ]);
  return { keyPem, csrPem: toPem(signStructure(requestInfo(csr, publicKey), privateKey), 'CERTIFICATE REQUEST') };
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

/** A verified request: the key it is for and the user names it asks for. */
export interface CertificateRequest {
  publicKey: KeyObject;
  users: string[];
}

/** Parses and checks a PEM PKCS#10 request (RSA or EC P-256); throws EnrollmentError('bad_CSR') for anything wrong. */
export function parseCsr(csrPem: string): CertificateRequest {
  let checked: ReturnType<typeof verifySelfSigned>;
  try {
    const [block] = forge.pem.decode(csrPem);
    if (block?.type !== 'CERTIFICATE REQUEST') throw new Error('no CERTIFICATE REQUEST block');
    checked = verifySelfSigned(Buffer.from(block.body, 'binary'), 2);
  } catch (e) {
    throw new EnrollmentError('bad_CSR', `not a valid PKCS#10 request: ${(e as Error).message}`);
  }
  let users: string[];
  try {
    // forge reads attributes of RSA requests only: it sees the placeholder key, the real one is checked above.
    users = requestedUsers(forge.pki.certificationRequestFromAsn1(withPlaceholderSpki(checked.whole, 2), false));
  } catch (e) {
    throw new EnrollmentError('bad_CSR', `not a valid PKCS#10 request: ${(e as Error).message}`);
  }
  return { publicKey: checked.publicKey, users };
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

/** A CA's certificate and key, parsed once per CA object (issuing many certificates reuses them). */
const parsedCas = new WeakMap<RootCa, { caCert: forge.pki.Certificate; caKey: KeyObject; keyIdentifier: string }>();
function parsedCa(ca: RootCa): { caCert: forge.pki.Certificate; caKey: KeyObject; keyIdentifier: string } {
  let parsed = parsedCas.get(ca);
  if (!parsed) {
    const caCert = forge.pki.certificateFromPem(ca.certPem);
    parsed = { caCert, caKey: createPrivateKey(ca.keyPem), keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() };
    parsedCas.set(ca, parsed);
  }
  return parsed;
}

/** Issues a node certificate for a verified request; the Node-ID is fresh and random unless given. */
export function issueNodeCertificate(ca: RootCa, csrPem: string, opts: IssueOptions): IssuedCert {
  const request = parseCsr(csrPem);
  if (request.users.some((u) => u !== opts.user)) {
    throw new EnrollmentError('username_not_available', `the request names user "${request.users.join(', ')}", not "${opts.user}"`);
  }
  const { caCert, caKey, keyIdentifier } = parsedCa(ca);
  if (opts.nodeIdHex !== undefined && !/^[0-9a-f]{32}$/.test(opts.nodeIdHex)) throw new RangeError(`"${opts.nodeIdHex}" is not a Node-ID (32 lowercase hex digits)`);
  const nodeIdHex = opts.nodeIdHex ?? idToHex(randomId());
  const cert = forge.pki.createCertificate();
  cert.publicKey = PLACEHOLDER_KEY;
  cert.serialNumber = randomSerial();
  const notBefore = opts.notBefore ?? new Date(Date.now() - 60_000);
  validity(cert, notBefore, new Date(notBefore.getTime() + (opts.validityDays ?? NODE_CERT_VALIDITY_DAYS) * DAY_MS));
  // RFC 6940 §11.3: the subject DN is empty; the identity lives in the subjectAltName.
  cert.setSubject([]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    // An EC key signs (ECDHE does the key exchange); only an RSA key may also encipher keys.
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: request.publicKey.asymmetricKeyType === 'rsa', critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    {
      name: 'subjectAltName',
      critical: true,
      altNames: [
        { type: 6, value: reloadUri(nodeIdHex, opts.overlay) },
        { type: 1, value: opts.user },
      ],
    },
    { name: 'authorityKeyIdentifier', keyIdentifier },
  ]);
  cert.siginfo.algorithmOid = signatureOidOf(caKey);
  return { certPem: toPem(signStructure(tbsCertificate(cert, request.publicKey), caKey), 'CERTIFICATE'), nodeIdHex };
}
