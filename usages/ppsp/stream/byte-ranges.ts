/**
 * HTTP byte ranges (RFC 9110 §14) and the framing of multipart/byteranges bodies (RFC 9110 §14.6,
 * RFC 2046 §5.1.1). Pure: no I/O; the media endpoint reads the bytes and sends them.
 *
 * What a Range header gets (RFC 9110 §14.2):
 * - none (serve 200): no header, a unit other than `bytes`, or a syntactically invalid header
 *   (a server MAY ignore it; ignoring is what keeps a broken client working).
 * - unsatisfiable (416, whose Content-Range gives only the size, §14.4): valid, but no range overlaps
 *   the representation (§14.1.2: a first-pos at or past the length; a suffix of zero bytes).
 * - ranges (206): each clamped to the representation, in the order asked, coalesced (below).
 *
 * More than `maxRanges` ranges is answered as none (200), not 416: §14.2 lets a server ignore or
 * reject such a set, and the whole representation costs us no more than a plain GET any client may
 * send, while a legitimate client that asks for many ranges (a PDF viewer does) still gets its
 * bytes. Apache answers 200 to abusive range sets for the same reason.
 *
 * Ranges that overlap or touch are coalesced (§14.2 and §15.3.7.2 allow it): a client cannot make
 * us send the same bytes many times in one answer, and the non-canonical spellings of §14.1.2
 * (`500-600,601-999`, `500-700,601-999`) become the one range they mean. The merged range takes the
 * place of the first of its parts, so ranges that do not touch keep the order they were asked in:
 * players ask for one range or a few far apart, and answering in order is what they expect.
 */
import { randomBytes } from 'node:crypto';

/** Bytes start..end, both inclusive. */
export interface ByteRange {
  start: number;
  end: number;
}

export type RangeRequest = { kind: 'none' } | { kind: 'unsatisfiable' } | { kind: 'ranges'; ranges: ByteRange[] };

/** Ranges in one Range header at most, by default; past it the header is ignored. */
export const MAX_RANGES = 16;
/** Characters of a Range header at most, by default, before any parsing. */
export const MAX_RANGE_HEADER_CHARS = 1024;

export interface RangeLimits {
  /** Range specs at most (empty list elements not counted). Default MAX_RANGES. */
  maxRanges?: number;
  /** Header characters at most. Default MAX_RANGE_HEADER_CHARS. */
  maxHeaderChars?: number;
}

// RFC 9110 §14.1.2: int-range = first-pos "-" [ last-pos ], suffix-range = "-" suffix-length,
// each position 1*DIGIT (ASCII digits only: \d without the u flag).
const INT_RANGE = /^(\d+)-(\d*)$/;
const SUFFIX_RANGE = /^-(\d+)$/;
// Range units are case-insensitive (§14.1). OWS after "=" is tolerated: §14.1.2's own example
// `bytes= 0-999, 4500-5499, -1000` has it.
const BYTES_SPECIFIER = /^bytes=(.*)$/i;
const OWS = /^[ \t]+|[ \t]+$/g;

/** What a Range header asks of a representation of `size` bytes. */
export function parseRange(header: string | undefined, size: number, limits: RangeLimits = {}): RangeRequest {
  const { maxRanges = MAX_RANGES, maxHeaderChars = MAX_RANGE_HEADER_CHARS } = limits;
  if (header === undefined || header.length > maxHeaderChars) return { kind: 'none' };
  const m = BYTES_SPECIFIER.exec(header.replace(OWS, ''));
  if (!m) return { kind: 'none' };
  // RFC 9110 §5.6.1.2: empty list elements are ignored, but the set needs one range (1#range-spec).
  const specs = m[1]!
    .split(',')
    .map((s) => s.replace(OWS, ''))
    .filter((s) => s !== '');
  if (specs.length === 0 || specs.length > maxRanges) return { kind: 'none' };
  const ranges: ByteRange[] = [];
  let emptySuffix = false;
  for (const spec of specs) {
    const suffix = SUFFIX_RANGE.exec(spec);
    if (suffix) {
      const length = safeInteger(suffix[1]!);
      if (length === undefined) return { kind: 'none' };
      // The last `length` bytes, or all of them if fewer; a zero suffix selects nothing.
      if (length > 0 && size > 0) ranges.push({ start: Math.max(0, size - length), end: size - 1 });
      else if (length > 0) emptySuffix = true;
      continue;
    }
    const int = INT_RANGE.exec(spec);
    if (!int) return { kind: 'none' };
    const first = safeInteger(int[1]!);
    const last = int[2] === '' ? size - 1 : safeInteger(int[2]!);
    if (first === undefined || last === undefined) return { kind: 'none' };
    // §14.1.1: an int-range whose last-pos is below its first-pos is invalid, and so is the header.
    if (int[2] !== '' && last < first) return { kind: 'none' };
    if (first < size) ranges.push({ start: first, end: Math.min(last, size - 1) });
  }
  // §14.1.2: on a zero-length representation a non-zero suffix is satisfiable, yet no Content-Range
  // can say "no bytes": the whole (empty) representation is the answer.
  if (ranges.length === 0) return emptySuffix ? { kind: 'none' } : { kind: 'unsatisfiable' };
  return { kind: 'ranges', ranges: coalesce(ranges) };
}

