/**
 * What a live swarm is: the source's certificate, the channel's name and media type, its chunk size
 * and discard window, when it started and a nonce (RFC 7574 §6.1 names a live swarm by the source's
 * public key; ours names the whole descriptor, certificate included, so one source can run several
 * channels and a restarted channel is a new swarm whose old chunks cannot be replayed into it).
 *
 * The swarm ID is SHA-256 over a domain tag and the descriptor's CBOR; viewers get the descriptor
 * from any peer (LIVE_METADATA), check it hashes to the ID they asked for, and check the certificate
 * chains to the overlay's root: only an enrolled node can broadcast, and only chunks its key signed
 * are accepted (live-chunk.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { bytes, decodeCbor, encodeCbor, ErrorCode, fail, ReloadError, text, tuple, u64Item, u64Number, uint } from '../../../overlay/index.js';
import { MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from '../content/swarm-id.js';

/** Version of the descriptor's wire form. */
const DESCRIPTOR_VERSION = 1;
/** Domain tag hashed before the descriptor, so a live ID never equals a static one by construction. */
const ID_DOMAIN = Buffer.from('reload-ppsp live swarm\0');
/** Chunks a discard window holds at most (64 MiB at 16 KiB chunks). */
export const MAX_WINDOW_CHUNKS = 4096;
/** Chunks a discard window holds at least. */
export const MIN_WINDOW_CHUNKS = 16;
/** Default discard window: 1,024 chunks, 16 MiB at 16 KiB (a minute of a 2 Mbit/s channel). */
export const DEFAULT_WINDOW_CHUNKS = 1024;
/** Longest certificate a descriptor carries. */
const MAX_CERT_BYTES = 8192;
const NONCE_BYTES = 16;

export interface LiveDescriptor {
  /** The source's certificate (DER): its key signs every chunk. */
  sourceCert: Uint8Array;
  name: string;
  /** The media type players are told, e.g. video/mp2t. */
  mediaType: string;
  /** Largest chunk, bytes. */
  chunkSize: number;
  /** Chunks behind the newest that peers keep and serve (the discard window). */
  windowChunks: number;
  /** When the source started, ms since the epoch (its clock). */
  startedAtMs: number;
  nonce: Uint8Array;
}

/** A descriptor for a new channel of the source with certificate `sourceCert`. */
export function newLiveDescriptor(sourceCert: Uint8Array, opts: { name: string; mediaType: string; chunkSize: number; windowChunks: number; nowMs: number }): LiveDescriptor {
  const d: LiveDescriptor = { sourceCert, name: opts.name, mediaType: opts.mediaType, chunkSize: opts.chunkSize, windowChunks: opts.windowChunks, startedAtMs: opts.nowMs, nonce: randomBytes(NONCE_BYTES) };
  decodeLiveDescriptor(encodeLiveDescriptor(d)); // refuses bad values here, not at the viewers
  return d;
}

export function encodeLiveDescriptor(d: LiveDescriptor): Uint8Array {
  return encodeCbor([DESCRIPTOR_VERSION, d.sourceCert, d.name, d.mediaType, d.chunkSize, d.windowChunks, u64Item(d.startedAtMs, 'live.startedAtMs'), d.nonce]);
}

/** Parses a descriptor strictly (Invalid_Message naming the field). */
export function decodeLiveDescriptor(encoded: Uint8Array): LiveDescriptor {
  const [version, cert, name, mediaType, chunkSize, windowChunks, startedAtMs, nonce] = tuple(decodeCbor(encoded), 'live', 8);
  if (version !== DESCRIPTOR_VERSION) fail('live.version', `${String(version)} is not ${DESCRIPTOR_VERSION}`);
  return {
    sourceCert: bytes(cert, 'live.sourceCert', 1, MAX_CERT_BYTES),
    name: text(name, 'live.name', 256),
    mediaType: text(mediaType, 'live.mediaType', 128),
    chunkSize: uint(chunkSize, 'live.chunkSize', MIN_CHUNK_SIZE, MAX_CHUNK_SIZE),
    windowChunks: uint(windowChunks, 'live.windowChunks', MIN_WINDOW_CHUNKS, MAX_WINDOW_CHUNKS),
    startedAtMs: u64Number(startedAtMs, 'live.startedAtMs'),
    nonce: bytes(nonce, 'live.nonce', NONCE_BYTES, NONCE_BYTES),
  };
}

/** The swarm ID (64 hex digits) of an encoded descriptor. */
export function liveSwarmIdOf(encoded: Uint8Array): string {
  return createHash('sha256').update(ID_DOMAIN).update(encoded).digest('hex');
}

/** Checks an encoded descriptor hashes to `swarmId`; Forbidden (`wrong_swarm`) if not. */
export function checkLiveSwarmId(encoded: Uint8Array, swarmId: string): LiveDescriptor {
  if (liveSwarmIdOf(encoded) !== swarmId) throw new ReloadError(ErrorCode.Forbidden, 'the live descriptor does not hash to the swarm ID', 'wrong_swarm');
  return decodeLiveDescriptor(encoded);
}
