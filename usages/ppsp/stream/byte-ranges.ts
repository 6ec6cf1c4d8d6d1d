/**
 * HTTP byte ranges (RFC 9110 §14) and multipart/byteranges bodies (RFC 9110 §14.6). Pure.
 *
 * A Range header that is not `bytes=` or is malformed is ignored (§14.2: the server may serve the
 * whole representation); a well-formed one none of whose ranges overlaps the content is
 * unsatisfiable (416). Ranges are kept in the order asked (§14.2 lets a server coalesce; players
 * ask for one range or a few far apart, and answering in order is what they expect), but overlapping
 * ones are merged so a client cannot make us send the same bytes many times in one answer. More than
 * MAX_RANGES ranges is treated as malformed: the whole content is no worse for an honest client.
 */
import { randomBytes } from 'node:crypto';

/** Bytes start..end, both inclusive. */
export interface ByteRange {
  start: number;
  end: number;
}

export type RangeRequest = { kind: 'none' } | { kind: 'unsatisfiable' } | { kind: 'ranges'; ranges: ByteRange[] };

/** Ranges in one Range header at most. */
export const MAX_RANGES = 16;
/** Characters of a Range header at most, before any parsing. */
export const MAX_RANGE_HEADER_CHARS = 1024;

const SPEC = /^(\d*)-(\d*)$/;

/** What a Range header asks of a representation of `size` bytes. */
export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (header === undefined || header.length > MAX_RANGE_HEADER_CHARS) return { kind: 'none' };
  const m = /^bytes=(.+)$/i.exec(header.trim());
  if (!m) return { kind: 'none' };
  const specs = m[1]!.split(',').map((s) => s.trim());
  if (specs.length > MAX_RANGES) return { kind: 'none' };
  const ranges: ByteRange[] = [];
  for (const spec of specs) {
    const s = SPEC.exec(spec);
    if (!s || (s[1] === '' && s[2] === '')) return { kind: 'none' };
    const first = s[1] === '' ? undefined : Number(s[1]);
    const last = s[2] === '' ? undefined : Number(s[2]);
    if ((first !== undefined && !Number.isSafeInteger(first)) || (last !== undefined && !Number.isSafeInteger(last))) return { kind: 'none' };
    if (first === undefined) {
      // A suffix: the last `last` bytes; "-0" selects nothing.
      if (last! > 0 && size > 0) ranges.push({ start: Math.max(0, size - last!), end: size - 1 });
      continue;
    }
    if (last !== undefined && last < first) return { kind: 'none' };
    if (first < size) ranges.push({ start: first, end: Math.min(last ?? size - 1, size - 1) });
  }
  if (ranges.length === 0) return { kind: 'unsatisfiable' };
  return { kind: 'ranges', ranges: mergeOverlaps(ranges) };
}

/** Merges each range into an earlier one it overlaps, keeping the order of first appearance. */
function mergeOverlaps(ranges: ByteRange[]): ByteRange[] {
  const out: ByteRange[] = [];
  for (const r of ranges) {
    const into = out.find((o) => r.start <= o.end && o.start <= r.end);
    if (into) {
      into.start = Math.min(into.start, r.start);
      into.end = Math.max(into.end, r.end);
    } else out.push({ ...r });
  }
  // A merge can make two kept ranges overlap; merge again until none does.
  return out.length < ranges.length ? mergeOverlaps(out) : out;
}

/** The Content-Range value of `r` in a representation of `size` bytes. */
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

/**
 * The framing of a multipart/byteranges body. The boundary is 24 random bytes in hex: it cannot be
 * checked against bytes not read yet, and a 192-bit random string turns up in content with
 * negligible probability (RFC 2046 §5.1.1 asks only that it not occur).
 */
export function multipartPlan(ranges: readonly ByteRange[], size: number, contentType: string): MultipartPlan {
  const boundary = randomBytes(24).toString('hex');
  let contentLength = 0;
  const parts = ranges.map((range, i) => {
    const head = Buffer.from(`${i === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Type: ${contentType}\r\nContent-Range: ${contentRange(range, size)}\r\n\r\n`);
    contentLength += head.length + range.end - range.start + 1;
    return { range, head };
  });
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return { boundary, parts, tail, contentLength: contentLength + tail.length };
}
