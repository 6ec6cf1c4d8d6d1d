/**
 * Reads a multipart/byteranges body (RFC 9110 §14.6, RFC 2046 §5.1.1) the way a client must, for
 * tests of what we send: strict, so a framing mistake (a missing CRLF, a stray byte after the close
 * delimiter, a malformed header line) is an error rather than a part of odd length.
 */

export interface BodyPart {
  /** Part header fields, names lowercased. */
  headers: Record<string, string>;
  bytes: Buffer;
}

/** The boundary of a `multipart/byteranges; boundary=...` Content-Type (quoted or not). */
export function multipartBoundary(contentType: string): string {
  const m = /^multipart\/byteranges;[ \t]*boundary=(?:"([^"]{1,70})"|([^";\s]{1,70}))$/i.exec(contentType);
  if (!m) throw new Error(`not a multipart/byteranges type with a boundary: ${contentType}`);
  return m[1] ?? m[2]!;
}

/** The parts of `body`, framed by the boundary in `contentType`. */
export function parseMultipartByteranges(contentType: string, body: Buffer): BodyPart[] {
  const boundary = multipartBoundary(contentType);
  const dashBoundary = Buffer.from(`--${boundary}`);
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  // We send no preamble: the body opens with the first dash-boundary.
  if (!body.subarray(0, dashBoundary.length).equals(dashBoundary)) throw new Error('the body does not open with --boundary');
  const parts: BodyPart[] = [];
  let at = dashBoundary.length;
  for (;;) {
    if (body.subarray(at, at + 2).toString('latin1') === '--') {
      const epilogue = body.subarray(at + 2).toString('latin1');
      if (epilogue !== '\r\n' && epilogue !== '') throw new Error(`bytes after the close delimiter: ${JSON.stringify(epilogue.slice(0, 40))}`);
      if (parts.length === 0) throw new Error('a multipart body with no part');
      return parts;
    }
    if (body.subarray(at, at + 2).toString('latin1') !== '\r\n') throw new Error(`no CRLF after the delimiter at byte ${at}`);
    const headEnd = body.indexOf('\r\n\r\n', at + 2, 'latin1');
    if (headEnd < 0) throw new Error(`part headers at byte ${at} never end`);
    const headers: Record<string, string> = {};
    for (const line of body.subarray(at + 2, headEnd).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon <= 0) throw new Error(`not a header line: ${JSON.stringify(line)}`);
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const next = body.indexOf(delimiter, headEnd + 4);
    if (next < 0) throw new Error(`the part at byte ${at} has no closing delimiter`);
    parts.push({ headers, bytes: body.subarray(headEnd + 4, next) });
    at = next + delimiter.length;
  }
}
