import { expect } from 'chai';
import { TS_PACKET_BYTES, videoRandomAccessOffset } from '../../../../usages/ppsp/live/mpeg-ts.js';

/** One TS packet: payload start or not, an adaptation field with or without the random access flag, a PES of `streamId`. */
function packet({ start = true, rai = false, streamId = 0xe0, adaptation = true } = {}): Buffer {
  const p = Buffer.alloc(TS_PACKET_BYTES, 0xff);
  p[0] = 0x47;
  p[1] = start ? 0x40 : 0x00;
  p[2] = 0x00;
  p[3] = adaptation ? 0x30 : 0x10;
  let at = 4;
  if (adaptation) {
    p[4] = 7; // adaptation field length
    p[5] = rai ? 0x40 : 0x00;
    at = 12;
  }
  p.set([0, 0, 1, streamId], at);
  return p;
}

describe('MPEG-TS random access points', () => {
  it('finds the first video packet that starts a PES with the random access flag, not audio ones or later ones', () => {
    const bytes = Buffer.concat([packet(), packet({ rai: true, streamId: 0xc0 }), packet({ rai: true, start: false }), packet({ rai: true }), packet({ rai: true })]);
    expect(videoRandomAccessOffset(bytes)).to.equal(3 * TS_PACKET_BYTES);
  });

  it('finds none in packets without one, in a partial packet, or in bytes that are not packet-aligned', () => {
    expect(videoRandomAccessOffset(Buffer.concat([packet(), packet({ adaptation: false }), packet({ rai: true, streamId: 0xc0 })]))).to.equal(-1);
    expect(videoRandomAccessOffset(packet({ rai: true }).subarray(0, 100))).to.equal(-1);
    expect(videoRandomAccessOffset(Buffer.concat([Buffer.alloc(5), packet({ rai: true })]))).to.equal(-1);
    expect(videoRandomAccessOffset(new Uint8Array(0))).to.equal(-1);
  });
});
