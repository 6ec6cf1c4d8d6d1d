/**
 * The client side of RFC 6940 §11.3 enrollment: make a key and a CSR, POST them with the user's
 * credentials to the enrollment server over HTTPS, and accept the certificate only after checking
 * it ourselves: it chains to an overlay root, carries one reload URI for this overlay and exactly
 * the user we asked for, and certifies our key. The server is authenticated with the overlay's
 * root certificates, never with the system store and never without verification.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { request } from 'node:https';
import { createCsr, EnrollmentError, type KeyAlgorithm } from './ca.js';
import type { EnrollResult } from './ca-dir.js';
import {
  ENROLL_MAX_RESPONSE_BYTES,
  FORM_FIELDS,
  isEnrollmentReason,
  PKCS10_MEDIA_TYPE,
  PKIX_CERT_MEDIA_TYPE,
  REASON_WORDS,
} from './enrollment-protocol.js';
import { checkIdentitySlot, saveIdentity } from './identity.js';
import { encodeMultipart } from './multipart.js';
import { TrustStore } from './trust.js';
import { assertUserName } from './users.js';

/** Socket inactivity allowed while waiting for the server, ms. */
export const DEFAULT_ENROLL_TIMEOUT_MS = 30_000;

/**
 * Enrollment failed for a reason other than a refusal token: the server cannot be reached or
 * trusted, answered something unexpected, or sent a certificate we cannot accept. The `code` lets
 * the CLI print the message as it is.
 */
export class EnrollmentRequestError extends Error {
  override name = 'EnrollmentRequestError';
  readonly code = 'ERR_RELOAD_ENROLLMENT';
}

export interface EnrollRemoteOptions {
  /** The enrollment server, `https://HOST:PORT/enroll`. */
  url: string;
  user: string;
  password: string;
  /** The overlay's root certificate(s), from its configuration: they authenticate the server and the issued certificate. */
  caCertPem: string | readonly string[];
  /** The overlay name the certificate's reload URI must carry. */
  overlay: string;
  /** The node directory to write node.key and node.crt into. */
  outDir: string;
  /** Replace an identity already in `outDir`. */
  force?: boolean;
  /** The node key's algorithm (default rsa). */
  key?: KeyAlgorithm;
  /** Default DEFAULT_ENROLL_TIMEOUT_MS. */
  timeoutMs?: number;
}

interface HttpAnswer {
  status: number;
  contentType: string;
  body: Buffer;
}

/** TLS verification failures, which mean "this server is not the one the overlay vouches for". */
const UNTRUSTED_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
]);

/** Says in words why the server could not be reached or trusted. */
function connectionError(e: NodeJS.ErrnoException, url: string): EnrollmentRequestError {
  const code = e.code ?? '';
  if (code === 'ECONNREFUSED') return new EnrollmentRequestError(`connection refused by ${url}: is the enrollment server running at ${url}?`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new EnrollmentRequestError(`cannot resolve the host of ${url}`);
  if (code === 'ETIMEDOUT') return new EnrollmentRequestError(`no answer from ${url}: ${e.message}`);
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new EnrollmentRequestError(`the server at ${url} has a certificate for another address: use the host it listens on (\`ca serve --listen\`) in the URL`);
  }
  if (UNTRUSTED_CODES.has(code)) {
    return new EnrollmentRequestError(
      `the server at ${url} is not vouched for by the overlay's root certificate (${code}): check --server and --config`,
    );
  }
  return new EnrollmentRequestError(`enrollment request to ${url} failed: ${e.message}`);
}

/** One bounded HTTPS POST, verifying the server against `ca`. */
function post(url: URL, ca: string[], body: Buffer, contentType: string, timeoutMs: number): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        ca,
        agent: false, // a one-off connection: nothing kept alive after enrollment
        headers: { 'Content-Type': contentType, 'Content-Length': body.length, Accept: PKIX_CERT_MEDIA_TYPE },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > ENROLL_MAX_RESPONSE_BYTES) req.destroy(new EnrollmentRequestError(`the answer from ${url.href} is larger than ${ENROLL_MAX_RESPONSE_BYTES} bytes`));
          else chunks.push(chunk);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'] ?? '', body: Buffer.concat(chunks) }));
        res.on('error', (e) => reject(e instanceof EnrollmentRequestError ? e : connectionError(e, url.href)));
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no data for ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', (e) => reject(e instanceof EnrollmentRequestError ? e : connectionError(e, url.href)));
    req.end(body);
  });
}

