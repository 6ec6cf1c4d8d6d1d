/**
 * The identity an enrollment certificate carries in its subjectAltName (RFC 6940 §11.3): one URI
 * `reload://<32 hex Node-ID>@<overlay>/` and one rfc822Name with the user name.
 */
import type { X509Certificate } from 'node:crypto';
import { idFromHex, type Id } from '../overlay/id.js';

export interface CertIdentity {
  nodeId: Id;
  nodeIdHex: string;
  overlay: string;
  user: string;
}

/** Builds the SAN URI for a Node-ID. */
export function reloadUri(nodeIdHex: string, overlay: string): string {
  return `reload://${nodeIdHex.toLowerCase()}@${overlay}/`;
}

const URI_ENTRY = /(?:^|, )URI:reload:\/\/([0-9a-f]{32})@([^/,\s"]+)\//gi;
const EMAIL_ENTRY = /(?:^|, )email:([^,\s"]+)/gi;

/**
 * Reads Node-ID, overlay and user from Node's rendering of the SAN
 * (`URI:reload://<hex>@<overlay>/, email:<user>`). Returns undefined unless there is exactly one
 * reload URI and exactly one rfc822Name, as enrollment issues them.
 */
export function parseSubjectAltName(san: string | undefined): CertIdentity | undefined {
  if (!san) return undefined;
  const uris = [...san.matchAll(URI_ENTRY)];
  const emails = [...san.matchAll(EMAIL_ENTRY)];
  if (uris.length !== 1 || emails.length !== 1) return undefined;
  const [, hex, overlay] = uris[0]!;
  const nodeIdHex = hex!.toLowerCase();
  return { nodeId: idFromHex(nodeIdHex), nodeIdHex, overlay: overlay!, user: emails[0]![1]! };
}

export function certIdentity(cert: X509Certificate): CertIdentity | undefined {
  return parseSubjectAltName(cert.subjectAltName);
}
