import { expect } from 'chai';
import { MemoryBackend, type ResourceState } from '../../../overlay/storage/storage-backend.js';
import { StorageEngine } from '../../../overlay/storage/storage-engine.js';
import { HASH, KINDS, peer, setup, signed, single, storeReq } from './fixture.js';

/** A backend that records every write-through, as a persistent one would receive them. */
class RecordingBackend extends MemoryBackend {
  readonly puts: string[] = [];
  readonly deletes: string[] = [];
  override put(hex: string, state: ResourceState): void {
    this.puts.push(hex);
    super.put(hex, state);
  }
  override delete(hex: string): void {
    this.deletes.push(hex);
    super.delete(hex);
  }
}

describe('storage backend interface', () => {
  it('is told about every change: stores write through, expiry deletes; another engine on it serves the same data', async () => {
    const s = await setup();
    const backend = new RecordingBackend();
    const engine = new StorageEngine({ kinds: s.kinds, trust: s.pki.trust, clock: s.clock, hash: HASH, maxBytes: 1 << 20, backend });
    const kindId = KINDS.userValue.id;
    const value = signed(s.alice, s.aliceAt, kindId, single('kept'), { lifetimeSec: 10 });
    engine.store(storeReq(s.aliceAt, [{ kindId, values: [value] }], [s.alice]), peer(s.pki, s.alice));
    const hex = Buffer.from(s.aliceAt).toString('hex');
    expect(backend.puts).to.deep.equal([hex]);
    // What the backend holds is enough for a second engine (e.g. after a restart) to answer.
    const reader = new StorageEngine({ kinds: s.kinds, trust: s.pki.trust, clock: s.clock, hash: HASH, maxBytes: 1 << 20, backend });
    const spec = [{ kindId, generation: 0n, selector: { model: 'single' as const } }];
    expect(Buffer.from(reader.fetch(s.aliceAt, spec).kinds[0]!.values[0]!.value.value.value).toString()).to.equal('kept');
    s.clock.advance(11_000);
    expect(engine.sweep()).to.equal(1);
    expect(backend.deletes).to.deep.equal([hex]);
    expect([...backend.entries()]).to.deep.equal([]);
  });
});