/** A decimal string's value, or undefined past Number.MAX_SAFE_INTEGER (it could not be exact). */
function safeInteger(digits: string): number | undefined {
  const n = Number(digits);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * Merges ranges that overlap or touch. Each merged range sits where the first of its parts was
 * asked; the result has no two ranges that overlap or touch.
 */
function coalesce(ranges: readonly ByteRange[]): ByteRange[] {
  const out: ByteRange[] = [];
  for (const r of ranges) {
    let merged = { ...r };
    let at = out.length;
    // A merge grows the range, which may then touch a kept range already passed: look again.
    for (let i = 0; i < out.length; ) {
      const o = out[i]!;
      if (o.start <= merged.end + 1 && merged.start <= o.end + 1) {
        merged = { start: Math.min(o.start, merged.start), end: Math.max(o.end, merged.end) };
        out.splice(i, 1);
        at = Math.min(at, i);
        i = 0;
      } else i++;
    }
    out.splice(at, 0, merged);
  }
  return out;
}

/** The Content-Range value of `r` in a representation of `size` bytes (RFC 9110 §14.4). */
export function contentRange(r: ByteRange, size: number): string {
  return `bytes ${r.start}-${r.end}/${size}`;
}

export interface MultipartPlan {
  boundary: string;
  /** Each range with the bytes that go before it (delimiter and part headers). */
  parts: { range: ByteRange; head: Buffer }[];
  /** The closing delimiter. */
  tail: Buffer;
  /** Bytes of the whole body, for Content-Length. */
  contentLength: number;
}

/** Random bytes of a multipart boundary: 48 hex characters, within RFC 2046's 70. */
export const BOUNDARY_BYTES = 24;

/**
 * The framing of a multipart/byteranges body for `ranges` of a representation of `size` bytes: the
 * server sends each part's head then that range's bytes, then the tail, and declares contentLength.
 *
 * RFC 2046 §5.1.1 asks that the boundary not occur in the parts, but the bytes of a streaming swarm
 * are not all here when the head is sent, so they cannot be searched. The boundary is therefore
 * 192 random bits drawn after the content was fixed: each of the content's n positions matches at
 * most one of 2^192 equally likely boundaries, so the chance of a clash is at most n / 2^192.
 */
export function multipartPlan(ranges: readonly ByteRange[], size: number, contentType: string): MultipartPlan {
  if (ranges.length === 0) throw new RangeError('a multipart/byteranges body needs at least one range');
  for (const r of ranges) {
    if (!Number.isSafeInteger(r.start) || !Number.isSafeInteger(r.end) || r.start < 0 || r.start > r.end || r.end >= size) {
      throw new RangeError(`range ${r.start}-${r.end} is not within a representation of ${size} bytes`);
    }
  }
  // The type goes into the body as a part header: a line break in it would forge headers.
  if (/[\r\n]/.test(contentType)) throw new TypeError('a part Content-Type cannot hold a line break');
  const boundary = randomBytes(BOUNDARY_BYTES).toString('hex');
  let contentLength = 0;
  const parts = ranges.map((range, i) => {
    // The first delimiter opens the body; every later one starts with the CRLF that ends the part before.
    const head = Buffer.from(`${i === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Type: ${contentType}\r\nContent-Range: ${contentRange(range, size)}\r\n\r\n`);
    contentLength += head.length + range.end - range.start + 1;
    return { range: { ...range }, head };
  });
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return { boundary, parts, tail, contentLength: contentLength + tail.length };
}
