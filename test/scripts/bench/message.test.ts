import { expect } from 'chai';
import { benchMessage } from '../../../scripts/bench/message.js';

describe('bench message (two simulated nodes, request and answer)', function () {
  this.timeout(60_000);

  // Mocha's own timer for this test is armed once the test has started: timers are not compared.
  const handles = () => process.getActiveResourcesInfo().filter((r) => r !== 'Timeout').sort().join();

  it('counts answered Pings against its hash baseline, and leaves no handle behind', async () => {
    const before = handles();
    const r = await benchMessage({ durationMs: 600 });
    expect(r.bench).to.equal('message');
    expect(r.pairsPerSecond as number).to.be.above(0);
    expect(((r.microsPerPair as number) * (r.pairsPerSecond as number)) / 1e6).to.be.closeTo(1, 0.01);
    expect((r.baseline as { sha256PerSecond: number }).sha256PerSecond).to.be.above(0);
    // A pair costs at least its four signature hashes.
    expect(r.ratio as number).to.be.at.least(1);
    expect(handles()).to.equal(before);
  });
});
