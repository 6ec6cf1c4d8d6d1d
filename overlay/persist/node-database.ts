/**
 * A node's database: one SQLite file in its data directory (`node.db`), opened once per node
 * process and closed when the node stops. SQLite (through better-sqlite3) is an embedded database
 * made for this job: transactions, a write-ahead log and recovery after a crash, where a JSON file
 * rewritten by hand tears or loses data when the process dies in the middle of a write.
 *
 * Durability. WAL mode with `synchronous=FULL`: a commit returns once the log is fsynced, so what a
 * node acknowledged survives a SIGKILL, a kernel crash and a power loss. `NORMAL` would survive a
 * killed process too (the log's pages are in the OS's cache by then) but not a power loss; FULL
 * costs about 0.2 ms per commit on our machines, little beside the signature checks of a Store.
 * better-sqlite3 is synchronous, so a write that returned is on disk.
 *
 * One node process per data directory: the database is opened in exclusive locking mode, so a
 * second process on the same directory is refused at start instead of writing beside the first.
 *
 * Parts of the node keep their own tables, each with its own schema version (table
 * `schema_versions`): the overlay's storage and a usage's tables evolve apart, and the overlay
 * knows nothing of a usage's tables.
 */
import Database from 'better-sqlite3';

/** The database's file name in the data directory (with `-wal` beside it while the node runs). */
export const NODE_DB_FILE = 'node.db';

/** The node's database cannot be used: corrupt, of a newer schema, locked by another process. */
export class DatabaseError extends Error {
  override name = 'DatabaseError';
}

/** SQLite's result codes that mean the file itself is damaged or not a database. */
const DAMAGED = new Set(['SQLITE_NOTADB', 'SQLITE_CORRUPT']);
/** ... and that another connection holds the lock. */
const LOCKED = new Set(['SQLITE_BUSY', 'SQLITE_LOCKED']);

/** The error message of a failure to open or read `path`, for the user. */
function describe(path: string, e: unknown): DatabaseError {
  const code = (e as { code?: string }).code ?? '';
  const message = (e as Error).message;
  if (DAMAGED.has(code)) {
    return new DatabaseError(`${path} is damaged (${message}); move it away to start with an empty store (values come back from the replicas)`);
  }
  if (LOCKED.has(code)) return new DatabaseError(`${path} is in use by another node process (its data directory can serve one node at a time)`);
  return new DatabaseError(`cannot open ${path}: ${message}`);
}

export class NodeDatabase {
  private constructor(
    /** The open connection, for the tables' own statements. */
    readonly sqlite: Database.Database,
    readonly path: string,
  ) {}

  /**
   * Opens (or creates) the database at `path` and checks it: a damaged file, or one another
   * process holds, is a DatabaseError saying so.
   */
  static open(path: string): NodeDatabase {
    let sqlite: Database.Database | undefined;
    try {
      // timeout 0: a lock held by another process is reported at once, not waited for.
      sqlite = new Database(path, { timeout: 0 });
      // Before the first access, so that the lock is taken and kept (and no -shm file is used).
      sqlite.pragma('locking_mode = EXCLUSIVE');
      const mode = sqlite.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new DatabaseError(`${path}: SQLite refused the write-ahead log (journal mode ${String(mode)})`);
      sqlite.pragma('synchronous = FULL');
      const check = sqlite.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw Object.assign(new Error(`quick_check: ${String(check)}`), { code: 'SQLITE_CORRUPT' });
      sqlite.exec('CREATE TABLE IF NOT EXISTS schema_versions (part TEXT PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID');
      return new NodeDatabase(sqlite, path);
    } catch (e) {
      sqlite?.close();
      throw e instanceof DatabaseError ? e : describe(path, e);
    }
  }

  /**
   * Brings one part's tables to the newest schema: `steps[i]` is the SQL that takes version i to
   * i + 1, and runs with the new version number in one transaction. A file written by a newer
   * build (a version beyond `steps`) is a DatabaseError: this build cannot know what it means.
   */
  migrate(part: string, steps: readonly string[]): void {
    const row = this.sqlite.prepare('SELECT version FROM schema_versions WHERE part = ?').get(part) as { version: number } | undefined;
    const version = row?.version ?? 0;
    if (version > steps.length) {
      throw new DatabaseError(`${this.path} holds ${part} tables of schema version ${version}; this reload-ppsp reads up to ${steps.length}: it was written by a newer version`);
    }
    if (version === steps.length) return;
    this.transaction(() => {
      for (const sql of steps.slice(version)) this.sqlite.exec(sql);
      this.sqlite.prepare('INSERT INTO schema_versions (part, version) VALUES (?, ?) ON CONFLICT (part) DO UPDATE SET version = excluded.version').run(part, steps.length);
    });
  }

  /** Runs `fn` in one transaction: all of its writes are committed together, or none on a throw. */
  transaction<T>(fn: () => T): T {
    return this.sqlite.transaction(fn)();
  }

  /** Checkpoints the log into the file and closes; the `-wal` file goes away. */
  close(): void {
    if (this.sqlite.open) this.sqlite.close();
  }
}
