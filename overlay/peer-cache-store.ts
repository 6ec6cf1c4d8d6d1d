/**
 * Where a node keeps its peer cache (RFC 6940 §11.4) across restarts: the addresses of peers it
 * met, tried when no bootstrap node answers. The node loads it once at start and saves it when it
 * changes; without a store the cache lives only in memory.
 */
import type { BootstrapNode } from './config.js';

export interface CachedPeer {
  /** Node-ID, 32 hex digits. */
  nodeIdHex: string;
  address: BootstrapNode;
}

export interface PeerCacheStore {
  /** Peers saved before, least recently used first. */
  load(): CachedPeer[];
  /** Replaces what is saved with these peers (at most the cache's size). */
  save(peers: CachedPeer[]): void;
}
