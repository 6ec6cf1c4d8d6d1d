import { expect } from 'chai';
import { ErrorCode } from '../../../overlay/errors.js';
import { fail, list, u32, uint } from '../../../overlay/wire/fields.js';
import { expectReloadError } from '../../helpers/expect-reload-error.js';

const invalid = (fn: () => unknown, message: RegExp, reason = 'invalid_message') => expectReloadError(fn, ErrorCode.Invalid_Message, { message, reason });

describe('wire field checks', () => {
  it('fail names the field and tags the reason, invalid_message unless told', () => {
    invalid(() => fail('a.b', 'is bad'), /^Invalid_Message: a\.b is bad$/);
    invalid(() => fail('a.b', 'is bad', 'bad_b'), /a\.b is bad/, 'bad_b');
  });

  it('uint: an integer in min..max, a bigint (8-byte head) too when in range', () => {
    expect(uint(1, 'n', 1, 64)).to.equal(1);
    expect(uint(64n, 'n', 1, 64)).to.equal(64);
    expect(uint(2 ** 32 - 1, 'n', 0, 2 ** 32 - 1)).to.equal(2 ** 32 - 1);
    for (const bad of [0, 65, 0n, 65n, -1n, 1.5, '1', null, 2n ** 64n]) invalid(() => uint(bad, 'x.count', 1, 64), /x\.count must be an integer in 1\.\.64/);
  });

  it('u8..u32 stay numbers only: a bigint is refused however small', () => {
    expect(u32(7, 'n')).to.equal(7);
    invalid(() => u32(7n, 'x.kind'), /x\.kind must be an integer in 0\.\.4294967295/);
  });

  it('list: too many items is tagged too_many_items', () => {
    expect(list([1, 2], 'xs', 2)).to.deep.equal([1, 2]);
    invalid(() => list([1, 2, 3], 'xs', 2), /xs has 3 entries, more than 2/, 'too_many_items');
    invalid(() => list('ab', 'xs', 2), /xs must be an array/);
  });
});
