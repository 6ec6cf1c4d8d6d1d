import { expect } from 'chai';
import { VirtualClock } from '../../../../overlay/clock.js';
import { LiveCutter } from '../../../../usages/ppsp/live/live-cutter.js';

function cutter(chunkSize: number, align: number) {
  const clock = new VirtualClock();
  const out: { bytes: Buffer; last: boolean; at: number }[] = [];
  const c = new LiveCutter(chunkSize, align, 100, clock, (bytes, last) => out.push({ bytes: Buffer.from(bytes), last, at: clock.now() }));
  return { c, clock, out };
}

describe('LiveCutter', () => {
  it('cuts full chunks as soon as they are in, and the rest of a write waits for more', () => {
    const { c, out } = cutter(1024, 1);
    c.write(Buffer.alloc(2500, 1));
    expect(out.map((o) => o.bytes.length)).to.deep.equal([1024, 1024]);
  });

  it('flushes a partial chunk 100 ms after its first byte, not later', () => {
    const { c, clock, out } = cutter(1024, 1);
    clock.advance(10);
    c.write(Buffer.alloc(100, 1));
    clock.advance(60);
    c.write(Buffer.alloc(100, 2));
    clock.advance(39);
    expect(out).to.have.length(0);
    clock.advance(1);
    expect(out).to.have.length(1);
    expect(out[0]!.bytes.length).to.equal(200);
    expect(out[0]!.last).to.equal(false);
  });

  it('keeps MPEG-TS chunks whole packets: full chunks and flushes are multiples of 188, the rest waits', () => {
    const { c, clock, out } = cutter(16384, 188);
    c.write(Buffer.alloc(20000, 0x47));
    expect(out[0]!.bytes.length).to.equal(87 * 188);
    clock.advance(100);
    const sent = out.reduce((n, o) => n + o.bytes.length, 0);
    expect(out.every((o) => o.bytes.length % 188 === 0)).to.equal(true);
    expect(20000 - sent).to.equal(20000 % 188);
  });

  it('the end of the input sends what is left as the last chunk, and an empty last chunk on a chunk boundary', () => {
    const a = cutter(1024, 1);
    a.c.write(Buffer.alloc(1100, 1));
    a.c.end();
    expect(a.out.map((o) => [o.bytes.length, o.last])).to.deep.equal([
      [1024, false],
      [76, true],
    ]);
    const b = cutter(1024, 1);
    b.c.write(Buffer.alloc(1024, 1));
    b.c.end();
    expect(b.out.map((o) => [o.bytes.length, o.last])).to.deep.equal([
      [1024, false],
      [0, true],
    ]);
    b.c.write(Buffer.alloc(10));
    b.clock.advance(1000);
    expect(b.out).to.have.length(2);
  });

  it('the bytes out are the bytes in, in order, however the writes fall', () => {
    const { c, clock, out } = cutter(4096, 188);
    const input = Buffer.from(Array.from({ length: 50_000 }, (_, i) => (i * 7) & 0xff));
    for (let at = 0; at < input.length; ) {
      const n = 1 + ((at * 13) % 3000);
      c.write(input.subarray(at, at + n));
      at += n;
      clock.advance(37);
    }
    c.end();
    expect(Buffer.concat(out.map((o) => o.bytes)).equals(input)).to.equal(true);
  });
});
