/**
 * What a swarm is made with and what it reports: its options and their defaults, what the usage
 * gives it (SwarmContext), and its progress and counters. Shared by the parts of a swarm
 * (swarm.ts and the swarm-*.ts files beside it).
 */
import type { Clock, Logger } from '../../../overlay/index.js';
import type { SessionHost } from './peer-session.js';
import type { NodeRateLimits } from './rate-limit.js';

/** A swarm member to try: its Node-ID in hex (from the tracker, or given). */
export interface PeerRef {
  nodeId: string;
}

/**
 * Requests in flight across all peers at most: 8 MiB at 16 KiB chunks, which also bounds the
 * chunks that can arrive at once. Eight peers' full windows (DEFAULT_REQUESTS_PER_PEER) fit, so
 * more peers add throughput instead of splitting a fixed window into smaller requests.
 */
export const DEFAULT_MAX_REQUESTS_IN_FLIGHT = 512;
/** A request unanswered this long (ms) is re-issued, to another holder first. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;
/** Housekeeping period (ms): timeouts, progress rate, dialling new peers. */
export const DEFAULT_TICK_INTERVAL_MS = 250;
/** Least time (ms) between two asks of the peer source, and before a failed dial is retried. */
export const DEFAULT_REDIAL_INTERVAL_MS = 2_000;
/** Sessions a downloading swarm dials at most (answered ones are not limited here). */
export const DEFAULT_MAX_PEERS = 32;
/** Bad chunks a peer may send before it is dropped for the rest of the download. */
export const DEFAULT_MAX_STRIKES = 1;
/** Verified chunks waiting for the disk at most before no more are requested (64 x 16 KiB = 1 MiB). */
export const MAX_PENDING_WRITES = 64;
/**
 * Seconds of a peer's measured rate its requests in flight cover, while a player reads: REQUESTs
 * queue at the uploader in the order sent, so a short queue lets a seek's chunks come next. Without
 * a reader, a longer queue keeps a long-latency path busy. Either way at least
 * MIN_REQUESTS_PER_PEER and at most `requestsPerPeer`.
 */
export const STREAMING_QUEUE_SECONDS = 1;
export const DOWNLOAD_QUEUE_SECONDS = 4;
export const MIN_REQUESTS_PER_PEER = 4;
/**
 * Under a download limit, seconds of it a peer's requests in flight cover at most. Requests are
 * charged to the limit as they go out, a batch whole, so a batch the size of the usual queue (up to
 * 64 chunks, 1 MiB) would let a download run ahead of its limit by that much.
 */
export const LIMITED_QUEUE_SECONDS = 0.5;
export const INITIAL_REQUESTS_PER_PEER = 16;
/** Chunks `bufferedAhead` looks at, at most (64 MiB at 16 KiB chunks). */
export const BUFFER_SCAN_CHUNKS = 4096;
/** Seconds of the upload limit one upload run takes at most. */
export const UPLOAD_RUN_SECONDS = 0.1;
/** A stream reader waits this long (ms) for a chunk, or for the metadata, before it gives up. */
export const DEFAULT_STREAM_WAIT_MS = 60_000;
/** Peers whose last ERROR a swarm remembers (for the user: why they left), at most. */
export const MAX_PEER_ERRORS = 16;

