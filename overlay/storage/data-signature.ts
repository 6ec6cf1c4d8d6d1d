/**
 * Signatures over stored values (RFC 6940 §7.1). Each value is signed by the identity that stores
 * it, independently of the message that carries it, so any peer that later holds or fetches the
 * value can check who wrote it.
 *
 * Signature input = resource (16 bytes) ‖ Kind-ID (u32 BE) ‖ storage_time (u64 BE, ms)
 *                   ‖ StoredDataValue (its CBOR, codec.ts) ‖ cert_hash (SHA-256 of the signer's DER)
 *
 * Not covered, by design:
 * - the array index (RFC 6940 §7.2.2): it is zeroed before signing. An append (index 0xFFFFFFFF)
 *   gets its real index from the responsible peer after it was signed, and must still verify there
 *   and at every replica. The price, as in the RFC: a storing peer can move a signed array entry
 *   to another index undetected.
 * - the lifetime (RFC 6940 §7.1): replicas and re-stores shorten it by the time already held.
 */
import type { Identity } from '../../certs/identity.js';
import type { PeerCertificate, TrustStore } from '../../certs/trust.js';
import { ErrorCode, ReloadError } from '../errors.js';
import { ID_BYTES, type Id } from '../id.js';
import { encodeStoredDataValue } from './codec.js';
import { bytes, u32, u64Number } from '../wire/fields.js';
import type { StoredData, StoredDataValue } from './types.js';

const FIXED_BYTES = ID_BYTES + 4 + 8;

function signatureInput(resource: Id, kindId: number, storageTimeMs: number, value: StoredDataValue, certHash: Uint8Array): Buffer {
  const signedValue = encodeStoredDataValue(value.model === 'array' ? { ...value, index: 0 } : value);
  const input = Buffer.allocUnsafe(FIXED_BYTES + signedValue.length + certHash.length);
  input.set(bytes(resource, 'resource', ID_BYTES, ID_BYTES), 0);
  input.writeUInt32BE(u32(kindId, 'kindId'), ID_BYTES);
  input.writeBigUInt64BE(BigInt(u64Number(storageTimeMs, 'storageTimeMs')), ID_BYTES + 4);
  input.set(signedValue, FIXED_BYTES);
  input.set(certHash, FIXED_BYTES + signedValue.length);
  return input;
}

/**
 * Signs a value as `identity` (RSASSA-PKCS1-v1_5, SHA-256). Throws ReloadError(Invalid_Message)
 * for a field out of range.
 * @param storageTimeMs ms since the epoch; a store replaces only values with an older time
 * @param lifetimeSec seconds the value lives after each receipt (not signed)
 */
export function signStoredData(
  identity: Identity,
  resource: Id,
  kindId: number,
  data: { storageTimeMs: number; lifetimeSec: number; value: StoredDataValue },
): StoredData {
  const certHash = Buffer.from(identity.fingerprint, 'hex');
  const value = Uint8Array.from(identity.sign(signatureInput(resource, kindId, data.storageTimeMs, data.value, certHash)));
  return { storageTimeMs: data.storageTimeMs, lifetimeSec: data.lifetimeSec, value: data.value, signature: { certHash, value } };
}

function badSignature(message: string): ReloadError {
  return new ReloadError(ErrorCode.Forbidden, message, 'bad_data_signature');
}

/**
 * Checks `data`'s signature as stored at `resource` under `kindId` by `signer` (RFC 6940 §7.1).
 * The caller looks the signer up by `data.signature.certHash` and verifies its certificate chain
 * and validity first (TrustStore.verify, at the time of reading: an expired certificate makes the
 * value invalid). Throws ReloadError(Forbidden, `bad_data_signature`) when the signature names
 * another certificate or does not verify; Invalid_Message for a field out of range.
 */
export function verifyStoredData(resource: Id, kindId: number, data: StoredData, signer: PeerCertificate, trust: TrustStore): void {
  const certHash = data.signature.certHash;
  const certHashHex = Buffer.from(certHash).toString('hex');
  if (certHashHex !== signer.fingerprint) {
    throw badSignature(`the value names certificate ${certHashHex}, not ${signer.fingerprint} of ${signer.identity.nodeIdHex}`);
  }
  const input = signatureInput(resource, kindId, data.storageTimeMs, data.value, certHash);
  if (!trust.verifySignature(signer, input, data.signature.value)) throw badSignature(`the signature by ${signer.identity.nodeIdHex} over the value does not verify`);
}
