/**
 * The Kademlia plugin's section of the overlay configuration (`kademlia`): its settings, their
 * defaults and the ranges the configuration loader accepts. Kept with the plugin that reads them.
 * The replica count is the storage section's (`storage.replicas`), shared by every plugin: the
 * replica set is the XOR-closest `replicas` nodes to a Resource-ID.
 */

export interface KademliaConfig {
  /**
   * Contacts per k-bucket. Smaller than the paper's 20: RELOAD routes hop by hop over links, so
   * every contact is an open connection (about k·log2(N/k) of them).
   */
  k: number;
  /** Lookups and Attaches a node runs at once while joining and refreshing (Kademlia's α). */
  alpha: number;
  /**
   * The XOR-closest peers kept whatever their bucket holds (S/Kademlia's sibling list): the peers
   * whose failure or arrival moves responsibility, checked every `updateIntervalMs`.
   */
  siblingCount: number;
  /** Period of the Update exchange with the siblings, ms: how soon a silent sibling is found. */
  updateIntervalMs: number;
  /** A bucket with no lookup into its range for this long is refreshed by one, ms (the paper: 1 h). */
  refreshIntervalMs: number;
  /** A sibling, or a contact pinged before eviction, that does not answer within this has failed, ms. */
  neighbourTimeoutMs: number;
  /** Pings waiting to decide an eviction (full bucket, newcomer); further newcomers are refused at once. */
  pingQueue: number;
}

/** Defaults applied when the document leaves a field out. */
export const KADEMLIA_DEFAULTS: Readonly<KademliaConfig> = {
  k: 8,
  alpha: 3,
  siblingCount: 6,
  updateIntervalMs: 30_000,
  refreshIntervalMs: 600_000,
  neighbourTimeoutMs: 5_000,
  pingQueue: 32,
};

/** Inclusive bounds of each field. */
export const KADEMLIA_RANGES = {
  k: [1, 64],
  alpha: [1, 16],
  siblingCount: [1, 64],
  updateIntervalMs: [50, 3_600_000],
  refreshIntervalMs: [50, 86_400_000],
  neighbourTimeoutMs: [50, 600_000],
  pingQueue: [0, 1024],
} as const satisfies Record<keyof KademliaConfig, readonly [number, number]>;
