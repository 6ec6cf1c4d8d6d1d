import { expect } from 'chai';
import { VirtualClock } from '../../../overlay/clock.js';
import { ErrorCode, ReloadError } from '../../../overlay/errors.js';
import { TransactionTable } from '../../../overlay/routing/transactions.js';
import { rejection } from '../../helpers/rejection.js';


describe('overlay/routing/transactions', () => {
  it('matches a response to its request by transaction id', async () => {
    const clock = new VirtualClock();
    const table = new TransactionTable<string>(clock, { timeoutMs: 1000, maxOutstanding: 4 });
    const a = table.begin(1n);
    const b = table.begin(2n);
    expect(table.complete(2n, 'two')).to.equal(true);
    expect(table.complete(1n, 'one')).to.equal(true);
    expect(await a).to.equal('one');
    expect(await b).to.equal('two');
    expect(table.complete(1n, 'late')).to.equal(false);
    expect(clock.pendingCount).to.equal(0);
  });

  it('fails with Request_Timeout when the timer runs out, and ignores the late answer', async () => {
    const clock = new VirtualClock();
    const table = new TransactionTable<string>(clock, { timeoutMs: 1000, maxOutstanding: 4 });
    const p = table.begin(7n);
    clock.advance(999);
    expect(table.has(7n)).to.equal(true);
    clock.advance(1);
    const e = await rejection<ReloadError>(p);
    expect(e.code).to.equal(ErrorCode.Request_Timeout);
    expect(table.complete(7n, 'late')).to.equal(false);
    expect(table.outstanding).to.equal(0);
  });

  it('bounds outstanding requests and refuses a duplicate id', async () => {
    const clock = new VirtualClock();
    const table = new TransactionTable<string>(clock, { timeoutMs: 1000, maxOutstanding: 2 });
    const held = [table.begin(1n), table.begin(2n)];
    expect((await rejection<ReloadError>(table.begin(3n))).reason).to.equal('too_many_outstanding');
    table.complete(1n, 'x');
    expect((await rejection<ReloadError>(table.begin(2n))).reason).to.equal('duplicate_transaction');
    table.failAll(new ReloadError(ErrorCode.Request_Timeout, 'stopped'));
    expect(await held[0]).to.equal('x');
    expect((await rejection<ReloadError>(held[1]!)).message).to.match(/stopped/);
    expect(clock.pendingCount).to.equal(0);
  });
});
