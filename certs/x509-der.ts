/**
 * The DER pieces node-forge cannot make. forge builds certificate and request structures but only
 * knows RSA keys and signs in JavaScript (~20 ms per RSA-2048 signature); here a structure built by
 * forge gets any SubjectPublicKeyInfo node:crypto can export (RSA or EC P-256) and a native
 * signature by an RSA or P-256 key (RFC 5280 §4.1, RFC 2986 §4).
 */
import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import forge from 'node-forge';

const asn1 = forge.asn1;

/** forge functions its type definitions leave out. */
const forgeInternals = forge.pki as unknown as {
  getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1;
  getCertificationRequestInfo(csr: forge.pki.CertificateSigningRequest): forge.asn1.Asn1;
};
const fromDerWithOptions = asn1.fromDer as unknown as (bytes: forge.util.ByteStringBuffer, options: { decodeBitStrings: boolean }) => forge.asn1.Asn1;

const OID_SHA256_WITH_RSA = '1.2.840.113549.1.1.11';
const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';

/** An RSA public key that only holds a SubjectPublicKeyInfo's place until withSpki replaces it. */
export const PLACEHOLDER_KEY = forge.pki.setRsaPublicKey(new forge.jsbn.BigInteger('3'), new forge.jsbn.BigInteger('3'));

/** The signature algorithm OID for signatures by `key` (RSA or EC on P-256, SHA-256). */
export function signatureOidOf(key: KeyObject): string {
  if (key.asymmetricKeyType === 'rsa') return OID_SHA256_WITH_RSA;
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return OID_ECDSA_WITH_SHA256;
  throw new RangeError(`a ${key.asymmetricKeyType} key cannot sign certificates here (RSA or EC on P-256)`);
}

function toDer(node: forge.asn1.Asn1): Buffer {
  return Buffer.from(asn1.toDer(node).getBytes(), 'binary');
}

function fromDer(der: Uint8Array): forge.asn1.Asn1 {
  // A signature in a BIT STRING is not to be read as ASN.1 (forge tries by default).
  return fromDerWithOptions(forge.util.createBuffer(Buffer.from(der).toString('binary')), { decodeBitStrings: false });
}

function withSpki(info: forge.asn1.Asn1, index: number, publicKey: KeyObject): forge.asn1.Asn1 {
  (info.value as forge.asn1.Asn1[])[index] = fromDer(publicKey.export({ type: 'spki', format: 'der' }));
  return info;
}

/** The certificate's TBSCertificate with `publicKey` in it (forge's cert holds the placeholder). */
export function tbsCertificate(cert: forge.pki.Certificate, publicKey: KeyObject): forge.asn1.Asn1 {
  // version, serial, signature, issuer, validity, subject, SubjectPublicKeyInfo (6), extensions
  return withSpki(forgeInternals.getTBSCertificate(cert), 6, publicKey);
}

/** The request's CertificationRequestInfo with `publicKey` in it. */
export function requestInfo(csr: forge.pki.CertificateSigningRequest, publicKey: KeyObject): forge.asn1.Asn1 {
  // version, subject, SubjectPublicKeyInfo (2), attributes
  return withSpki(forgeInternals.getCertificationRequestInfo(csr), 2, publicKey);
}

/** AlgorithmIdentifier: RSA carries NULL parameters, ECDSA none (RFC 4055 §5, RFC 5758 §3.2). */
function algorithmIdentifier(oid: string): forge.asn1.Asn1 {
  const items = [asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(oid).getBytes())];
  if (oid === OID_SHA256_WITH_RSA) items.push(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, ''));
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, items);
}

/** SEQUENCE { info, signatureAlgorithm, BIT STRING signature } signed by `key`, as DER. */
export function signStructure(info: forge.asn1.Asn1, key: KeyObject): Buffer {
  const signature = sign('sha256', toDer(info), key);
  const bits = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, '\0' + signature.toString('binary'));
  return toDer(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [info, algorithmIdentifier(signatureOidOf(key)), bits]));
}

/** A signed structure whose signature verified: the parsed whole and the key that signed it. */
export interface VerifiedStructure {
  whole: forge.asn1.Asn1;
  publicKey: KeyObject;
}

/**
 * Checks a self-signed structure (a CertificationRequest: the key in its own info at `spkiIndex`
 * signed it). Throws an Error saying what is wrong.
 */
export function verifySelfSigned(der: Uint8Array, spkiIndex: number): VerifiedStructure {
  const whole = fromDer(der);
  const [info, algorithm, bits] = whole.value as forge.asn1.Asn1[];
  const spki = (info?.value as forge.asn1.Asn1[] | undefined)?.[spkiIndex];
  if (!info || !algorithm || !bits || !spki || bits.type !== asn1.Type.BITSTRING) throw new Error('not a signed structure');
  const publicKey = createPublicKey({ key: toDer(spki), format: 'der', type: 'spki' });
  const oid = asn1.derToOid(forge.util.createBuffer(((algorithm.value as forge.asn1.Asn1[])[0]?.value as string) ?? ''));
  if (oid !== signatureOidOf(publicKey)) throw new Error(`signature algorithm ${oid} does not fit a ${publicKey.asymmetricKeyType} key`);
  const signature = Buffer.from((bits.value as string).slice(1), 'binary');
  if (!verify('sha256', toDer(info), publicKey, signature)) throw new Error('the signature does not verify');
  return { whole, publicKey };
}

/** Replaces the SubjectPublicKeyInfo at `index` of a signed structure's info by the placeholder, so that forge can read the rest. */
export function withPlaceholderSpki(whole: forge.asn1.Asn1, index: number): forge.asn1.Asn1 {
  const info = (whole.value as forge.asn1.Asn1[])[0]!;
  (info.value as forge.asn1.Asn1[])[index] = forge.pki.publicKeyToAsn1(PLACEHOLDER_KEY);
  return whole;
}

/** PEM armour of a DER structure. */
export function toPem(der: Uint8Array, label: 'CERTIFICATE' | 'CERTIFICATE REQUEST'): string {
  return `-----BEGIN ${label}-----\n${Buffer.from(der).toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`;
}
