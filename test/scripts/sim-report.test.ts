import { expect } from 'chai';
import { summarizeLookups, type LookupRecord } from '../../scripts/simulation/sim-report.js';

describe('simulation report: lookups summed up', () => {
  it('counts failures by kind, and keeps lookups whose origin left out of the success rate', () => {
    const records: LookupRecord[] = [
      { at: 0, ok: true, hops: 2, latencyMs: 100 },
      { at: 10, ok: true, hops: 4, latencyMs: 300 },
      { at: 20, ok: false, failure: 'wrong-node' },
      { at: 61_000, ok: true, hops: 3, latencyMs: 200 },
      { at: 62_000, ok: false, failure: 'no-answer' },
      { at: 63_000, ok: false, failure: 'origin-left' },
    ];
    const s = summarizeLookups(records);
    expect(s.lookups).to.equal(5);
    expect(s.abandoned).to.equal(1);
    expect(s.success).to.equal(0.6);
    expect(s.failures).to.deep.equal({ wrongNode: 1, noAnswer: 1 });
    expect(s.meanHops).to.equal(3);
    expect(s.hops).to.deep.equal({ 2: 1, 3: 1, 4: 1 });
    expect(s.latencyMs.p50).to.equal(200);
    expect(s.perMinute).to.deep.equal([
      { minute: 0, lookups: 3, success: 0.6667 },
      { minute: 1, lookups: 2, success: 0.5 },
    ]);
  });
});
