import { expect } from 'chai';
import { randomSerial } from '../../certs/ca.js';

describe('certs/ca randomSerial', () => {
  it('always gives a minimal positive DER INTEGER (first byte 0x01-0x7f), so OpenSSL can parse every certificate', () => {
    // A first byte 0x00 made about 1 certificate in 128 unreadable ("illegal padding").
    for (let i = 0; i < 20_000; i++) {
      const serial = randomSerial();
      expect(serial).to.match(/^[0-9a-f]{32}$/);
      const first = parseInt(serial.slice(0, 2), 16);
      expect(first, serial).to.be.within(0x01, 0x7f);
    }
  });
});
