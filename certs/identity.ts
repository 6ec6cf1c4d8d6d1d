/**
 * A node's own identity: its private key and enrollment certificate, stored in a node directory
 * as `node.key` (mode 0600) and `node.crt` (the node certificate followed by the CA chain).
 * Parsed once; signing uses node:crypto with the parsed key.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Id } from '../overlay/id.js';
import { certIdentity } from './san.js';
import { certificateSignatures, type SignatureAlgorithm, type SignatureScheme } from './signature-scheme.js';
import { fingerprintOf } from './trust.js';

export const NODE_KEY_FILE = 'node.key';
export const NODE_CERT_FILE = 'node.crt';

/** A problem with files on disk or their contents; the CLI prints the message as is. */
export class IdentityFileError extends Error {
  override name = 'IdentityFileError';
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Splits a PEM bundle into its certificates. */
export function splitPemCertificates(pem: string): string[] {
  return pem.match(PEM_CERT)?.map((c) => c + '\n') ?? [];
}

export class Identity {
  readonly nodeId: Id;
  readonly nodeIdHex: string;
  readonly user: string;
  readonly overlay: string;
  readonly certDer: Buffer;
  /** SHA-256 of certDer, lowercase hex (the cert_hash signer identity). */
  readonly fingerprint: string;
  readonly privateKey: KeyObject;
  readonly algorithm: SignatureAlgorithm;

  /**
   * @param keyPem the private key (PKCS#8 or PKCS#1 PEM): RSA, or EC on P-256
   * @param certPem the node certificate, optionally followed by CA certificates
   * @param signatures the signature primitive (the simulator's stand-in; else the key's own)
   */
  constructor(
    readonly keyPem: string,
    readonly certPem: string,
    readonly signatures: SignatureScheme = certificateSignatures,
  ) {
    const [leafPem] = splitPemCertificates(certPem);
    if (!leafPem) throw new IdentityFileError('the certificate file holds no PEM certificate');
    let leaf: X509Certificate;
    try {
      leaf = new X509Certificate(leafPem);
      this.privateKey = createPrivateKey(keyPem);
    } catch (e) {
      throw new IdentityFileError(`cannot read the identity: ${(e as Error).message}`);
    }
    if (!leaf.checkPrivateKey(this.privateKey)) throw new IdentityFileError('the private key does not belong to the certificate');
    const id = certIdentity(leaf);
    if (!id) throw new IdentityFileError('the certificate has no reload:// Node-ID and user name: was it issued by `reload-ppsp enroll`?');
    this.nodeId = id.nodeId;
    this.nodeIdHex = id.nodeIdHex;
    this.user = id.user;
    this.overlay = id.overlay;
    this.certDer = leaf.raw;
    this.fingerprint = fingerprintOf(leaf.raw);
    const algorithm = signatures.algorithmOf(this.privateKey);
    if (!algorithm) throw new IdentityFileError(`a ${this.privateKey.asymmetricKeyType} key cannot sign here: use RSA or EC on P-256`);
    this.algorithm = algorithm;
  }

  /** Signs with this identity's algorithm (RSA or ECDSA with SHA-256 unless a stand-in was given). */
  sign(data: Uint8Array): Uint8Array {
    return this.signatures.sign(this, data);
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Permission bits that let anyone but the owner read or change a file. */
const GROUP_OR_OTHERS = 0o077;

/**
 * Refuses a private key that group or others may read or write, as ssh does ("UNPROTECTED
 * PRIVATE KEY FILE"): whoever can read node.key can run this Node-ID. Skipped where the file
 * system has no POSIX modes (Windows).
 */
async function checkKeyFileMode(path: string): Promise<void> {
  if (process.platform === 'win32') return;
  const mode = (await stat(path)).mode & 0o777;
  if ((mode & GROUP_OR_OTHERS) !== 0) {
    throw new IdentityFileError(`UNPROTECTED PRIVATE KEY FILE: ${path} has mode 0${mode.toString(8).padStart(3, '0')}, so others can read or change it; run \`chmod 600 ${path}\``);
  }
}

/** Reads NODEDIR/node.key (refused unless only its owner can read it) and NODEDIR/node.crt. */
export async function loadIdentity(dir: string): Promise<Identity> {
  const read = (file: string) =>
    readFile(join(dir, file), 'utf8').catch((e: NodeJS.ErrnoException) => {
      throw new IdentityFileError(`cannot read ${join(dir, file)}: ${e.code ?? e.message} (create one with \`reload-ppsp enroll\`)`);
    });
  const keyPem = await read(NODE_KEY_FILE);
  await checkKeyFileMode(join(dir, NODE_KEY_FILE));
  return new Identity(keyPem, await read(NODE_CERT_FILE));
}

/**
 * Throws unless `dir` holds no identity or `force` allows replacing it (a lost key is a lost
 * Node-ID). Enrollment calls it before making a key, saveIdentity again before writing.
 */
export async function checkIdentitySlot(dir: string, force = false): Promise<void> {
  if (!force && ((await exists(join(dir, NODE_KEY_FILE))) || (await exists(join(dir, NODE_CERT_FILE))))) {
    throw new IdentityFileError(`${dir} already holds an identity; pass --force to replace it`);
  }
}

/** Writes an identity (see checkIdentitySlot for `force`). The key file is created with mode 0600. */
export async function saveIdentity(dir: string, keyPem: string, certChainPem: string, force = false): Promise<void> {
  await checkIdentitySlot(dir, force);
  await mkdir(dir, { recursive: true });
  const keyPath = join(dir, NODE_KEY_FILE);
  await writeFile(keyPath, keyPem, { mode: 0o600 });
  await chmod(keyPath, 0o600);
  await writeFile(join(dir, NODE_CERT_FILE), certChainPem, { mode: 0o644 });
}
