import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { DatabaseError, NodeDatabase } from '../../../overlay/persist/node-database.js';
import { tempDatabase, type TempDatabase } from '../../helpers/temp-database.js';

describe('NodeDatabase: the node database file', () => {
  let temp: TempDatabase;
  let path: string;

  beforeEach(async () => {
    temp = await tempDatabase();
    path = temp.path;
  });

  afterEach(() => temp.dispose());

  const openDb = () => temp.open();

  it('runs in WAL mode with synchronous=FULL, and closing checkpoints the log away', () => {
    const db = openDb();
    expect(db.sqlite.pragma('journal_mode', { simple: true })).to.equal('wal');
    expect(db.sqlite.pragma('synchronous', { simple: true }), 'FULL').to.equal(2);
    db.migrate('t', ['CREATE TABLE t (a INTEGER)']);
    expect(existsSync(`${path}-wal`), 'the log while open').to.equal(true);
    db.close();
    expect(existsSync(`${path}-wal`), 'the log after close').to.equal(false);
  });

  it('serves one process at a time: a second open while the first holds it is refused, saying why', () => {
    const first = openDb();
    first.migrate('t', ['CREATE TABLE t (a INTEGER)']);
    expect(() => NodeDatabase.open(path)).to.throw(DatabaseError, /node\.db is in use by another node process/);
    first.close();
    openDb();
  });

  it('applies each schema step once, per part, and refuses a file of a newer schema', () => {
    const db = openDb();
    db.migrate('a', ['CREATE TABLE a1 (x INTEGER)']);
    db.migrate('b', ['CREATE TABLE b1 (x INTEGER)']);
    db.migrate('a', ['CREATE TABLE a1 (x INTEGER)', 'CREATE TABLE a2 (x INTEGER)']);
    const versions = db.sqlite.prepare('SELECT part, version FROM schema_versions ORDER BY part').all();
    expect(versions).to.deep.equal([{ part: 'a', version: 2 }, { part: 'b', version: 1 }]);
    expect(() => db.migrate('a', ['CREATE TABLE a1 (x INTEGER)'])).to.throw(DatabaseError, /holds a tables of schema version 2; this reload-ppsp reads up to 1: it was written by a newer version/);
  });

  it('a failing step leaves the schema as it was', () => {
    const db = openDb();
    expect(() => db.migrate('a', ['CREATE TABLE a1 (x INTEGER); CREATE TABLE a1 (y INTEGER)'])).to.throw(/already exists/);
    expect(db.sqlite.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'a1'").get()).to.deep.equal({ n: 0 });
    expect(db.sqlite.prepare('SELECT count(*) AS n FROM schema_versions').get()).to.deep.equal({ n: 0 });
  });
});
