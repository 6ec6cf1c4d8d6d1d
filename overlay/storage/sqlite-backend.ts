/**
 * A StorageBackend in the node's database (persist/node-database.ts), so that what a peer stores
 * for others survives a restart or a crash: each value with its signature, storage time, lifetime
 * and expiry, each Kind's generation, and the signers' certificates.
 *
 * The engine works on objects, so everything is also held in memory (the engine's byte bound
 * bounds both). `put` writes what changed since the last write of that resource — rows of
 * entries it has not written yet, rows of entries gone, a changed generation — in one transaction,
 * and returns once it is committed: a Store is acknowledged only after its value is on disk.
 * Entries are never changed in place (a new value is a new Entry), so an entry object already
 * written needs no second write.
 */
import { fingerprintOf } from '../../certs/trust.js';
import { ErrorCode, ReloadError } from '../errors.js';
import { idFromHex, isHexId } from '../id.js';
import { DatabaseError, type NodeDatabase } from '../persist/node-database.js';
import { decodeStoredData, encodeStoredData } from './codec.js';
import { entryBytes, entryKey, type Entry, type KindSlot } from './kind-slot.js';
import { MemoryBackend, type ResourceState } from './storage-backend.js';

/** The storage tables, one SQL step per schema version (NodeDatabase.migrate). */
const SCHEMA = [
  `CREATE TABLE storage_kinds (
     resource TEXT NOT NULL,          -- Resource-ID, 32 hex digits
     kind_id INTEGER NOT NULL,
     generation TEXT NOT NULL,        -- u64 in decimal: beyond SQLite's signed 64-bit integers
     PRIMARY KEY (resource, kind_id)
   ) WITHOUT ROWID;
   CREATE TABLE storage_values (
     resource TEXT NOT NULL,
     kind_id INTEGER NOT NULL,
     entry_key TEXT NOT NULL,         -- 's', 'a<index>' or 'd<key in hex>' (kind-slot.ts entryKey)
     expires_at_ms INTEGER NOT NULL,  -- when the lifetime runs out, ms since the epoch
     signer TEXT NOT NULL,            -- SHA-256 fingerprint (hex) of the signer's certificate
     stored_data BLOB NOT NULL,       -- StoredData in CBOR: storage time, lifetime, value, signature
     PRIMARY KEY (resource, kind_id, entry_key)
   ) WITHOUT ROWID;
   CREATE TABLE storage_certificates (
     fingerprint TEXT PRIMARY KEY,    -- SHA-256 of the DER, hex
     der BLOB NOT NULL
   ) WITHOUT ROWID;`,
];

const MAX_U64 = (1n << 64n) - 1n;
const FINGERPRINT = /^[0-9a-f]{64}$/;

interface KindRow {
  resource: string;
  kind_id: number;
  generation: string;
}

interface ValueRow {
  resource: string;
  kind_id: number;
  entry_key: string;
  expires_at_ms: number;
  signer: string;
  stored_data: Uint8Array;
}

/** What the database holds of one resource: per Kind its generation and the entry objects written. */
type Written = Map<number, KindSlot>;

/** A snapshot of a resource's slots that later changes to `state` do not reach. */
function snapshot(state: ResourceState): Written {
  return new Map([...state.kinds].map(([kindId, slot]) => [kindId, { generation: slot.generation, entries: new Map(slot.entries) }]));
}

/**
 * The in-memory backend, written through to the database: reads come from memory, and each change
 * is committed before memory takes it, so a failed write changes nothing.
 */
export class SqliteBackend extends MemoryBackend {
  private readonly written = new Map<string, Written>();
  private readonly sql;

  /** Creates or upgrades the tables in `db` and loads what they hold; a corrupt row is a DatabaseError. */
  constructor(private readonly db: NodeDatabase) {
    super();
    db.migrate('storage', SCHEMA);
    const s = db.sqlite;
    this.sql = {
      putKind: s.prepare('INSERT INTO storage_kinds (resource, kind_id, generation) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET generation = excluded.generation'),
      deleteKind: s.prepare('DELETE FROM storage_kinds WHERE resource = ? AND kind_id = ?'),
      putValue: s.prepare(
        `INSERT INTO storage_values (resource, kind_id, entry_key, expires_at_ms, signer, stored_data) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT DO UPDATE SET expires_at_ms = excluded.expires_at_ms, signer = excluded.signer, stored_data = excluded.stored_data`,
      ),
      deleteValue: s.prepare('DELETE FROM storage_values WHERE resource = ? AND kind_id = ? AND entry_key = ?'),
      deleteResourceKinds: s.prepare('DELETE FROM storage_kinds WHERE resource = ?'),
      deleteResourceValues: s.prepare('DELETE FROM storage_values WHERE resource = ?'),
      putCertificate: s.prepare('INSERT OR REPLACE INTO storage_certificates (fingerprint, der) VALUES (?, ?)'),
      deleteCertificate: s.prepare('DELETE FROM storage_certificates WHERE fingerprint = ?'),
    };
    this.load();
  }

