/**
 * The peer cache (RFC 6940 §11.4) in the node's database, so that a restarted node whose bootstrap
 * nodes do not answer can still get back in through a peer it met before.
 */
import { systemClock, type Clock } from '../clock.js';
import { isHexId } from '../id.js';
import type { CachedPeer, PeerCacheStore } from '../peer-cache-store.js';
import { DatabaseError, type NodeDatabase } from './node-database.js';

const SCHEMA = [
  `CREATE TABLE peer_cache (
     node_id TEXT PRIMARY KEY,        -- 32 hex digits
     host TEXT NOT NULL,
     port INTEGER NOT NULL,
     last_seen_ms INTEGER NOT NULL    -- when the node last used this peer, ms since the epoch
   ) WITHOUT ROWID`,
];

interface Row {
  node_id: string;
  host: string;
  port: number;
  last_seen_ms: number;
}

export class SqlitePeerCacheStore implements PeerCacheStore {
  private readonly sql;

  constructor(
    private readonly db: NodeDatabase,
    private readonly clock: Clock = systemClock,
  ) {
    db.migrate('peer-cache', SCHEMA);
    this.sql = {
      all: db.sqlite.prepare('SELECT node_id, host, port, last_seen_ms FROM peer_cache ORDER BY last_seen_ms, node_id'),
      clear: db.sqlite.prepare('DELETE FROM peer_cache'),
      insert: db.sqlite.prepare('INSERT INTO peer_cache (node_id, host, port, last_seen_ms) VALUES (?, ?, ?, ?)'),
    };
  }

  /** Least recently used first; a row that is no peer address is a DatabaseError. */
  load(): CachedPeer[] {
    return (this.sql.all.all() as Row[]).map((row) => {
      if (!isHexId(row.node_id) || !Number.isInteger(row.port) || row.port < 1 || row.port > 65_535 || row.host === '') {
        throw new DatabaseError(`${this.db.path}: the peer cache entry ${row.node_id} is corrupt; move the file away or delete the row`);
      }
      return { nodeIdHex: row.node_id, address: { host: row.host, port: row.port } };
    });
  }

  /**
   * Replaces the cache with `peers` (least recently used first), in one transaction. The last one
   * is seen now; the others keep the time they were last seen, moved back where needed so that
   * the order loads as it was saved.
   */
  save(peers: CachedPeer[]): void {
    const seen = new Map((this.sql.all.all() as Row[]).map((r) => [r.node_id, r.last_seen_ms]));
    let next = this.clock.now() + 1;
    const times = peers.map(() => 0);
    for (let i = peers.length - 1; i >= 0; i--) {
      const before = i === peers.length - 1 ? undefined : seen.get(peers[i]!.nodeIdHex);
      times[i] = next = Math.min(before ?? next - 1, next - 1);
    }
    this.db.transaction(() => {
      this.sql.clear.run();
      peers.forEach((p, i) => this.sql.insert.run(p.nodeIdHex, p.address.host, p.address.port, times[i]));
    });
  }
}
