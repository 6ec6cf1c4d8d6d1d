import { expect } from 'chai';
import { RoutingMetrics } from '../../../overlay/routing/metrics.js';
import { entryBytes } from '../../../overlay/storage/kind-slot.js';
import { storageMetricFamilies } from '../../../overlay/storage/storage-metrics.js';
import { entry, KINDS, peer, setup, signed, single, storeReq } from './fixture.js';

describe('storage metrics', () => {
  it('/metrics shows live values and bytes held by kind name, and the byte limit', async () => {
    const s = await setup();
    const { userValue, userList } = KINDS;
    const one = signed(s.alice, s.aliceAt, userValue.id, single('one'), { lifetimeSec: 10 });
    const items = [0, 1, 2].map((i) => signed(s.alice, s.aliceAt, userList.id, entry(i, i === 2 ? undefined : `item ${i}`)));
    s.engine.store(storeReq(s.aliceAt, [{ kindId: userValue.id, values: [one] }, { kindId: userList.id, values: items }], [s.alice]), peer(s.pki, s.alice));
    const metrics = new RoutingMetrics();
    metrics.addSource(() => storageMetricFamilies(s.engine, s.kinds, 1 << 20));
    const listBytes = items.reduce((n, d) => n + entryBytes(d), 0);

    let text = metrics.render();
    expect(text).to.contain('# TYPE reload_storage_values gauge\n');
    // The tombstone at index 2 is held (and counted in bytes) but is no value.
    expect(text).to.contain(`reload_storage_values{kind="user-value"} 1\nreload_storage_values{kind="user-list"} 2\n`);
    expect(text).to.contain(`reload_storage_bytes{kind="user-value"} ${entryBytes(one)}\nreload_storage_bytes{kind="user-list"} ${listBytes}\n`);
    expect(text).to.contain(`reload_storage_max_bytes ${1 << 20}\n`);

    // An expired value stops counting as a value at once; its bytes go with the sweep.
    s.clock.advance(10_000);
    text = metrics.render();
    expect(text).to.contain(`reload_storage_values{kind="user-value"} 0\n`);
    s.engine.sweep();
    expect(metrics.render()).not.to.contain('kind="user-value"');
  });
});
