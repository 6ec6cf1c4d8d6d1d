/**
 * The CHORD-RELOAD plugin's section of the overlay configuration (`chord`): its settings, their
 * defaults and the ranges the configuration loader accepts. Kept with the plugin that reads them.
 */

/**
 * CHORD-RELOAD settings (RFC 6940 §10). The periods are shorter than the RFC's suggested 600 s
 * (Update) and 3600 s (finger ping), so that a peer that fails silently is found within a minute;
 * a failure seen as a lost link is repaired at once whatever the periods.
 */
export interface ChordConfig {
  /** Successors and predecessors kept each (RFC 6940 §10.3: at least 3). */
  neighbourCount: number;
  /** Finger table entries (RFC 6940 §10.3: at least 16, up to 128). */
  fingerCount: number;
  /** Period of the Update exchange with successors (stabilization, §10.7.4; quiet predecessors too), ms. */
  updateIntervalMs: number;
  /** Period of finger refresh, ms; each round checks the next finger. */
  fingerIntervalMs: number;
  /** A neighbour that does not answer an Update within this time is treated as failed, ms. */
  neighbourTimeoutMs: number;
  /** Attaches a node runs at once while joining or repairing. */
  attachConcurrency: number;
}

/** Defaults applied when the document leaves a field out. */
export const CHORD_DEFAULTS: Readonly<ChordConfig> = {
  neighbourCount: 3,
  fingerCount: 16,
  updateIntervalMs: 30_000,
  fingerIntervalMs: 60_000,
  neighbourTimeoutMs: 5_000,
  attachConcurrency: 4,
};

/** Inclusive bounds of each field. */
export const CHORD_RANGES = {
  neighbourCount: [1, 32],
  fingerCount: [1, 128],
  updateIntervalMs: [50, 3_600_000],
  fingerIntervalMs: [50, 3_600_000],
  neighbourTimeoutMs: [50, 600_000],
  attachConcurrency: [1, 64],
} as const satisfies Record<keyof ChordConfig, readonly [number, number]>;
