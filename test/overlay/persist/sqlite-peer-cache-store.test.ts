import { expect } from 'chai';
import { VirtualClock } from '../../../overlay/clock.js';
import { DatabaseError } from '../../../overlay/persist/node-database.js';
import { SqlitePeerCacheStore } from '../../../overlay/persist/sqlite-peer-cache-store.js';
import type { CachedPeer } from '../../../overlay/peer-cache-store.js';
import { tempDatabase, type TempDatabase } from '../../helpers/temp-database.js';

const peer = (n: number): CachedPeer => ({ nodeIdHex: n.toString(16).padStart(32, '0'), address: { host: '127.0.0.1', port: 7000 + n } });

describe('SqlitePeerCacheStore: the peer cache in the node database', () => {
  let temp: TempDatabase;
  let clock: VirtualClock;

  beforeEach(async () => {
    temp = await tempDatabase();
    clock = new VirtualClock();
  });

  afterEach(() => temp.dispose());

  /** A store on a new connection: what a restarted node reads. */
  const reopened = () => {
    temp.closeAll();
    return new SqlitePeerCacheStore(temp.open(), clock);
  };

  it('what was saved loads after a restart, least recently used first, with when each was last seen', () => {
    const store = new SqlitePeerCacheStore(temp.open(), clock);
    expect(store.load()).to.deep.equal([]);
    store.save([peer(1), peer(2), peer(3)]);
    expect(reopened().load()).to.deep.equal([peer(1), peer(2), peer(3)]);

    // Later, peer 1 is used again (moved last) and peer 2 falls out of the cache.
    clock.advance(60_000);
    const again = reopened();
    again.save([peer(3), peer(1)]);
    expect(reopened().load()).to.deep.equal([peer(3), peer(1)]);
    temp.closeAll();
    const seen = temp.open().sqlite.prepare('SELECT node_id, last_seen_ms FROM peer_cache ORDER BY last_seen_ms').all();
    expect(seen, 'peer 3 keeps the time it was last seen; peer 1 is seen now').to.deep.equal([
      { node_id: peer(3).nodeIdHex, last_seen_ms: clock.now() - 60_000 },
      { node_id: peer(1).nodeIdHex, last_seen_ms: clock.now() },
    ]);
  });

  it('a row that is no peer address is a DatabaseError, not a peer to dial', () => {
    const db = temp.open();
    const store = new SqlitePeerCacheStore(db, clock);
    store.save([peer(1)]);
    db.sqlite.prepare('UPDATE peer_cache SET port = 0').run();
    expect(() => store.load()).to.throw(DatabaseError, new RegExp(`the peer cache entry ${peer(1).nodeIdHex} is corrupt`));
  });
});
