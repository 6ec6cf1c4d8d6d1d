import { expect } from 'chai';
import { getEventListeners } from 'node:events';
import { VirtualClock } from '../../overlay/clock.js';
import { ErrorCode, ReloadError } from '../../overlay/errors.js';
import { joinWithRetries } from '../../overlay/join-retry.js';
import { silentLogger } from '../../overlay/log.js';
import { RECONNECT_MAX_MS } from '../../overlay/reconnector.js';

const unreachable = () => new ReloadError(ErrorCode.Not_Found, 'none of the 1 bootstrap nodes could be reached', 'no_bootstrap');

describe('joinWithRetries: a failed first join tried again', () => {
  it('tries again after a backoff on the clock while nothing answers, returns once a try succeeds, and leaves no listener on the signal', async () => {
    const clock = new VirtualClock(0);
    const abort = new AbortController();
    const at: number[] = [];
    const done = joinWithRetries(
      async () => {
        at.push(clock.now());
        if (at.length < 4) throw at.length === 2 ? new ReloadError(ErrorCode.Request_Timeout, 'no answer') : unreachable();
      },
      { retry: true, clock, log: silentLogger, random: () => 0.5, signal: abort.signal },
    );
    await clock.until(done, RECONNECT_MAX_MS * 4);
    // Each wait took its abort listener away again.
    expect(getEventListeners(abort.signal, 'abort')).to.have.length(0);
    expect(at).to.have.length(4);
    const waits = at.slice(1).map((t, i) => t - at[i]!);
    // Equal jitter at 0.5: three quarters of 1 s, 2 s, 4 s.
    expect(waits).to.deep.equal([750, 1500, 3000]);
  });

  it('throws at once without retry, and for a failure waiting cannot cure', async () => {
    const clock = new VirtualClock(0);
    let tries = 0;
    const fail = (error: Error) => async () => {
      tries++;
      throw error;
    };
    const refused = new ReloadError(ErrorCode.Forbidden, 'certificate refused');
    await joinWithRetries(fail(refused), { retry: true, clock, log: silentLogger, random: () => 0.5 }).then(() => expect.fail('resolved'), (e) => expect(e).to.equal(refused));
    const none = unreachable();
    await joinWithRetries(fail(none), { retry: false, clock, log: silentLogger, random: () => 0.5 }).then(() => expect.fail('resolved'), (e) => expect(e).to.equal(none));
    expect(tries).to.equal(2);
  });

  it('an abort while it waits ends the wait and throws the abort reason, leaving no timer', async () => {
    const clock = new VirtualClock(0);
    const abort = new AbortController();
    let tries = 0;
    const done = joinWithRetries(async () => {
      tries++;
      throw unreachable();
    }, { retry: true, clock, log: silentLogger, random: () => 0.5, signal: abort.signal });
    await clock.run(100);
    abort.abort(new Error('stopping'));
    const error = await done.then(() => undefined, (e: Error) => e);
    expect(error?.message).to.equal('stopping');
    expect(tries).to.equal(1);
    expect(clock.pendingCount).to.equal(0);
  });
});
