import { expect } from 'chai';
import { writeFile } from 'node:fs/promises';
import { ErrorCode } from '../../../overlay/errors.js';
import { idToHex } from '../../../overlay/id.js';
import { DatabaseError, NodeDatabase } from '../../../overlay/persist/node-database.js';
import { userResource } from '../../../overlay/storage/access-control.js';
import { SqliteBackend } from '../../../overlay/storage/sqlite-backend.js';
import { MemoryBackend, type ResourceState } from '../../../overlay/storage/storage-backend.js';
import { StorageEngine } from '../../../overlay/storage/storage-engine.js';
import { expectReloadError } from '../../helpers/expect-reload-error.js';
import { tempDatabase, type TempDatabase } from '../../helpers/temp-database.js';
import { entry, HASH, keyed, KINDS, peer, setup, signed, single, snapshot, storeReq, type Setup } from './fixture.js';

describe('SqliteBackend: stored values in the node database', () => {
  let temp: TempDatabase;
  let db: NodeDatabase;
  let s: Setup;

  beforeEach(async () => {
    temp = await tempDatabase();
    s = await setup();
  });

  afterEach(() => temp.dispose());

  /** An engine on a fresh connection to the database file, as a restarted node builds it. */
  function engineOnDisk(): StorageEngine {
    db = temp.open();
    return new StorageEngine({ kinds: s.kinds, trust: s.pki.trust, clock: s.clock, hash: HASH, maxBytes: 1 << 20, backend: new SqliteBackend(db) });
  }

  function restart(): StorageEngine {
    temp.closeAll();
    return engineOnDisk();
  }

  const bobAt = () => userResource(s.bob.user, HASH);
  const storeAll = (engine: StorageEngine) => {
    const { userValue, userList, userDict } = KINDS;
    engine.store(
      storeReq(s.aliceAt, [
        { kindId: userValue.id, values: [signed(s.alice, s.aliceAt, userValue.id, single('one'), { lifetimeSec: 600 })] },
        { kindId: userList.id, values: [0, 1, 2].map((i) => signed(s.alice, s.aliceAt, userList.id, entry(i, `item ${i}`), { lifetimeSec: 900 })) },
        { kindId: userDict.id, values: [signed(s.alice, s.aliceAt, userDict.id, keyed('k', 'v'))] },
      ], [s.alice]),
      peer(s.pki, s.alice),
    );
    // A second store bumps generations; a tombstone replaces an array entry; another signer elsewhere.
    engine.store(storeReq(s.aliceAt, [{ kindId: userList.id, values: [signed(s.alice, s.aliceAt, userList.id, entry(1, undefined), { at: 1 })] }], [s.alice]), peer(s.pki, s.alice));
    engine.store(storeReq(bobAt(), [{ kindId: userValue.id, values: [signed(s.bob, bobAt(), userValue.id, single('bob'))] }], [s.bob]), peer(s.pki, s.bob));
  };

  it('a restarted engine answers Fetch and Stat as before: values, signatures, generations, storage times, lifetimes, certificates', () => {
    const first = engineOnDisk();
    storeAll(first);
    s.clock.advance(30_000);
    const before = [snapshot({ ...s, engine: first }, s.aliceAt), snapshot({ ...s, engine: first }, bobAt())];
    const stat = (engine: StorageEngine) => engine.stat(s.aliceAt, [{ kindId: KINDS.userList.id, generation: 0n, selector: { model: 'array', ranges: [] } }]);
    const statBefore = stat(first);

    const second = restart();
    expect([snapshot({ ...s, engine: second }, s.aliceAt), snapshot({ ...s, engine: second }, bobAt())]).to.deep.equal(before);
    expect(stat(second)).to.deep.equal(statBefore);
    // The signers' certificates come back with the values, so a fetcher can verify them.
    const fetched = second.fetch(bobAt(), [{ kindId: KINDS.userValue.id, generation: 0n, selector: { model: 'single' } }]);
    expect(fetched.certificates.map((c) => Buffer.from(c).toString('hex'))).to.deep.equal([Buffer.from(s.bob.certDer).toString('hex')]);
    // And a replica Store built from the reloaded state carries them too.
    expect(second.exportResource(s.aliceAt, 1)?.certificates).to.have.length(1);
  });

  it('values whose lifetime ran out while the node was down are dropped at load, rows and all', () => {
    const first = engineOnDisk();
    storeAll(first);
    const valuesBefore = first.valueCount;
    s.clock.advance(700_000); // past 600 s (the single value), before 900 s (the list) and 3600 s
    const second = restart();
    expect(second.valueCount).to.equal(valuesBefore - 1);
    expect(second.fetch(s.aliceAt, [{ kindId: KINDS.userValue.id, generation: 0n, selector: { model: 'single' } }]).kinds[0]!.values).to.deep.equal([]);
    const rows = db.sqlite.prepare("SELECT count(*) AS n FROM storage_values WHERE resource = ? AND kind_id = ?").get(idToHex(s.aliceAt), KINDS.userValue.id) as { n: number };
    expect(rows.n, 'the expired row is deleted, not only hidden').to.equal(0);
  });

  it('sweeps, drops and replacements reach the database; the byte count is the same after a restart', () => {
    const first = engineOnDisk();
    storeAll(first);
    first.store(storeReq(s.aliceAt, [{ kindId: KINDS.userDict.id, values: [signed(s.alice, s.aliceAt, KINDS.userDict.id, keyed('k', 'a longer value'), { at: 2 })] }], [s.alice]), peer(s.pki, s.alice));
    expect(first.drop(bobAt())).to.equal(true);
    s.clock.advance(700_000);
    expect(first.sweep()).to.equal(1);
    const [bytes, count] = [first.bytesUsed, first.valueCount];
    const second = restart();
    expect([second.bytesUsed, second.valueCount]).to.deep.equal([bytes, count]);
    expect(second.resources().map(idToHex)).to.deep.equal([idToHex(s.aliceAt)]);
    expect((db.sqlite.prepare('SELECT count(*) AS n FROM storage_values').get() as { n: number }).n).to.equal(count);
    // bob's resource went with the drop, and with it the only value bob signed: his certificate too.
    expect((db.sqlite.prepare('SELECT count(*) AS n FROM storage_certificates').get() as { n: number }).n).to.equal(1);
  });

  it('a corrupt record is a DatabaseError naming it, not a crash', () => {
    storeAll(engineOnDisk());
    db.sqlite.prepare('UPDATE storage_values SET stored_data = ? WHERE resource = ? AND kind_id = ?').run(Buffer.from([0x83, 0x01]), idToHex(s.aliceAt), KINDS.userValue.id);
    temp.closeAll();
    const reopened = temp.open();
    expect(() => new SqliteBackend(reopened)).to.throw(DatabaseError, new RegExp(`the value s of kind ${KINDS.userValue.id} at ${idToHex(s.aliceAt)} is corrupt`));
  });

  it('a file that is not a database, or is damaged, is a DatabaseError at open', async () => {
    await writeFile(temp.path, Buffer.alloc(8192, 0x5a));
    expect(() => temp.open()).to.throw(DatabaseError, /node\.db is damaged \(file is not a database\); move it away/);
  });

  it('a write that fails leaves the engine as it was, and the store unacknowledged', () => {
    class FullDisk extends MemoryBackend {
      full = false;
      override put(hex: string, state: ResourceState): void {
        if (this.full) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
        super.put(hex, state);
      }
    }
    const backend = new FullDisk();
    const engine = new StorageEngine({ kinds: s.kinds, trust: s.pki.trust, clock: s.clock, hash: HASH, maxBytes: 1 << 20, backend });
    storeAll(engine);
    const before = snapshot({ ...s, engine }, s.aliceAt);
    backend.full = true;
    const replace = storeReq(s.aliceAt, [{ kindId: KINDS.userDict.id, values: [signed(s.alice, s.aliceAt, KINDS.userDict.id, keyed('k', 'lost'), { at: 5 })] }], [s.alice]);
    expect(() => engine.store(replace, peer(s.pki, s.alice))).to.throw(/disk is full/);
    expect(snapshot({ ...s, engine }, s.aliceAt)).to.deep.equal(before);
  });

  it('a full disk is refused as Data_Too_Large storage_full', () => {
    const engine = engineOnDisk();
    // A page limit the file has already reached: the next write cannot grow it.
    storeAll(engine);
    db.sqlite.pragma('wal_checkpoint(TRUNCATE)');
    db.sqlite.pragma(`max_page_count = ${db.sqlite.pragma('page_count', { simple: true }) as number}`);
    const big = signed(s.alice, s.aliceAt, KINDS.userDict.id, keyed('big', 'x'.repeat(1000)), { at: 9 });
    const error = expectReloadError(() => engine.store(storeReq(s.aliceAt, [{ kindId: KINDS.userDict.id, values: [big] }], [s.alice]), peer(s.pki, s.alice)), ErrorCode.Data_Too_Large, { reason: 'storage_full' });
    expect(error.message).to.contain('disk');
  });
});
