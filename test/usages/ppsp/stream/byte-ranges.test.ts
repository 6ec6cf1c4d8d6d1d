/**
 * Byte ranges and multipart/byteranges framing (RFC 9110 §14): RFC 9110 §14.1.2's own examples,
 * the edges around them, and a property test against a reference that marks the selected bytes one
 * by one and reads the answer off that bitmap.
 */
import { expect } from 'chai';
import { parseMultipartByteranges } from '../../../helpers/multipart.js';
import { fuzzSeed, printReplayOnFailure, Prng } from '../../../helpers/prng.js';
import { contentRange, MAX_RANGE_HEADER_CHARS, MAX_RANGES, multipartPlan, parseRange, type ByteRange, type RangeRequest } from '../../../../usages/ppsp/stream/byte-ranges.js';

const NONE: RangeRequest = { kind: 'none' };
const UNSATISFIABLE: RangeRequest = { kind: 'unsatisfiable' };
const ranges = (...rs: [number, number][]): RangeRequest => ({ kind: 'ranges', ranges: rs.map(([start, end]) => ({ start, end })) });

/** The body a server sends from `plan`: each head, then the range's bytes, then the tail. */
function assemble(plan: ReturnType<typeof multipartPlan>, content: Buffer): Buffer {
  return Buffer.concat([...plan.parts.flatMap((p) => [p.head, content.subarray(p.range.start, p.range.end + 1)]), plan.tail]);
}

