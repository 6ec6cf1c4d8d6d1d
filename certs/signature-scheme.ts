/**
 * The signature primitive behind message and value signatures (RFC 6940 §6.3.4, §7.1). Real
 * overlays sign with the key of the node's certificate: RSASSA-PKCS1-v1_5 (the RFC's mandatory
 * algorithm) or ECDSA P-256, each over SHA-256. The simulator swaps in a keyed stand-in that costs
 * microseconds instead of a millisecond and still binds the signer's certificate and the bytes, so
 * a forged or altered message is still refused; a real node never accepts it.
 */
import { createHmac, hash, sign, timingSafeEqual, verify, type KeyObject } from 'node:crypto';

/** Signature algorithms a security block can name (the TLS SignatureAndHashAlgorithm values in codec.ts). */
export type SignatureAlgorithm = 'rsa-sha256' | 'ecdsa-sha256' | 'keyed-sha256';

/** Who signs: a private key and the certificate that vouches for it. */
export interface SigningKey {
  privateKey: KeyObject;
  /** SHA-256 of the certificate's DER, lowercase hex. */
  fingerprint: string;
}

/** Who signed: a certificate whose chain has been verified. */
export interface VerifyingKey {
  publicKey: KeyObject;
  fingerprint: string;
}

export interface SignatureScheme {
  /** The algorithm of signatures by the holder of `key`; undefined for a key this scheme cannot use. */
  algorithmOf(key: KeyObject): SignatureAlgorithm | undefined;
  sign(signer: SigningKey, data: Uint8Array): Uint8Array;
  /** Whether `value` is `signer`'s signature over `data`; false (never a throw) for a malformed one. */
  verify(signer: VerifyingKey, data: Uint8Array, value: Uint8Array): boolean;
}

/** The certificate's own key: RSA or ECDSA on P-256, both with SHA-256. */
export const certificateSignatures: SignatureScheme = {
  algorithmOf(key) {
    if (key.asymmetricKeyType === 'rsa') return 'rsa-sha256';
    if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ecdsa-sha256';
    return undefined;
  },
  sign: (signer, data) => sign('sha256', data, signer.privateKey),
  verify(signer, data, value) {
    try {
      return verify('sha256', data, signer.publicKey, value);
    } catch {
      // OpenSSL refuses some malformed signature values outright instead of returning false.
      return false;
    }
  },
};

/**
 * The simulator's stand-in: SHA-256 over the bytes followed by a key derived from `secret` and the
 * signer's certificate fingerprint. The key goes last, so a tag cannot be extended to longer bytes
 * (the length-extension property of SHA-256 needs the secret in front), and one one-shot hash costs
 * about half an HMAC, which builds a keyed object per call: a simulation signs and verifies every
 * message. Every node of one simulation holds `secret`, so it proves nothing against a node of
 * that simulation; it does bind signer and bytes, which is what the protocol code checks.
 */
/** A stand-in signature: one SHA-256 digest. */
const TAG_BYTES = 32;

export function keyedStandIn(secret: Uint8Array): SignatureScheme {
  // Derived once per signing identity or verified certificate, which live as long as the node.
  const keys = new WeakMap<SigningKey | VerifyingKey, Buffer>();
  const keyOf = (holder: SigningKey | VerifyingKey) => {
    let key = keys.get(holder);
    if (!key) keys.set(holder, (key = createHmac('sha256', secret).update(holder.fingerprint).digest()));
    return key;
  };
  // The bytes and the key go through one scratch buffer and the digest comes back as hex: a
  // concatenation and a digest Buffer per call were two new ArrayBuffers per message signed or
  // verified, and allocating those grows costlier the more a process holds (10,000 nodes).
  let input = Buffer.allocUnsafeSlow(4096);
  const expected = Buffer.allocUnsafeSlow(TAG_BYTES);
  const mac = (holder: SigningKey | VerifyingKey, data: Uint8Array): string => {
    const key = keyOf(holder);
    const length = data.length + key.length;
    if (input.length < length) input = Buffer.allocUnsafeSlow(Math.max(length, 2 * input.length));
    input.set(data, 0);
    input.set(key, data.length);
    return hash('sha256', input.subarray(0, length), 'hex');
  };
  return {
    algorithmOf: () => 'keyed-sha256',
    sign: (signer, data) => Buffer.from(mac(signer, data), 'hex'),
    verify(signer, data, value) {
      if (value.length !== TAG_BYTES) return false;
      expected.write(mac(signer, data), 'hex');
      return timingSafeEqual(expected, value);
    },
  };
}