/** Turns a non-200 answer into the error that explains it. */
function refusalError(answer: HttpAnswer, url: string): Error {
  const token = answer.body.subarray(0, 200).toString('utf8').trim();
  if ((answer.status === 403 || answer.status === 400) && isEnrollmentReason(token)) {
    return new EnrollmentError(token, `the enrollment server refused: ${REASON_WORDS[token]} (${token})`);
  }
  // The body is the server's text on our terminal: one line, no control characters.
  const shown = token.replace(/[\s\u0000-\u001f\u007f]+/g, ' ');
  return new EnrollmentRequestError(`the enrollment server at ${url} answered HTTP ${answer.status}${shown ? `: ${shown}` : ''}`);
}

/**
 * Enrolls `user` with a remote enrollment server and saves the identity (certificate followed by
 * its root) in `outDir`. Refuses an existing identity in `outDir` unless `force`, before
 * contacting the server.
 */
export async function enrollRemote(opts: EnrollRemoteOptions): Promise<EnrollResult> {
  let url: URL;
  try {
    url = new URL(opts.url);
  } catch {
    throw new EnrollmentRequestError(`"${opts.url}" is not a URL (expected https://HOST:PORT/enroll)`);
  }
  if (url.protocol !== 'https:') throw new EnrollmentRequestError(`the enrollment server URL must start with https://, got "${opts.url}"`);
  assertUserName(opts.user);
  const roots = typeof opts.caCertPem === 'string' ? [opts.caCertPem] : [...opts.caCertPem];
  let trust: TrustStore;
  try {
    trust = new TrustStore(roots, opts.overlay);
  } catch (e) {
    throw new EnrollmentRequestError(`the overlay's root certificates are unusable: ${(e as Error).message}`);
  }
  await checkIdentitySlot(opts.outDir, opts.force);

  const { keyPem, csrPem } = await createCsr(opts.user, opts.key);
  const form = encodeMultipart([
    { name: FORM_FIELDS.username, value: opts.user },
    { name: FORM_FIELDS.password, value: opts.password },
    { name: FORM_FIELDS.nodeIds, value: '1' },
    { name: FORM_FIELDS.csr, value: csrPem, contentType: PKCS10_MEDIA_TYPE },
  ]);
  const answer = await post(url, roots, form.body, form.contentType, opts.timeoutMs ?? DEFAULT_ENROLL_TIMEOUT_MS);
  if (answer.status !== 200) throw refusalError(answer, url.href);
  if (answer.contentType.split(';', 1)[0]!.trim().toLowerCase() !== PKIX_CERT_MEDIA_TYPE) {
    throw new EnrollmentRequestError(`the enrollment server at ${url.href} answered with ${answer.contentType || 'no Content-Type'}, expected ${PKIX_CERT_MEDIA_TYPE}`);
  }

  const unacceptable = (why: string) => new EnrollmentRequestError(`the enrollment server at ${url.href} sent a certificate we cannot accept: ${why}`);
  let peer;
  try {
    peer = trust.verify(answer.body, Date.now());
  } catch (e) {
    throw unacceptable((e as Error).message);
  }
  if (peer.identity.user !== opts.user) throw unacceptable(`it names user "${peer.identity.user}", not "${opts.user}"`);
  if (!peer.x509.checkPrivateKey(createPrivateKey(keyPem))) throw unacceptable('it certifies another public key than ours');
  const root = roots.find((pem) => peer.x509.checkIssued(new X509Certificate(pem)))!;
  await saveIdentity(opts.outDir, keyPem, peer.x509.toString() + root, opts.force);
  return { nodeIdHex: peer.identity.nodeIdHex, user: opts.user, overlay: opts.overlay, out: opts.outDir };
}
