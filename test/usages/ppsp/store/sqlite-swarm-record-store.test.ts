import { expect } from 'chai';
import { DatabaseError } from '../../../../overlay/persist/node-database.js';
import { SqliteSwarmRecordStore } from '../../../../usages/ppsp/store/sqlite-swarm-record-store.js';
import type { SwarmRecord } from '../../../../usages/ppsp/store/swarm-record-store.js';
import { tempDatabase, type TempDatabase } from '../../../helpers/temp-database.js';

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

const seeded: SwarmRecord = {
  swarmId: 'a'.repeat(64),
  role: 'seed',
  path: '/home/user/film.mkv',
  metadata: bytes(40, 1),
  leafHashes: bytes(32 * 5, 2),
  file: { size: 5 * 1024 * 1024 + 17, mtimeMs: 1_764_800_000_123.456, ino: 9_007_199_254_740_000 },
};
/** A download that has not learnt its leaf hashes yet. */
const downloading: SwarmRecord = { swarmId: 'b'.repeat(64), role: 'download', path: '/tmp/out.bin', metadata: bytes(40, 3) };

describe('SqliteSwarmRecordStore: swarms in the node database', () => {
  let temp: TempDatabase;

  beforeEach(async () => {
    temp = await tempDatabase();
  });

  afterEach(() => temp.dispose());

  const reopened = () => {
    temp.closeAll();
    return new SqliteSwarmRecordStore(temp.open());
  };

  it('records load after a restart as they were put: blobs, file state (mtime fraction, large inode) and absent fields', () => {
    const store = new SqliteSwarmRecordStore(temp.open());
    store.put(seeded);
    store.put(downloading);
    expect(reopened().load()).to.deep.equal([seeded, downloading]);
  });

  it('put replaces a swarm\'s record, delete removes it', () => {
    const store = new SqliteSwarmRecordStore(temp.open());
    store.put(seeded);
    store.put(downloading);
    const done: SwarmRecord = { ...downloading, leafHashes: bytes(64, 4), file: { size: 100, mtimeMs: 5, ino: 7 } };
    store.put(done);
    store.delete(seeded.swarmId);
    expect(reopened().load()).to.deep.equal([done]);
  });

  it('a row that is not a record is a DatabaseError naming the swarm', () => {
    const db = temp.open();
    const store = new SqliteSwarmRecordStore(db);
    store.put(seeded);
    db.sqlite.prepare('UPDATE ppsp_swarms SET file_ino = NULL').run();
    expect(() => store.load()).to.throw(DatabaseError, new RegExp(`the record of swarm ${seeded.swarmId} is corrupt \\(part of the file state is missing\\)`));
  });
});
