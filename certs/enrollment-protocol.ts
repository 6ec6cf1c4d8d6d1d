/**
 * What the enrollment server and its client agree on (RFC 6940 §11.3): the path, the form field
 * names, the media types, the size bound and the refusal tokens with their meaning in words.
 */
import type { EnrollmentError } from './ca.js';

/** The path the server answers on (`/` is accepted too: the RFC names only a URL). */
export const ENROLL_PATH = '/enroll';
/** The form fields of an enrollment request. */
export const FORM_FIELDS = { username: 'username', password: 'password', nodeIds: 'nodeids', csr: 'csr' } as const;
/** The media type of the CSR part. */
export const PKCS10_MEDIA_TYPE = 'application/pkcs10';
/** The media type of a successful answer: the bare DER certificate. */
export const PKIX_CERT_MEDIA_TYPE = 'application/pkix-cert';
/**
 * Largest request body, in bytes: a 4096-bit CSR in PEM is about 1.7 KiB, so 64 KiB leaves room
 * for any sane request and bounds what an unauthenticated sender can make the server buffer.
 */
export const ENROLL_MAX_BODY_BYTES = 64 * 1024;
/** Largest answer body the client reads, in bytes (a certificate is around 1 KiB). */
export const ENROLL_MAX_RESPONSE_BYTES = 64 * 1024;

/** An RFC 6940 §11.3 refusal token. */
export type EnrollmentReason = EnrollmentError['reason'];

/** Each refusal token explained for a person. */
export const REASON_WORDS: Record<EnrollmentReason, string> = {
  failed_authentication: 'wrong user name or password',
  username_not_available: 'the certificate request names a user other than the one that logged in',
  'Node-IDs_not_available': 'the server issues exactly one Node-ID per certificate',
  bad_CSR: 'the certificate request is malformed or its signature does not verify',
};

/** Narrows a response body to a refusal token. */
export function isEnrollmentReason(token: string): token is EnrollmentReason {
  return Object.hasOwn(REASON_WORDS, token);
}
