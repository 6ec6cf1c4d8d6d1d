import { expect } from 'chai';
import {
  boundaryOf,
  encodeMultipart,
  MAX_FORM_PARTS,
  MAX_PART_HEADER_BYTES,
  MultipartError,
  parseHeaderValue,
  parseMultipart,
} from '../../certs/multipart.js';

const B = 'xYz-123';

/** Builds a body by hand from CRLF-joined lines, so that tests control every byte. */
function body(...lines: string[]): Buffer {
  return Buffer.from(lines.join('\r\n'), 'utf8');
}

function part(name: string, value: string, extra: string[] = []): string[] {
  return [`--${B}`, `Content-Disposition: form-data; name="${name}"`, ...extra, '', value];
}

describe('certs/multipart', () => {
  describe('parseHeaderValue', () => {
    it('lowercases the type and parameter names and unescapes quoted strings', () => {
      const { type, params } = parseHeaderValue('Form-Data; NAME="a \\"b\\""; filename=x.pem');
      expect(type).to.equal('form-data');
      expect(params.get('name')).to.equal('a "b"');
      expect(params.get('filename')).to.equal('x.pem');
    });

    it('refuses leftovers and repeated parameters', () => {
      expect(() => parseHeaderValue('form-data; name="a" junk')).to.throw(MultipartError);
      expect(() => parseHeaderValue('form-data; name=a; name=b')).to.throw(MultipartError, /twice/);
      expect(() => parseHeaderValue('form-data; name="unterminated')).to.throw(MultipartError);
    });
  });

  describe('boundaryOf', () => {
    it('reads token and quoted boundaries', () => {
      expect(boundaryOf(`multipart/form-data; boundary=${B}`)).to.equal(B);
      expect(boundaryOf('Multipart/Form-Data; boundary="a b:c"')).to.equal('a b:c');
    });

    it('refuses other types and bad or missing boundaries', () => {
      expect(() => boundaryOf(undefined)).to.throw(MultipartError, /no Content-Type/);
      expect(() => boundaryOf('application/json')).to.throw(MultipartError, /expected multipart\/form-data/);
      expect(() => boundaryOf('multipart/form-data')).to.throw(MultipartError, /boundary/);
      expect(() => boundaryOf(`multipart/form-data; boundary="${'a'.repeat(71)}"`)).to.throw(MultipartError, /boundary/);
      expect(() => boundaryOf('multipart/form-data; boundary="ends in space "')).to.throw(MultipartError, /boundary/);
    });
  });

  describe('parseMultipart', () => {
    it('parses fields with filename and content type, keeping binary data intact', () => {
      const bin = Buffer.from([0, 13, 10, 45, 45, 255]);
      const raw = Buffer.concat([
        body(...part('username', 'alice@x'), `--${B}`, 'Content-Disposition: form-data; name="csr"; filename="c.der"', 'Content-Type: Application/PKCS10', '', ''),
        bin,
        body('', `--${B}--`, ''),
      ]);
      const fields = parseMultipart(raw, B);
      expect([...fields.keys()]).to.deep.equal(['username', 'csr']);
      expect(fields.get('username')!.data.toString()).to.equal('alice@x');
      const csr = fields.get('csr')!;
      expect(csr.filename).to.equal('c.der');
      expect(csr.contentType).to.equal('application/pkcs10');
      expect(csr.data.equals(bin)).to.equal(true);
    });

    it('accepts a preamble and an epilogue and an empty value', () => {
      const fields = parseMultipart(body('preamble text', ...part('a', ''), `--${B}--`, 'epilogue'), B);
      expect(fields.get('a')!.data.length).to.equal(0);
    });

    it('refuses malformed bodies', () => {
      const cases: [string, Buffer][] = [
        ['no boundary', body('hello')],
        ['no closing boundary', body(...part('a', '1'))],
        ['missing CRLF after boundary', body(`--${B}junk`, 'Content-Disposition: form-data; name="a"', '', '1', `--${B}--`)],
        ['no headers', body(`--${B}`, '', '1', `--${B}--`)],
        ['no disposition', body(`--${B}`, 'Content-Type: text/plain', '', '1', `--${B}--`)],
        ['not form-data', body(`--${B}`, 'Content-Disposition: attachment; name="a"', '', '1', `--${B}--`)],
        ['no name', body(`--${B}`, 'Content-Disposition: form-data', '', '1', `--${B}--`)],
        ['folded header', body(`--${B}`, 'Content-Disposition: form-data;', ' name="a"', '', '1', `--${B}--`)],
        ['duplicate header', body(...part('a', '1', ['Content-Type: a/b', 'Content-Type: a/b']), `--${B}--`)],
        ['duplicate field', body(...part('a', '1'), ...part('a', '2'), `--${B}--`)],
        ['unterminated headers', body(`--${B}`, 'Content-Disposition: form-data; name="a"')],
        ['huge headers', body(...part('a', '1', [`X-Pad: ${'p'.repeat(MAX_PART_HEADER_BYTES)}`]), `--${B}--`)],
      ];
      for (const [what, raw] of cases) {
        expect(() => parseMultipart(raw, B), what).to.throw(MultipartError);
      }
    });

    it('caps the number of parts', () => {
      const lines = Array.from({ length: MAX_FORM_PARTS + 1 }, (_, i) => part(`f${i}`, 'v')).flat();
      expect(() => parseMultipart(body(...lines, `--${B}--`), B)).to.throw(MultipartError, /more than/);
      expect(parseMultipart(body(...lines.slice(0, -4), `--${B}--`), B).size).to.equal(MAX_FORM_PARTS);
    });
  });

  describe('encodeMultipart', () => {
    it('round-trips through parseMultipart with a boundary taken from the Content-Type', () => {
      const der = Buffer.from([0x30, 0x82, 0x01, 0x0a, 0x0d, 0x0a, 0x2d, 0x2d]);
      const { body: raw, contentType } = encodeMultipart([
        { name: 'username', value: 'bob@example.org' },
        { name: 'pass"word', value: 'p\u00e4ss' },
        { name: 'csr', value: der, filename: 'csr.der', contentType: 'application/pkcs10' },
      ]);
      const fields = parseMultipart(raw, boundaryOf(contentType));
      expect(fields.get('username')!.data.toString()).to.equal('bob@example.org');
      expect(fields.get('pass"word')!.data.toString('utf8')).to.equal('p\u00e4ss');
      expect(fields.get('csr')!.data.equals(der)).to.equal(true);
      expect(fields.get('csr')!.filename).to.equal('csr.der');
    });

    it('uses a fresh boundary each time and refuses line breaks in headers', () => {
      expect(encodeMultipart([]).contentType).not.to.equal(encodeMultipart([]).contentType);
      expect(() => encodeMultipart([{ name: 'a\r\nX-Evil: 1', value: '' }])).to.throw(MultipartError);
      expect(() => encodeMultipart([{ name: 'a', value: '', contentType: 'text/plain\r\nX: 1' }])).to.throw(MultipartError);
    });
  });
});
