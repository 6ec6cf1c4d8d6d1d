/** Asserts that `fn` throws a ReloadError with the given code (and reason / message, if given). */
import { expect } from 'chai';
import { errorName, ReloadError, type ErrorCode } from '../../overlay/errors.js';

export function expectReloadError(fn: () => unknown, code: ErrorCode, expected: { reason?: string; message?: RegExp } = {}): ReloadError {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, 'expected a ReloadError').to.be.instanceOf(ReloadError);
  const error = thrown as ReloadError;
  expect(errorName(error.code), error.message).to.equal(errorName(code));
  if (expected.reason !== undefined) expect(error.reason, error.message).to.equal(expected.reason);
  if (expected.message) expect(error.message).to.match(expected.message);
  return error;
}
