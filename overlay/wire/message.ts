/**
 * The message model (RFC 6940 §6.3): forwarding header ‖ message contents ‖ security block.
 * Forwarders read and rewrite the header only; contents and security block stay encoded bytes
 * (`contentsBytes`, `securityBytes`) from the origin to the destination, so they are signed once
 * and never re-encoded on the way.
 */
import type { Id } from '../id.js';
import type { SignatureAlgorithm } from '../../certs/signature-scheme.js';

/** RELOAD protocol version 1.0 (RFC 6940 §6.3.2). */
export const PROTOCOL_VERSION = 0x0a;

/** A destination list entry (RFC 6940 §6.3.2.2). Resource entries may only be last. */
export type Destination =
  | { type: 'node'; id: Id }
  | { type: 'resource'; id: Id }
  | { type: 'opaque'; id: Uint8Array };

/** A forwarding option (RFC 6940 §6.3.2.3); flags as in FORWARD_CRITICAL etc. */
export interface ForwardingOption {
  type: number;
  flags: number;
  value: Uint8Array;
}

export const FORWARD_CRITICAL = 0x01;
export const DESTINATION_CRITICAL = 0x02;
export const RESPONSE_COPY = 0x04;

export interface ForwardingHeader {
  /** Low 32 bits of SHA-1(overlay name): catches misconfiguration, not attacks. */
  overlay: number;
  /** u16, must equal the receiver's configuration sequence. */
  configSequence: number;
  /** u8, PROTOCOL_VERSION. */
  version: number;
  /** u8, decremented by each forwarder. */
  ttl: number;
  /** u64, random per request; the response reuses it. */
  transactionId: bigint;
  /** u32, 0 = no limit. */
  maxResponseLength: number;
  /** The path so far: each node that sends the message appends its own Node-ID, so via[0] is the origin. */
  via: Destination[];
  /** Where the message goes; the head is the next target. */
  destinations: Destination[];
  options: ForwardingOption[];
}

export interface Extension {
  type: number;
  critical: boolean;
  contents: Uint8Array;
}

/** RFC 6940 §6.3.3. `body` is the method's own encoding (CBOR in this project). */
export interface MessageContents {
  code: number;
  body: Uint8Array;
  extensions: Extension[];
}

/** RFC 6940 §6.3.4.1 cert_hash identity: the hash of the signer's DER certificate. */
export interface SignerIdentity {
  type: 'cert_hash';
  hashAlg: 'sha256';
  certHash: Uint8Array;
}

export interface Signature {
  /** The signer's key's algorithm: RSA (the RFC's mandatory one) or ECDSA P-256; keyed-sha256 only in the simulator. */
  algorithm: SignatureAlgorithm;
  signer: SignerIdentity;
  value: Uint8Array;
}

export interface SecurityBlock {
  /** DER certificates needed to verify the signature (may be empty if the receiver has them cached). */
  certificates: Uint8Array[];
  signature: Signature;
}

/** A message as it travels: decoded header, still-encoded contents and security block. */
export interface WireMessage {
  header: ForwardingHeader;
  contentsBytes: Uint8Array;
  securityBytes: Uint8Array;
}

/** Body of an Error response (RFC 6940 §6.3.3.1). */
export interface ErrorBody {
  code: number;
  info: string;
}
