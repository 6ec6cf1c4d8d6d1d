import { expect } from 'chai';
import { dialFirst } from '../../../overlay/link/dial-first.js';
import type { Link } from '../../../overlay/link/link.js';
import { rejection } from '../../helpers/rejection.js';

describe('overlay/link/dial-first', () => {
  const link = (name: string) => ({ remoteAddress: name }) as unknown as Link;

  it('dials in the given order and stops at the first link that comes up', async () => {
    const tried: string[] = [];
    const got = await dialFirst(['a', 'b', 'c'], async (c) => {
      tried.push(c);
      if (c === 'a') throw new Error('a refused');
      return link(c);
    }, () => new Error('none'));
    expect(got.remoteAddress).to.equal('b');
    expect(tried).to.deep.equal(['a', 'b']);
  });

  it('rejects with the last failure when every candidate fails, and with none() only for an empty list', async () => {
    let built = 0;
    const none = () => {
      built++;
      return new Error('no candidates');
    };
    const e = await rejection<Error>(dialFirst(['a', 'b'], async (c) => Promise.reject(new Error(`${c} refused`)), none));
    expect(e.message).to.equal('b refused');
    expect(built).to.equal(0);
    expect((await rejection<Error>(dialFirst([], async () => link('x'), none))).message).to.equal('no candidates');
    expect(built).to.equal(1);
  });
});
