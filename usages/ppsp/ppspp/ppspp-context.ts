/**
 * What a PPSPP decoder must know about a channel to find where its messages end (RFC 7574 §8):
 * chunk specs are 4, 8 or 16 bytes by the Chunk Addressing Method (§7.8, §4), an INTEGRITY hash is
 * as long as the Merkle Hash Tree Function's output (§7.6, §8.8), and a SIGNED_INTEGRITY signature as
 * long as the live signature algorithm and key make it (§7.7, §8.9). None of these is on the wire
 * next to the field, so a datagram is only parseable against this context.
 *
 * A HANDSHAKE's options set the context for the messages after it (a peer's first datagram is
 * HANDSHAKE then HAVE, as in the protocol's worked example), and the caller keeps the result for the channel.
 */
import { findOption, MERKLE_HASH_FUNCTION, type MerkleHashFunction, type ProtocolOption } from './ppspp-options.js';
import type { ChunkAddressing } from './ppspp-chunk-spec.js';

/**
 * Our one message beyond Table 7, from its unassigned range 14..254: a part of one of our own
 * data-channel frames (ppspp-link.ts). Sent only to a peer that listed it in its supported messages.
 */
export const FRAME_PART_TYPE = 253;

export interface PpsppContext {
  readonly chunkAddressing: ChunkAddressing;
  readonly merkleHashFunction: MerkleHashFunction;
  /** DNSSEC algorithm number of the swarm's live signatures (§7.7). */
  readonly liveSignatureAlgorithm: number;
  /**
   * Bytes of a SIGNED_INTEGRITY signature when the caller knows them from the swarm's key (an RSA
   * signature is as long as the modulus in the swarm ID, §8.9). Overrides the algorithm's fixed length.
   */
  readonly signatureBytes?: number;
  /**
   * The peer named FRAME_PART (253) among its supported messages (§7.10): our own peers do, on
   * the `ppspp` transport of our swarms (ppspp-link.ts). No other peer's datagram may hold one.
   */
  readonly frameParts?: boolean;
}

/** DNSSEC numbers of ECDSAP256SHA256 and ECDSAP384SHA384 (RFC 6605), the fixed-length algorithms §8.9 names. */
export const ECDSAP256SHA256 = 13;
export const ECDSAP384SHA384 = 14;

/** Signature bytes of the fixed-length algorithms (§8.9: 64 and 96). */
const FIXED_SIGNATURE_BYTES: ReadonlyMap<number, number> = new Map([
  [ECDSAP256SHA256, 64],
  [ECDSAP384SHA384, 96],
]);

/**
 * The RFC's defaults: 32-bit chunk ranges (§7.8), SHA-1 (§7.6), ECDSAP256SHA256 (§7.7). A channel
 * starts here until a HANDSHAKE says otherwise.
 */
export const DEFAULT_PPSPP_CONTEXT: PpsppContext = Object.freeze({
  chunkAddressing: 'chunkRanges32',
  merkleHashFunction: 'sha1',
  liveSignatureAlgorithm: ECDSAP256SHA256,
});

/** Bytes of one INTEGRITY hash on this channel. */
export function hashBytes(context: PpsppContext): number {
  return MERKLE_HASH_FUNCTION[context.merkleHashFunction].bytes;
}

/** Bytes of one SIGNED_INTEGRITY signature on this channel, or undefined if nothing says. */
export function signatureBytes(context: PpsppContext): number | undefined {
  return context.signatureBytes ?? FIXED_SIGNATURE_BYTES.get(context.liveSignatureAlgorithm);
}

/** The context after a HANDSHAKE carrying `options`: each option present replaces its setting. */
export function contextAfterOptions(context: PpsppContext, options: readonly ProtocolOption[]): PpsppContext {
  const chunkAddressing = findOption(options, 'chunkAddressingMethod');
  const merkleHashFunction = findOption(options, 'merkleHashTreeFunction');
  const liveSignatureAlgorithm = findOption(options, 'liveSignatureAlgorithm');
  const frameParts = findOption(options, 'supportedMessages')?.includes(FRAME_PART_TYPE);
  if (chunkAddressing === undefined && merkleHashFunction === undefined && liveSignatureAlgorithm === undefined && frameParts === undefined) return context;
  return {
    ...context,
    ...(frameParts === undefined ? {} : { frameParts }),
    ...(chunkAddressing === undefined ? {} : { chunkAddressing }),
    ...(merkleHashFunction === undefined ? {} : { merkleHashFunction }),
    ...(liveSignatureAlgorithm === undefined ? {} : { liveSignatureAlgorithm }),
  };
}
