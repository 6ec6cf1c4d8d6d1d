import { expect } from 'chai';
import { createHash } from 'node:crypto';
import {
  addToId, compareIds, idFromBigInt, idFromHex, idToBigInt, idToHex, IdFormatError, inRingInterval,
  isValidNodeId, randomId, resourceIdOf, ringDistance, RING_SIZE, WILDCARD_ID, xorDistance,
} from '../../overlay/id.js';

const h = (s: string) => idFromHex(s.padStart(32, '0'));

describe('overlay/id', () => {
  it('round-trips hex and bigint forms', () => {
    const id = randomId();
    expect(idToHex(idFromHex(idToHex(id)))).to.equal(idToHex(id));
    expect(idToHex(idFromBigInt(idToBigInt(id)))).to.equal(idToHex(id));
    expect(idToHex(idFromHex('ABCDEF0123456789ABCDEF0123456789'))).to.equal('abcdef0123456789abcdef0123456789');
  });

  it('refuses malformed hex with IdFormatError', () => {
    for (const bad of ['', '00', 'zz'.repeat(16), '0'.repeat(33), '0'.repeat(31)]) {
      expect(() => idFromHex(bad), bad).to.throw(IdFormatError);
    }
  });

  it('hashes names with SHA-1 truncated to 128 bits by default, SHA-256 when asked', () => {
    const sha1 = createHash('sha1').update('alice@example.org').digest('hex').slice(0, 32);
    const sha256 = createHash('sha256').update('alice@example.org').digest('hex').slice(0, 32);
    expect(idToHex(resourceIdOf('alice@example.org'))).to.equal(sha1);
    expect(idToHex(resourceIdOf('alice@example.org', 'sha256'))).to.equal(sha256);
  });

  it('measures clockwise ring distance modulo 2^128', () => {
    expect(ringDistance(h('10'), h('20'))).to.equal(0x10n);
    expect(ringDistance(h('20'), h('10'))).to.equal(RING_SIZE - 0x10n);
    expect(ringDistance(h('5'), h('5'))).to.equal(0n);
    const top = idFromHex('f'.repeat(31) + 'e');
    expect(ringDistance(top, h('1'))).to.equal(3n);
    expect(idToHex(addToId(top, 3n))).to.equal('0'.repeat(31) + '1');
    expect(idToHex(addToId(h('0'), 1n << 127n))).to.equal('8' + '0'.repeat(31));
  });

  it('measures ring distance byte by byte as the arithmetic on 128-bit numbers does, borrows included', () => {
    const value = (hex: string) => BigInt('0x' + hex);
    const pairs: [string, string][] = [
      ['0'.repeat(31) + '1', 'f'.repeat(32)],
      ['f'.repeat(32), '0'.repeat(32)],
      ['00ff'.repeat(8), 'ff00'.repeat(8)],
      ['8' + '0'.repeat(31), '7' + 'f'.repeat(31)],
    ];
    for (let i = 0; i < 200; i++) pairs.push([idToHex(randomId()), idToHex(randomId())]);
    for (const [a, b] of pairs) expect(ringDistance(idFromHex(a), idFromHex(b)), `${a} -> ${b}`).to.equal((value(b) - value(a) + RING_SIZE) % RING_SIZE);
  });

  it('tests half-open ring intervals (from, to], wrapping past zero', () => {
    expect(inRingInterval(h('15'), h('10'), h('20'))).to.equal(true);
    expect(inRingInterval(h('20'), h('10'), h('20'))).to.equal(true);
    expect(inRingInterval(h('10'), h('10'), h('20'))).to.equal(false);
    const top = idFromHex('f'.repeat(32));
    expect(inRingInterval(h('1'), top, h('5'))).to.equal(true);
    expect(inRingInterval(h('6'), top, h('5'))).to.equal(false);
    expect(inRingInterval(h('6'), h('5'), h('5'))).to.equal(true); // a lone node owns the ring
  });

  it('computes XOR distance bytewise, exact beyond 53 bits', () => {
    const a = idFromHex('80' + '0'.repeat(28) + '01');
    const b = idFromHex('80' + '0'.repeat(28) + '02');
    expect(idToHex(xorDistance(a, b))).to.equal('0'.repeat(30) + '03');
    const c = idFromHex('80' + '0'.repeat(28) + '03');
    expect(compareIds(xorDistance(a, b), xorDistance(a, c))).to.be.greaterThan(0);
  });

  it('orders ids as unsigned big-endian numbers', () => {
    expect(compareIds(h('1'), h('2'))).to.be.lessThan(0);
    expect(compareIds(idFromHex('f'.repeat(32)), h('2'))).to.be.greaterThan(0);
    expect(compareIds(h('7'), h('7'))).to.equal(0);
  });

  it('rejects all-zero and wildcard Node-IDs', () => {
    expect(isValidNodeId(h('0'))).to.equal(false);
    expect(isValidNodeId(WILDCARD_ID)).to.equal(false);
    expect(isValidNodeId(randomId())).to.equal(true);
  });
});
