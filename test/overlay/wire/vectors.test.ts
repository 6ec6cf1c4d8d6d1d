import { readdirSync, readFileSync } from 'node:fs';
import { expect } from 'chai';
import { ErrorCode } from '../../../overlay/errors.js';
import {
  decodeContents,
  decodeErrorBody,
  decodeMessage,
  decodeSecurity,
  encodeContents,
  encodeErrorBody,
  encodeMessage,
  encodeSecurity,
} from '../../../overlay/wire/codec.js';
import type { VectorKind, WireVector } from '../../../scripts/gen-wire-vectors.js';
import { expectReloadError } from '../../helpers/expect-reload-error.js';
import { fromWireJson, toWireJson } from '../../helpers/wire-json.js';

const VECTOR_DIR = new URL('./vectors/', import.meta.url);

/** Decoder and encoder per vector kind; `maxSize` only matters to messages. */
const CODECS: Record<VectorKind, { decode(bytes: Uint8Array, maxSize: number): unknown; encode(value: never): Uint8Array }> = {
  message: { decode: decodeMessage, encode: encodeMessage },
  contents: { decode: decodeContents, encode: encodeContents },
  security: { decode: decodeSecurity, encode: encodeSecurity },
  errorBody: { decode: decodeErrorBody, encode: encodeErrorBody },
};

const files = readdirSync(VECTOR_DIR).filter((f) => f.endsWith('.json')).sort();
const vectors = files.map((file) => [file, JSON.parse(readFileSync(new URL(file, VECTOR_DIR), 'utf8')) as WireVector] as const);

describe('wire golden vectors (scripts/gen-wire-vectors.ts)', () => {
  it('cover every kind, valid and failing, including truncated, unknown-type and over-size cases', () => {
    for (const kind of Object.keys(CODECS)) {
      expect(vectors.some(([, v]) => v.kind === kind && v.expected !== undefined), `a valid ${kind} vector`).to.equal(true);
    }
    const failures = vectors.filter(([, v]) => v.error !== undefined).map(([f]) => f);
    expect(failures).to.include.members(['fail-message-truncated.json', 'fail-message-unknown-destination-type.json', 'fail-message-too-large.json']);
  });

  for (const [file, vector] of vectors) {
    const codec = CODECS[vector.kind];
    const bytes = Buffer.from(vector.hex, 'hex');
    const maxSize = vector.maxSize ?? Number.MAX_SAFE_INTEGER;
    if (vector.error !== undefined) {
      it(`${file}: ${vector.description} fails with ${vector.error}`, () => {
        expectReloadError(() => codec.decode(bytes, maxSize), ErrorCode[vector.error as keyof typeof ErrorCode]);
      });
    } else {
      it(`${file}: ${vector.description} decodes to the expected value and re-encodes to the same bytes`, () => {
        expect(toWireJson(codec.decode(bytes, maxSize))).to.deep.equal(vector.expected);
        expect(Buffer.from(codec.encode(fromWireJson<never>(vector.expected))).toString('hex')).to.equal(vector.hex);
      });
    }
  }
});
