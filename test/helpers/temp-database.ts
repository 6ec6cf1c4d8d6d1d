/**
 * A node database file in a temporary directory for tests: connections opened through it are
 * closed, and the directory removed, by `dispose` (call it in afterEach).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NODE_DB_FILE, NodeDatabase } from '../../overlay/persist/node-database.js';

export interface TempDatabase {
  /** The node.db path (the file may not exist yet). */
  path: string;
  /** Opens a connection, as a node process does at start. */
  open(): NodeDatabase;
  /** Closes every connection opened so far: the node stopped (or was killed). */
  closeAll(): void;
  /** Closes, then removes the directory. */
  dispose(): Promise<void>;
}

export async function tempDatabase(): Promise<TempDatabase> {
  const dir = await mkdtemp(join(tmpdir(), 'reload-db-'));
  const opened: NodeDatabase[] = [];
  const closeAll = () => {
    for (const db of opened.splice(0)) db.close();
  };
  return {
    path: join(dir, NODE_DB_FILE),
    open() {
      const db = NodeDatabase.open(join(dir, NODE_DB_FILE));
      opened.push(db);
      return db;
    },
    closeAll,
    async dispose() {
      closeAll();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
