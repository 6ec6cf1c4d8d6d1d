/**
 * A small, strict `multipart/form-data` codec (RFC 7578 on RFC 2046 §5.1), just enough for the
 * enrollment form of RFC 6940 §11.3. The parser works on a body already bounded by the caller and
 * refuses anything it would otherwise have to guess about: a missing or malformed boundary, a part
 * without `Content-Disposition: form-data; name=...`, folded or oversized part headers, a field
 * sent twice, a body without its closing delimiter. A preamble and an epilogue are allowed,
 * because RFC 2046 allows them and they carry no data.
 */
import { randomBytes } from 'node:crypto';

/** Most parts accepted in one body; the enrollment form has four fields. */
export const MAX_FORM_PARTS = 16;
/** Largest header block of one part, in bytes (a Content-Disposition and a Content-Type fit easily). */
export const MAX_PART_HEADER_BYTES = 1024;

/** The body or its Content-Type is not well-formed multipart/form-data; the message says where. */
export class MultipartError extends Error {
  override name = 'MultipartError';
}

/** One field of a form. */
export interface FormPart {
  name: string;
  /** The `filename` parameter, when the sender gave one. */
  filename?: string;
  /** The part's Content-Type, lowercased, when the sender gave one. */
  contentType?: string;
  data: Buffer;
}

/** A field to encode. */
export interface FormField {
  name: string;
  value: string | Uint8Array;
  filename?: string;
  contentType?: string;
}

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const MEDIA_TYPE = new RegExp(`^[ \\t]*(${TOKEN}(?:/${TOKEN})?)[ \\t]*`);
const PARAMETER = new RegExp(`^;[ \\t]*(${TOKEN})=(?:(${TOKEN})|"((?:[^"\\\\\\r\\n]|\\\\[^\\r\\n])*)")[ \\t]*`);
const HEADER_LINE = new RegExp(`^(${TOKEN}):[ \\t]*(.*?)[ \\t]*$`);
/** RFC 2046 §5.1.1 `boundary`: 1 to 70 bchars, not ending in a space. */
const BOUNDARY = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');
const CLOSE = Buffer.from('--');

/**
 * Splits a header value such as `form-data; name="csr"; filename="a.pem"` into its lowercased
 * type and its parameters (names lowercased, quoted strings unescaped). Any leftover text, or a
 * parameter given twice, is an error rather than something to skip.
 */
export function parseHeaderValue(value: string): { type: string; params: Map<string, string> } {
  const head = MEDIA_TYPE.exec(value);
  if (!head) throw new MultipartError(`cannot parse header value "${value.slice(0, 80)}"`);
  const params = new Map<string, string>();
  let rest = value.slice(head[0].length);
  while (rest.length > 0) {
    const m = PARAMETER.exec(rest);
    if (!m) throw new MultipartError(`cannot parse parameters "${rest.slice(0, 80)}"`);
    const name = m[1]!.toLowerCase();
    if (params.has(name)) throw new MultipartError(`parameter "${name}" given twice`);
    params.set(name, m[2] ?? m[3]!.replace(/\\(.)/g, '$1'));
    rest = rest.slice(m[0].length);
  }
  return { type: head[1]!.toLowerCase(), params };
}

/** The boundary of a `multipart/form-data` Content-Type header; throws MultipartError otherwise. */
export function boundaryOf(contentType: string | undefined): string {
  if (!contentType) throw new MultipartError('no Content-Type: expected multipart/form-data');
  const { type, params } = parseHeaderValue(contentType);
  if (type !== 'multipart/form-data') throw new MultipartError(`Content-Type is ${type}, expected multipart/form-data`);
  const boundary = params.get('boundary');
  if (boundary === undefined || !BOUNDARY.test(boundary)) throw new MultipartError('multipart/form-data without a valid boundary parameter');
  return boundary;
}

function startsWithAt(body: Buffer, at: number, bytes: Buffer): boolean {
  return body.length >= at + bytes.length && body.compare(bytes, 0, bytes.length, at, at + bytes.length) === 0;
}

function partHeaders(block: string): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of block.split('\r\n')) {
    // A line that does not match includes obsolete line folding (RFC 7230 §3.2.4), refused too.
    const m = HEADER_LINE.exec(line);
    if (!m) throw new MultipartError(`malformed part header line "${line.slice(0, 80)}"`);
    const name = m[1]!.toLowerCase();
    if (headers.has(name)) throw new MultipartError(`part header ${name} given twice`);
    headers.set(name, m[2]!);
  }
  return headers;
}