describe('byte ranges (RFC 9110 §14)', () => {
  describe('parseRange: the examples of RFC 9110 §14.1.2', () => {
    const cases: [string, number, RangeRequest][] = [
      ['bytes=0-499', 10000, ranges([0, 499])],
      ['bytes=500-999', 10000, ranges([500, 999])],
      ['bytes=-500', 10000, ranges([9500, 9999])],
      ['bytes=9500-', 10000, ranges([9500, 9999])],
      ['bytes=0-0,-1', 10000, ranges([0, 0], [9999, 9999])],
      ['bytes= 0-999, 4500-5499, -1000', 10000, ranges([0, 999], [4500, 5499], [9000, 9999])],
      // "Other valid (but not canonical) specifications of the second 500 bytes": coalesced to it.
      ['bytes=500-600,601-999', 10000, ranges([500, 999])],
      ['bytes=500-700,601-999', 10000, ranges([500, 999])],
    ];
    for (const [header, size, want] of cases) {
      it(`${header} of ${size} bytes`, () => expect(parseRange(header, size)).to.deep.equal(want));
    }
  });

  describe('parseRange: edges', () => {
    const cases: [string | undefined, number, RangeRequest, string][] = [
      [undefined, 100, NONE, 'no header'],
      ['items=0-5', 100, NONE, 'another unit'],
      ['BYTES=0-0', 100, ranges([0, 0]), 'units are case-insensitive'],
      ['bytes=000010-000019', 100, ranges([10, 19]), 'leading zeros are digits'],
      ['bytes=0-1,,5-6', 100, ranges([0, 1], [5, 6]), 'empty list elements are ignored (RFC 9110 §5.6.1.2)'],
      ['bytes=0-1 ,\t5-6', 100, ranges([0, 1], [5, 6]), 'OWS around commas'],
      ['bytes=0-999', 100, ranges([0, 99]), 'last-pos past the end is clamped'],
      ['bytes=-1000', 100, ranges([0, 99]), 'a suffix longer than the content is all of it'],
      ['bytes=100-', 100, UNSATISFIABLE, 'first-pos at the length'],
      ['bytes=-0', 100, UNSATISFIABLE, 'a zero suffix'],
      ['bytes=100-,-0,200-300', 100, UNSATISFIABLE, 'none of several overlaps'],
      ['bytes=100-,0-0', 100, ranges([0, 0]), 'one of several overlaps'],
      ['bytes=9007199254740991-', 100, UNSATISFIABLE, 'MAX_SAFE_INTEGER is a position'],
      ['bytes=0-9007199254740992', 100, NONE, 'past MAX_SAFE_INTEGER is invalid'],
      ['bytes=-99999999999999999999', 100, NONE, 'a suffix past MAX_SAFE_INTEGER is invalid'],
      ['bytes=5-1', 100, NONE, 'last-pos below first-pos (§14.1.1)'],
      ['bytes=0-0,5-1', 100, NONE, 'one invalid range spoils the header'],
      ['bytes=', 100, NONE, 'no range'],
      ['bytes=,', 100, NONE, 'only empty elements'],
      ['bytes=-', 100, NONE, 'neither position'],
      ['bytes=abc', 100, NONE, 'not a range'],
      ['bytes=1-2-3', 100, NONE, 'two dashes'],
      ['bytes=--1', 100, NONE, 'a negative suffix'],
      ['bytes =0-1', 100, NONE, 'space before ='],
      ['bytes=0 -1', 100, NONE, 'space inside a range'],
      ['bytes=+0-1', 100, NONE, 'a sign'],
      ['bytes=0x1-2', 100, NONE, 'hex'],
      ['bytes=\u0661-\u0662', 100, NONE, 'non-ASCII digits'],
      ['bytes=0-', 0, UNSATISFIABLE, 'zero-length: an int-range'],
      ['bytes=-0', 0, UNSATISFIABLE, 'zero-length: a zero suffix'],
      ['bytes=-5', 0, NONE, 'zero-length: a non-zero suffix is satisfiable (§14.1.2) yet has no Content-Range: 200'],
      ['bytes=0-0,-1', 1, ranges([0, 0]), 'one byte asked twice'],
      ['bytes=900-999,0-9,950-1000', 1000, ranges([900, 999], [0, 9]), 'the merged range keeps the place of its first part'],
      ['bytes=0-9,20-29,10-19', 1000, ranges([0, 29]), 'a later range bridges two kept ones'],
      ['bytes=20-29,0-9,5-25,40-49', 1000, ranges([0, 29], [40, 49]), 'a bridge takes the earlier place'],
    ];
    for (const [header, size, want, why] of cases) {
      it(`${why}: ${JSON.stringify(header)} of ${size} bytes`, () => expect(parseRange(header, size)).to.deep.equal(want));
    }

    it(`at most ${MAX_RANGES} ranges by default, or limits.maxRanges; more is ignored (200), not 416`, () => {
      const header = (n: number) => `bytes=${Array.from({ length: n }, (_, i) => `${i * 10}-${i * 10 + 1}`).join(',')}`;
      const got = parseRange(header(MAX_RANGES), 1000);
      expect(got.kind === 'ranges' && got.ranges.length).to.equal(MAX_RANGES);
      expect(parseRange(header(MAX_RANGES + 1), 1000)).to.deep.equal(NONE);
      expect(parseRange(header(2), 1000, { maxRanges: 2 })).to.deep.equal(ranges([0, 1], [10, 11]));
      expect(parseRange(header(3), 1000, { maxRanges: 2 })).to.deep.equal(NONE);
      // Empty elements are not ranges: they do not count.
      expect(parseRange(`bytes=0-1,,,,10-11`, 1000, { maxRanges: 2 })).to.deep.equal(ranges([0, 1], [10, 11]));
    });

    it(`a header longer than ${MAX_RANGE_HEADER_CHARS} characters (or limits.maxHeaderChars) is ignored before parsing`, () => {
      const exactly = (n: number) => `bytes=${'0'.repeat(n - 'bytes=-1'.length)}-1`;
      expect(parseRange(exactly(MAX_RANGE_HEADER_CHARS), 100)).to.deep.equal(ranges([0, 1]));
      expect(parseRange(exactly(MAX_RANGE_HEADER_CHARS + 1), 100)).to.deep.equal(NONE);
      expect(parseRange('bytes=0-1', 100, { maxHeaderChars: 8 })).to.deep.equal(NONE);
    });
  });

  it('contentRange is RFC 9110 §14.4 complete-length form', () => {
    expect(contentRange({ start: 0, end: 99 }, 1000)).to.equal('bytes 0-99/1000');
    expect(contentRange({ start: 999, end: 999 }, 1000)).to.equal('bytes 999-999/1000');
  });

  describe('multipartPlan', () => {
    it('frames parts that a strict reader parses back to the ranges, with an exact Content-Length', () => {
      // Content full of what a careless framing would trip on: CRLFs, dashes, blank lines.
      const content = Buffer.from('\r\n--\r\n\r\n--x--\r\n'.repeat(100));
      const rs: ByteRange[] = [
        { start: content.length - 5, end: content.length - 1 },
        { start: 0, end: 0 },
        { start: 2, end: 40 },
      ];
      const plan = multipartPlan(rs, content.length, 'video/mp4');
      const body = assemble(plan, content);
      expect(body.length).to.equal(plan.contentLength);
      const parts = parseMultipartByteranges(`multipart/byteranges; boundary=${plan.boundary}`, body);
      expect(parts.map((p) => p.headers)).to.deep.equal(rs.map((r) => ({ 'content-type': 'video/mp4', 'content-range': contentRange(r, content.length) })));
      expect(parts.map((p) => p.bytes.toString('latin1'))).to.deep.equal(rs.map((r) => content.subarray(r.start, r.end + 1).toString('latin1')));
    });

    it('draws a fresh 192-bit boundary each time (it cannot be checked against bytes not yet here)', () => {
      const a = multipartPlan([{ start: 0, end: 0 }], 1, 'text/plain').boundary;
      const b = multipartPlan([{ start: 0, end: 0 }], 1, 'text/plain').boundary;
      expect(a).to.match(/^[0-9a-f]{48}$/);
      expect(b).to.not.equal(a);
    });

    it('refuses no ranges, a range outside the content, and a type that would forge part headers', () => {
      expect(() => multipartPlan([], 10, 'text/plain')).to.throw(RangeError);
      expect(() => multipartPlan([{ start: 5, end: 10 }], 10, 'text/plain')).to.throw(RangeError, /5-10/);
      expect(() => multipartPlan([{ start: 5, end: 4 }], 10, 'text/plain')).to.throw(RangeError);
      expect(() => multipartPlan([{ start: -1, end: 4 }], 10, 'text/plain')).to.throw(RangeError);
      expect(() => multipartPlan([{ start: 0, end: 1 }], 10, 'text/plain\r\nSet-Cookie: x=y')).to.throw(TypeError);
    });
  });

  describe('property: random valid headers against a byte-by-byte reference', function () {
    const seed = fuzzSeed();
    printReplayOnFailure(seed, import.meta.url);
    const ROUNDS = 3000;

    /** A random but valid Range header of `size` bytes, with the byte intervals it names. */
    function randomHeader(prng: Prng, size: number): { header: string; specs: ({ suffix: number } | { first: number; last?: number })[] } {
      const count = 1 + prng.int(MAX_RANGES + 3);
      const specs: ({ suffix: number } | { first: number; last?: number })[] = [];
      const text: string[] = [];
      const num = (n: number) => (prng.chance(0.1) ? '0'.repeat(1 + prng.int(3)) : '') + String(n);
      for (let i = 0; i < count; i++) {
        const kind = prng.int(3);
        if (kind === 0) {
          const suffix = prng.int(size + 10);
          specs.push({ suffix });
          text.push(`-${num(suffix)}`);
        } else {
          const first = prng.int(size + 10);
          const last = kind === 1 ? first + prng.int(Math.max(1, size / 4 + 10)) : undefined;
          specs.push({ first, last });
          text.push(`${num(first)}-${last === undefined ? '' : num(last)}`);
        }
        if (prng.chance(0.05)) text.push(''); // an empty list element
      }
      const ows = () => prng.pick(['', '', ' ', '\t', '  ']);
      const unit = prng.pick(['bytes', 'bytes', 'Bytes', 'BYTES']);
      return { header: `${unit}=${prng.chance(0.2) ? ows() : ''}${text.join(`${ows()},${ows()}`)}`, specs };
    }

    /** What the header must get: from the bitmap of selected bytes, one range per maximal run. */
    function reference(specs: ReturnType<typeof randomHeader>['specs'], size: number): RangeRequest {
      if (specs.length > MAX_RANGES) return NONE;
      // firstAsked[b]: the index of the first spec that selects byte b, or -1.
      const firstAsked = new Array<number>(size).fill(-1);
      let satisfiableOnEmpty = false;
      specs.forEach((s, i) => {
        const [from, to] = 'suffix' in s ? [size - s.suffix, size - 1] : [s.first, s.last ?? size - 1];
        if ('suffix' in s && s.suffix > 0 && size === 0) satisfiableOnEmpty = true;
        for (let b = Math.max(0, from); b <= Math.min(to, size - 1); b++) if (firstAsked[b] === -1) firstAsked[b] = i;
      });
      const runs: (ByteRange & { asked: number })[] = [];
      for (let b = 0; b < size; b++) {
        if (firstAsked[b] === -1) continue;
        const run = runs.at(-1);
        if (run && run.end === b - 1) {
          run.end = b;
          run.asked = Math.min(run.asked, firstAsked[b]!);
        } else runs.push({ start: b, end: b, asked: firstAsked[b]! });
      }
      if (runs.length === 0) return satisfiableOnEmpty ? NONE : UNSATISFIABLE;
      runs.sort((a, b) => a.asked - b.asked);
      return ranges(...runs.map((r): [number, number] => [r.start, r.end]));
    }

    it(`${ROUNDS} headers parse to the reference's ranges, and their multipart body parses back to the same bytes`, () => {
      const prng = new Prng(seed);
      const seen = { none: 0, unsatisfiable: 0, ranges: 0, multipart: 0 };
      for (let round = 0; round < ROUNDS; round++) {
        const size = prng.pick([0, 1, 2, 3, 7, 64, 200, 1000]);
        const { header, specs } = randomHeader(prng, size);
        const got = parseRange(header, size);
        expect(got, `${JSON.stringify(header)} of ${size} bytes`).to.deep.equal(reference(specs, size));
        seen[got.kind]++;
        if (got.kind !== 'ranges' || got.ranges.length < 2) continue;
        seen.multipart++;
        const content = Buffer.from(prng.bytes(size));
        const plan = multipartPlan(got.ranges, size, 'application/octet-stream');
        const body = assemble(plan, content);
        expect(body.length, header).to.equal(plan.contentLength);
        const parts = parseMultipartByteranges(`multipart/byteranges; boundary=${plan.boundary}`, body);
        expect(parts.map((p) => p.headers['content-range']), header).to.deep.equal(got.ranges.map((r) => contentRange(r, size)));
        parts.forEach((p, i) => expect(p.bytes.equals(content.subarray(got.ranges[i]!.start, got.ranges[i]!.end + 1)), `${header}: part ${i}`).to.equal(true));
      }
      // The generator reaches every answer, or the property says little.
      for (const [kind, n] of Object.entries(seen)) expect(n, kind).to.be.greaterThan(ROUNDS / 50);
    });

    it(`${ROUNDS} valid headers with one range spec made invalid are all ignored`, () => {
      const prng = new Prng(seed ^ 0x5eed);
      const INVALID = ['5-1', 'x', '-', '1-2-3', '+1-2', '1 -2', '0x1-2', '99999999999999999999-'];
      for (let round = 0; round < ROUNDS; round++) {
        const size = prng.pick([0, 1, 64, 1000]);
        const { header } = randomHeader(prng, size);
        const [unit, set] = [header.slice(0, header.indexOf('=') + 1), header.slice(header.indexOf('=') + 1).split(',')];
        set[prng.int(set.length)] = prng.pick(INVALID);
        const broken = unit + set.join(',');
        expect(parseRange(broken, size), JSON.stringify(broken)).to.deep.equal(NONE);
      }
    });
  });
});
