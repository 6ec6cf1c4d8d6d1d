import { expect } from 'chai';
import { VirtualClock } from '../../../overlay/clock.js';
import { ANSWER_MEMORY_MS, RecentAnswers } from '../../../overlay/routing/recent-answers.js';
import type { WireMessage } from '../../../overlay/wire/message.js';

/** An answer whose bytes are views into one large buffer, as an encoder hands them out. */
function answer(tag: number): WireMessage {
  const pool = new Uint8Array(64 * 1024);
  pool.fill(tag, 100, 120);
  return { header: {} as WireMessage['header'], contentsBytes: pool.subarray(100, 110), securityBytes: pool.subarray(110, 120) };
}

describe('recent answers (retransmitted requests get the same answer)', () => {
  it('answers a duplicate with the kept answer, and marks one in progress as busy', () => {
    const clock = new VirtualClock();
    const recent = new RecentAnswers(clock, 16);
    expect(recent.begin('a')).to.equal('new');
    expect(recent.begin('a')).to.equal('busy');
    recent.finish('a', answer(7));
    const again = recent.begin('a') as WireMessage;
    expect([...again.contentsBytes]).to.deep.equal(new Array(10).fill(7));
    expect([...again.securityBytes]).to.deep.equal(new Array(10).fill(7));
  });

  it('keeps a copy of the answer, not the encoder buffer its bytes are cut from', () => {
    const recent = new RecentAnswers(new VirtualClock(), 16);
    recent.begin('a');
    const given = answer(1);
    recent.finish('a', given);
    // The encoder reuses its buffer for later messages.
    new Uint8Array(given.contentsBytes.buffer).fill(9);
    const kept = recent.begin('a') as WireMessage;
    expect(kept.contentsBytes.buffer).to.not.equal(given.contentsBytes.buffer);
    expect([...kept.contentsBytes]).to.deep.equal(new Array(10).fill(1));
    expect([...kept.securityBytes]).to.deep.equal(new Array(10).fill(1));
  });

  it(`forgets answers older than ${ANSWER_MEMORY_MS} ms, so a quiet node holds none`, () => {
    const clock = new VirtualClock();
    const recent = new RecentAnswers(clock, 1024);
    for (let i = 0; i < 100; i++) {
      recent.begin(`k${i}`);
      recent.finish(`k${i}`, answer(i));
    }
    clock.advance(ANSWER_MEMORY_MS - 1);
    expect(recent.begin('k0')).to.not.equal('new');
    clock.advance(ANSWER_MEMORY_MS);
    expect(recent.begin('fresh')).to.equal('new');
    expect(recent.size).to.equal(1);
    expect(recent.begin('k5')).to.equal('new');
  });
});