export interface SwarmOptions {
  clock?: Clock;
  log?: Logger;
  /** Upload slots of our choker; default DEFAULT_UPLOAD_SLOTS (choker.ts). */
  uploadSlots?: number;
  /** Rechoke period, ms; default RECHOKE_INTERVAL_MS. */
  rechokeIntervalMs?: number;
  /** Requests in flight to one peer; default DEFAULT_REQUESTS_PER_PEER. */
  requestsPerPeer?: number;
  /** See DEFAULT_MAX_REQUESTS_IN_FLIGHT. */
  maxRequestsInFlight?: number;
  /** See DEFAULT_REQUEST_TIMEOUT_MS. */
  requestTimeoutMs?: number;
  /** See DEFAULT_TICK_INTERVAL_MS. */
  tickIntervalMs?: number;
  /** See DEFAULT_REDIAL_INTERVAL_MS. */
  redialIntervalMs?: number;
  /** See DEFAULT_MAX_PEERS. */
  maxPeers?: number;
  /** See DEFAULT_MAX_STRIKES. */
  maxStrikes?: number;
  /** Leaf hashes per HASHES frame; default DEFAULT_HASHES_PER_FRAME. */
  hashesPerFrame?: number;
  /** Discard a partial download instead of resuming it. Default false. */
  restart?: boolean;
  /** Upload limit of this swarm, bytes/s; 0 or undefined: none (the node's may still apply). */
  uploadLimit?: number;
  /** Download limit of this swarm, bytes/s; 0 or undefined: none. */
  downloadLimit?: number;
  /** Longest wait (ms) of a stream reader for one chunk; default DEFAULT_STREAM_WAIT_MS. */
  streamWaitMs?: number;
  /** Chunk-store sync batch (chunks); default the store's. */
  syncEveryChunks?: number;
  /** Least time between two checks that the file we serve is unchanged, ms; default DEFAULT_SEED_CHECK_INTERVAL_MS. */
  seedCheckIntervalMs?: number;
}

/** What the usage gives a swarm: who we are, how to reach a peer, and where peers come from. */
export interface SwarmContext {
  localNodeId: string;
  /** Opens a data channel to a Node-ID and a session on it for `host` (rejects if it cannot be reached). */
  connect(nodeId: string, host: SessionHost): Promise<void>;
  /** Members to try; a seeder may have none and only answer. */
  peers?: () => Promise<PeerRef[]>;
  /** The node's rate limits, shared by its swarms. */
  nodeLimits?: NodeRateLimits;
  /** Uniform in [0, 1): the node's random source (choker, piece picker, dial order); default Math.random. */
  random?: () => number;
}

/** A progress event: chunks held, chunks in all, download rate (bytes/s), connected peers. */
export interface SwarmProgress {
  have: number;
  total: number;
  bytesPerSec: number;
  peers: number;
}

/** Counters of one swarm (chunks are counted once each; bytes are chunk bytes). */
export interface SwarmStats {
  /** New chunks verified and stored by this run. */
  chunksReceived: number;
  /** DATA accepted for a chunk already held (end game). */
  duplicates: number;
  /** DATA that failed verification (wrong length or proof): never stored. */
  corruptCaught: number;
  /** Requests re-issued after `requestTimeoutMs`. */
  timeouts: number;
  /** Chunks held when the download was opened (resumed from disk). */
  resumedChunks: number;
  /** CHOKE / UNCHOKE messages sent by our choker, and the most peers unchoked at once. */
  chokesSent: number;
  unchokesSent: number;
  maxUnchoked: number;
  /** Bytes uploaded / downloaded per peer over the swarm's life (closed sessions included). */
  uploadedTo: Map<string, number>;
  downloadedFrom: Map<string, number>;
  /** Peers dropped for bad chunks. */
  banned: Set<string>;
  /** Peers we sent CHOKE to at least once. */
  choked: Set<string>;
  /** Peers that sent us CHOKE at least once: the other side of `choked`. */
  chokedBy: Set<string>;
  /** The last ERROR text of peers that closed with one (at most MAX_PEER_ERRORS peers). */
  peerErrors: Map<string, string>;
  /** Ms sessions waited for the upload limits (summed over sessions), and the request pump for the download limits. */
  uploadThrottledMs: number;
  downloadThrottledMs: number;
}

export function newSwarmStats(): SwarmStats {
  return {
    chunksReceived: 0,
    duplicates: 0,
    corruptCaught: 0,
    timeouts: 0,
    resumedChunks: 0,
    chokesSent: 0,
    unchokesSent: 0,
    maxUnchoked: 0,
    uploadThrottledMs: 0,
    downloadThrottledMs: 0,
    uploadedTo: new Map(),
    downloadedFrom: new Map(),
    banned: new Set(),
    choked: new Set(),
    chokedBy: new Set(),
    peerErrors: new Map(),
  };
}
