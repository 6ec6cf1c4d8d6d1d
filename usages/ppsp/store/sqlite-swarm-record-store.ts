/**
 * The swarms a node seeds or has downloaded, in the node's database (overlay/persist), so that a
 * restarted node serves them again; the file's size, mtime and inode tell whether its chunks must
 * be hashed again.
 */
import { DatabaseError, type NodeDatabase } from '../../../overlay/index.js';
import type { SwarmRecord, SwarmRecordStore } from './swarm-record-store.js';

const SCHEMA = [
  `CREATE TABLE ppsp_swarms (
     swarm_id TEXT PRIMARY KEY,       -- 64 hex digits
     role TEXT NOT NULL CHECK (role IN ('seed', 'download')),
     path TEXT NOT NULL,              -- the seeded file or the download's output file, absolute
     metadata BLOB NOT NULL,          -- the swarm's metadata as the usage encodes it
     leaf_hashes BLOB,                -- the chunks' leaf hashes, concatenated, once known
     file_size INTEGER,               -- the file when its chunks were hashed: bytes,
     file_mtime_ms REAL,              -- modification time (ms, with a fraction),
     file_ino INTEGER                 -- and inode; all three or none
   ) WITHOUT ROWID`,
];

interface Row {
  swarm_id: string;
  role: string;
  path: string;
  metadata: Uint8Array;
  leaf_hashes: Uint8Array | null;
  file_size: number | null;
  file_mtime_ms: number | null;
  file_ino: number | null;
}

const SWARM_ID = /^[0-9a-f]{64}$/;

export class SqliteSwarmRecordStore implements SwarmRecordStore {
  private readonly sql;

  constructor(private readonly db: NodeDatabase) {
    db.migrate('ppsp-swarms', SCHEMA);
    this.sql = {
      all: db.sqlite.prepare('SELECT * FROM ppsp_swarms ORDER BY swarm_id'),
      put: db.sqlite.prepare(
        `INSERT OR REPLACE INTO ppsp_swarms (swarm_id, role, path, metadata, leaf_hashes, file_size, file_mtime_ms, file_ino)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      delete: db.sqlite.prepare('DELETE FROM ppsp_swarms WHERE swarm_id = ?'),
    };
  }

  /** Every record; a row that is not one is a DatabaseError naming the swarm. */
  load(): SwarmRecord[] {
    return (this.sql.all.all() as Row[]).map((row) => this.record(row));
  }

  /** Adds or replaces a record; committed when it returns (one statement is one transaction). */
  put(r: SwarmRecord): void {
    this.sql.put.run(r.swarmId, r.role, r.path, r.metadata, r.leafHashes ?? null, r.file?.size ?? null, r.file?.mtimeMs ?? null, r.file?.ino ?? null);
  }

  delete(swarmId: string): void {
    this.sql.delete.run(swarmId);
  }

  private record(row: Row): SwarmRecord {
    const corrupt = (why: string) => new DatabaseError(`${this.db.path}: the record of swarm ${row.swarm_id} is corrupt (${why}); move the file away or delete the row`);
    if (!SWARM_ID.test(row.swarm_id)) throw corrupt('not a swarm ID');
    if (row.role !== 'seed' && row.role !== 'download') throw corrupt(`role ${row.role}`);
    if (row.path === '') throw corrupt('no path');
    const file = [row.file_size, row.file_mtime_ms, row.file_ino];
    if (file.some((v) => v === null) && file.some((v) => v !== null)) throw corrupt('part of the file state is missing');
    return {
      swarmId: row.swarm_id,
      role: row.role,
      path: row.path,
      metadata: Uint8Array.from(row.metadata),
      ...(row.leaf_hashes ? { leafHashes: Uint8Array.from(row.leaf_hashes) } : {}),
      ...(row.file_size !== null ? { file: { size: row.file_size, mtimeMs: row.file_mtime_ms!, ino: row.file_ino! } } : {}),
    };
  }
}