function formPart(headerBlock: string, data: Buffer): FormPart {
  const headers = partHeaders(headerBlock);
  const disposition = headers.get('content-disposition');
  if (disposition === undefined) throw new MultipartError('a part has no Content-Disposition');
  const { type, params } = parseHeaderValue(disposition);
  const name = params.get('name');
  if (type !== 'form-data' || !name) throw new MultipartError('a part is not Content-Disposition: form-data with a name');
  const part: FormPart = { name, data };
  const filename = params.get('filename');
  if (filename !== undefined) part.filename = filename;
  const contentType = headers.get('content-type');
  if (contentType !== undefined) part.contentType = contentType.toLowerCase();
  return part;
}

/**
 * Parses a complete `multipart/form-data` body into its fields by name. The part data are views
 * into `body`, not copies.
 */
export function parseMultipart(body: Buffer, boundary: string, maxParts = MAX_FORM_PARTS): Map<string, FormPart> {
  if (!BOUNDARY.test(boundary)) throw new MultipartError('invalid boundary');
  const dashBoundary = Buffer.from(`--${boundary}`, 'latin1');
  const delimiter = Buffer.concat([CRLF, dashBoundary]);
  // The first delimiter may open the body (no CRLF before it) or follow a preamble.
  let pos: number;
  if (startsWithAt(body, 0, dashBoundary)) {
    pos = dashBoundary.length;
  } else {
    const first = body.indexOf(delimiter);
    if (first < 0) throw new MultipartError('the body does not contain the boundary');
    pos = first + delimiter.length;
  }
  const fields = new Map<string, FormPart>();
  for (;;) {
    if (startsWithAt(body, pos, CLOSE)) return fields; // the close delimiter; the epilogue is ignored
    if (!startsWithAt(body, pos, CRLF)) throw new MultipartError('a boundary is not followed by CRLF or "--"');
    pos += CRLF.length;
    if (fields.size === maxParts) throw new MultipartError(`more than ${maxParts} parts`);
    if (startsWithAt(body, pos, CRLF)) throw new MultipartError('a part has no headers');
    const headerEnd = body.indexOf(HEADER_END, pos);
    if (headerEnd < 0 || headerEnd - pos > MAX_PART_HEADER_BYTES) {
      throw new MultipartError(`part headers are unterminated or longer than ${MAX_PART_HEADER_BYTES} bytes`);
    }
    const dataStart = headerEnd + HEADER_END.length;
    const next = body.indexOf(delimiter, dataStart);
    if (next < 0) throw new MultipartError('the body ends inside a part (no closing boundary)');
    const part = formPart(body.toString('utf8', pos, headerEnd), body.subarray(dataStart, next));
    if (fields.has(part.name)) throw new MultipartError(`field "${part.name}" given twice`);
    fields.set(part.name, part);
    pos = next + delimiter.length;
  }
}

/** Text for a part header; CR, LF and NUL would end or break the header, so they are refused. */
function headerText(text: string): string {
  if (/[\r\n\0]/.test(text)) throw new MultipartError(`cannot put ${JSON.stringify(text)} in a part header`);
  return text;
}

function quoted(text: string): string {
  return `"${headerText(text).replace(/["\\]/g, '\\$&')}"`;
}

/** Encodes fields as a `multipart/form-data` body with a fresh random boundary. */
export function encodeMultipart(fields: readonly FormField[]): { body: Buffer; contentType: string } {
  const values = fields.map((f) => (typeof f.value === 'string' ? Buffer.from(f.value, 'utf8') : Buffer.from(f.value)));
  let boundary: string;
  // 128 random bits make a collision with the data practically impossible; checking costs little.
  do {
    boundary = `reload-${randomBytes(16).toString('hex')}`;
  } while (values.some((v) => v.includes(boundary)));
  const chunks: Buffer[] = [];
  fields.forEach((f, i) => {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name=${quoted(f.name)}`;
    if (f.filename !== undefined) head += `; filename=${quoted(f.filename)}`;
    if (f.contentType !== undefined) head += `\r\nContent-Type: ${headerText(f.contentType)}`;
    chunks.push(Buffer.from(`${head}\r\n\r\n`, 'utf8'), values[i]!, CRLF);
  });
  chunks.push(Buffer.from(`--${boundary}--\r\n`, 'latin1'));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}
