/**
 * Where the PPSP usage keeps the swarms it seeds or has downloaded across restarts, so that they
 * are served again without re-hashing files that did not change. Without a store they live in
 * memory only.
 */

export interface SwarmRecord {
  /** The swarm ID, 64 hex digits. */
  swarmId: string;
  role: 'seed' | 'download';
  /** The file seeded, or the download's output file (absolute). */
  path: string;
  /** The swarm's metadata, encoded by the usage. */
  metadata: Uint8Array;
  /** The chunks' leaf hashes, concatenated, once known. */
  leafHashes?: Uint8Array;
  /** The file as it was when its chunks were hashed: a change means it must be checked again. */
  file?: { size: number; mtimeMs: number; ino: number };
}

export interface SwarmRecordStore {
  load(): SwarmRecord[];
  /** Adds or replaces the record of `record.swarmId`. */
  put(record: SwarmRecord): void;
  delete(swarmId: string): void;
}
