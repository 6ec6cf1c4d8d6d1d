/**
 * What `reload-ppsp node` keeps in its data directory across restarts: the node database
 * (node.db) and the stores in it — the values stored for others, the peer cache, the PPSP swarms.
 * Opened once per node process; `close` when the node has stopped.
 */
import { join } from 'node:path';
import { NODE_DB_FILE, NodeDatabase } from '../overlay/persist/node-database.js';
import { SqlitePeerCacheStore } from '../overlay/persist/sqlite-peer-cache-store.js';
import { SqliteBackend } from '../overlay/storage/sqlite-backend.js';
import { SqliteSwarmRecordStore } from '../usages/ppsp/store/sqlite-swarm-record-store.js';

export interface NodeStores {
  storageBackend: SqliteBackend;
  peerCacheStore: SqlitePeerCacheStore;
  swarmRecordStore: SqliteSwarmRecordStore;
  close(): void;
}

/** Opens the database in `dataDir` and loads each store; a damaged or newer file is a DatabaseError. */
export function openNodeStores(dataDir: string): NodeStores {
  const db = NodeDatabase.open(join(dataDir, NODE_DB_FILE));
  try {
    return {
      storageBackend: new SqliteBackend(db),
      peerCacheStore: new SqlitePeerCacheStore(db),
      swarmRecordStore: new SqliteSwarmRecordStore(db),
      close: () => db.close(),
    };
  } catch (e) {
    db.close();
    throw e;
  }
}