  override put(resourceHex: string, state: ResourceState): void {
    const before: Written = this.written.get(resourceHex) ?? new Map();
    this.write(() => {
      for (const [kindId, slot] of state.kinds) {
        const old = before.get(kindId);
        if (old?.generation !== slot.generation) this.sql.putKind.run(resourceHex, kindId, slot.generation.toString());
        for (const [key, entry] of slot.entries) {
          if (old?.entries.get(key) === entry) continue;
          this.sql.putValue.run(resourceHex, kindId, key, entry.expiresAtMs, entry.signer, encodeStoredData(entry.data));
        }
        for (const key of old?.entries.keys() ?? []) if (!slot.entries.has(key)) this.sql.deleteValue.run(resourceHex, kindId, key);
      }
      for (const [kindId, old] of before) {
        if (state.kinds.has(kindId)) continue;
        this.sql.deleteKind.run(resourceHex, kindId);
        for (const key of old.entries.keys()) this.sql.deleteValue.run(resourceHex, kindId, key);
      }
    });
    this.written.set(resourceHex, snapshot(state));
    super.put(resourceHex, state);
  }

  override delete(resourceHex: string): void {
    this.write(() => {
      this.sql.deleteResourceValues.run(resourceHex);
      this.sql.deleteResourceKinds.run(resourceHex);
    });
    this.written.delete(resourceHex);
    super.delete(resourceHex);
  }

  override putCertificate(fingerprint: string, der: Uint8Array): void {
    this.write(() => this.sql.putCertificate.run(fingerprint, der));
    super.putCertificate(fingerprint, der);
  }

  override deleteCertificate(fingerprint: string): void {
    this.write(() => this.sql.deleteCertificate.run(fingerprint));
    super.deleteCertificate(fingerprint);
  }

  /** One transaction; a full disk is the peer's storage being full, as the storer sees it. */
  private write(fn: () => void): void {
    try {
      this.db.transaction(fn);
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_FULL') {
        throw new ReloadError(ErrorCode.Data_Too_Large, `storage full: the disk holding ${this.db.path} is full`, 'storage_full');
      }
      throw e;
    }
  }

  private load(): void {
    const corrupt = (what: string, why: string) =>
      new DatabaseError(`${this.db.path}: ${what} is corrupt (${why}); move the file away to start with an empty store (values come back from the replicas)`);
    for (const row of this.db.sqlite.prepare('SELECT resource, kind_id, generation FROM storage_kinds').iterate() as IterableIterator<KindRow>) {
      const what = `the generation of kind ${row.kind_id} at ${row.resource}`;
      if (!isHexId(row.resource)) throw corrupt(what, 'not a Resource-ID');
      if (!/^\d{1,20}$/.test(row.generation) || BigInt(row.generation) > MAX_U64) throw corrupt(what, `${row.generation} is not a u64`);
      let state = this.get(row.resource);
      if (!state) super.put(row.resource, (state = { resource: idFromHex(row.resource), kinds: new Map() }));
      state.kinds.set(row.kind_id, { generation: BigInt(row.generation), entries: new Map() });
    }
    for (const row of this.db.sqlite.prepare('SELECT * FROM storage_values').iterate() as IterableIterator<ValueRow>) {
      const what = `the value ${row.entry_key} of kind ${row.kind_id} at ${row.resource}`;
      const slot = this.get(row.resource)?.kinds.get(row.kind_id);
      if (!slot) throw corrupt(what, 'its kind has no generation row');
      let entry: Entry;
      try {
        const data = decodeStoredData(row.stored_data);
        entry = { data, expiresAtMs: row.expires_at_ms, bytes: entryBytes(data), signer: row.signer };
      } catch (e) {
        throw corrupt(what, (e as Error).message);
      }
      if (entryKey(entry.data.value) !== row.entry_key) throw corrupt(what, `its value belongs under ${entryKey(entry.data.value)}`);
      if (!FINGERPRINT.test(row.signer)) throw corrupt(what, 'its signer is not a certificate fingerprint');
      if (!Number.isSafeInteger(row.expires_at_ms)) throw corrupt(what, 'its expiry is not a time');
      slot.entries.set(row.entry_key, entry);
    }
    for (const [hex, state] of this.entries()) this.written.set(hex, snapshot(state));
    for (const row of this.db.sqlite.prepare('SELECT fingerprint, der FROM storage_certificates').iterate() as IterableIterator<{ fingerprint: string; der: Uint8Array }>) {
      if (fingerprintOf(row.der) !== row.fingerprint) throw corrupt(`the certificate ${row.fingerprint}`, 'its DER has another fingerprint');
      super.putCertificate(row.fingerprint, Uint8Array.from(row.der));
    }
  }
}
