/**
 * Regenerates the golden vectors of the wire codec in test/overlay/wire/vectors/: one JSON file per
 * case with the encoding as hex and either the decoded value (byte strings and the transaction id
 * as hex, see test/helpers/wire-json.ts) or the RELOAD error its decoding must give. Output is
 * deterministic: fixed ids and stand-in certificate and signature bytes, no keys.
 *
 *   npx tsx scripts/gen-wire-vectors.ts
 *
 * Run it only when the wire format changes on purpose, and review the diff: the vectors are what
 * other implementations and older nodes are held to.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorName, ErrorCode } from '../overlay/errors.js';
import { idFromHex } from '../overlay/id.js';
import { decodeCbor, encodeCbor } from '../overlay/wire/cbor.js';
import { encodeContents, encodeErrorBody, encodeMessage, encodeSecurity, overlayHash } from '../overlay/wire/codec.js';
import { MessageCode } from '../overlay/wire/codes.js';
import { FORWARD_CRITICAL, PROTOCOL_VERSION, RESPONSE_COPY, type ErrorBody, type MessageContents, type SecurityBlock, type WireMessage } from '../overlay/wire/message.js';
import { toWireJson } from '../test/helpers/wire-json.js';

/** Which decoder a vector is for. */
export type VectorKind = 'message' | 'contents' | 'security' | 'errorBody';

/** The file format of one vector. `maxSize` applies to messages; exactly one of `expected` and `error` is set. */
export interface WireVector {
  description: string;
  kind: VectorKind;
  hex: string;
  maxSize?: number;
  expected?: unknown;
  error?: string;
}

/** The max-message-size of message vectors (a few use a smaller one to test the limit). */
const VECTOR_MAX_SIZE = 65536;

const VECTOR_DIR = fileURLToPath(new URL('../test/overlay/wire/vectors/', import.meta.url));

const NODE_A = idFromHex('00112233445566778899aabbccddeeff');
const NODE_B = idFromHex('ffeeddccbbaa99887766554433221100');
const RESOURCE = idFromHex('0123456789abcdef0123456789abcdef');
const pattern = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (seed + i * 37) & 0xff);

const ping: MessageContents = { code: MessageCode.PingReq, body: encodeCbor([]), extensions: [] };
const contentsWithExtensions: MessageContents = {
  code: MessageCode.StoreReq,
  body: pattern(24, 1),
  extensions: [
    { type: 0x0001, critical: true, contents: pattern(3, 2) },
    { type: 0xffff, critical: false, contents: new Uint8Array(0) },
  ],
};
const security: SecurityBlock = {
  // Stand-ins: the codec does not parse certificates, and signatures are checked by sign.ts tests.
  certificates: [Uint8Array.of(0x30, 0x82, 0x01, 0x00, ...pattern(256, 3))],
  signature: { algorithm: 'rsa-sha256', signer: { type: 'cert_hash', hashAlg: 'sha256', certHash: pattern(32, 4) }, value: pattern(256, 5) },
};

function message(overrides: Partial<WireMessage['header']> = {}): WireMessage {
  return {
    header: {
      overlay: overlayHash('example.reload'),
      configSequence: 3,
      version: PROTOCOL_VERSION,
      ttl: 100,
      transactionId: 0x0123456789abcdefn,
      maxResponseLength: 0,
      via: [{ type: 'node', id: NODE_A }],
      destinations: [{ type: 'node', id: NODE_B }],
      options: [],
      ...overrides,
    },
    contentsBytes: encodeContents(ping),
    securityBytes: encodeSecurity(security),
  };
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/** Re-encodes `bytes` after `edit` changed its raw CBOR items: for encodings the encoders refuse to make. */
function edited(bytes: Uint8Array, edit: (items: unknown[]) => void): Uint8Array {
  const items = decodeCbor(bytes) as unknown[];
  edit(items);
  return encodeCbor(items);
}

function valid(description: string, kind: VectorKind, value: unknown, encoded: Uint8Array): WireVector {
  return { description, kind, hex: hex(encoded), ...(kind === 'message' ? { maxSize: VECTOR_MAX_SIZE } : {}), expected: toWireJson(value) };
}

function failing(description: string, kind: VectorKind, encoded: Uint8Array, error: ErrorCode, maxSize = VECTOR_MAX_SIZE): WireVector {
  return { description, kind, hex: hex(encoded), ...(kind === 'message' ? { maxSize } : {}), error: errorName(error) };
}

/** All vectors, by file name (without .json). */
function wireVectors(): Record<string, WireVector> {
  const minimal = message();
  const full = message({
    overlay: 0xffffffff,
    configSequence: 0xffff,
    ttl: 255,
    transactionId: (1n << 64n) - 1n,
    maxResponseLength: 0xffffffff,
    via: [
      { type: 'node', id: NODE_A },
      { type: 'opaque', id: Uint8Array.of(0x80, 0x2a) },
    ],
    destinations: [
      { type: 'node', id: NODE_B },
      { type: 'opaque', id: pattern(255, 6) },
      { type: 'resource', id: RESOURCE },
    ],
    options: [
      { type: 1, flags: FORWARD_CRITICAL | RESPONSE_COPY, value: pattern(4, 7) },
      { type: 255, flags: 0, value: new Uint8Array(0) },
    ],
  });
  const empty: WireMessage = { header: { ...minimal.header, via: [], destinations: [], transactionId: 0n }, contentsBytes: new Uint8Array(0), securityBytes: new Uint8Array(0) };
  const minimalBytes = encodeMessage(minimal);
  const errorBody: ErrorBody = { code: ErrorCode.Forbidden, info: 'signature does not verify ✗' };
  return {
    'message-minimal': valid('a Ping request: one via entry, one destination, no options', 'message', minimal, minimalBytes),
    'message-full': valid('every destination type, options, and every header field at its maximum', 'message', full, encodeMessage(full)),
    'message-empty-lists': valid('empty via and destination lists, empty contents and security block, transaction id 0', 'message', empty, encodeMessage(empty)),
    'contents-ping': valid('MessageContents of a Ping request', 'contents', ping, encodeContents(ping)),
    'contents-extensions': valid('MessageContents with a critical and a non-critical extension', 'contents', contentsWithExtensions, encodeContents(contentsWithExtensions)),
    'security-cert-hash': valid('a security block: one certificate, an RSA-SHA256 signature by cert_hash', 'security', security, encodeSecurity(security)),
    'security-no-certificates': valid('a security block without certificates (the receiver holds them)', 'security', { ...security, certificates: [] }, encodeSecurity({ ...security, certificates: [] })),
    'error-body': valid('an ErrorResponse body with UTF-8 info', 'errorBody', errorBody, encodeErrorBody(errorBody)),
    'fail-message-truncated': failing('a valid message without its last byte', 'message', minimalBytes.subarray(0, minimalBytes.length - 1), ErrorCode.Invalid_Message),
    'fail-message-trailing-byte': failing('a valid message followed by one more byte', 'message', Buffer.concat([minimalBytes, Uint8Array.of(0)]), ErrorCode.Invalid_Message),
    'fail-message-too-large': failing('a valid message one byte over maxSize', 'message', minimalBytes, ErrorCode.Message_Too_Large, minimalBytes.length - 1),
    'fail-message-unknown-destination-type': failing('a destination of type 4', 'message', edited(minimalBytes, (m) => (m[8] = [[4, NODE_B]])), ErrorCode.Invalid_Message),
    'fail-message-resource-in-via': failing('a resource id in the via list', 'message', edited(minimalBytes, (m) => (m[7] = [[2, RESOURCE]])), ErrorCode.Invalid_Message),
    'fail-message-short-node-id': failing('a 15-byte node id', 'message', edited(minimalBytes, (m) => (m[8] = [[1, NODE_B.subarray(1)]])), ErrorCode.Invalid_Message),
    'fail-message-version': failing('version 0x0b', 'message', edited(minimalBytes, (m) => (m[3] = 0x0b)), ErrorCode.Invalid_Message),
    'fail-message-token': failing('a wrong relo_token', 'message', edited(minimalBytes, (m) => (m[0] = 0x52454c4f)), ErrorCode.Invalid_Message),
    'fail-message-ttl-range': failing('ttl 256', 'message', edited(minimalBytes, (m) => (m[4] = 256)), ErrorCode.Invalid_Message),
    'fail-message-map': failing('a CBOR map instead of the message array', 'message', encodeCbor({ overlay: 1 }), ErrorCode.Invalid_Message),
    'fail-contents-truncated': failing('MessageContents without its last byte', 'contents', encodeContents(ping).subarray(0, -1), ErrorCode.Invalid_Message),
    'fail-contents-code-range': failing('message code 0x10000', 'contents', edited(encodeContents(ping), (c) => (c[0] = 0x10000)), ErrorCode.Invalid_Message),
    'fail-security-unknown-signer-type': failing('SignerIdentity type 2 (cert_hash_node_id)', 'security', edited(encodeSecurity(security), (s) => ((s[1] as unknown[][])[1]![0] = 2)), ErrorCode.Invalid_Message),
    'fail-security-unknown-algorithm': failing('signature algorithm [4, 2] (dsa)', 'security', edited(encodeSecurity(security), (s) => ((s[1] as unknown[])[0] = [4, 2])), ErrorCode.Invalid_Message),
    'fail-error-body-info-bytes': failing('error_info as a byte string', 'errorBody', encodeCbor([2, Uint8Array.of(0x61)]), ErrorCode.Invalid_Message),
  };
}

function main(): void {
  mkdirSync(VECTOR_DIR, { recursive: true });
  // Start clean so that a renamed or dropped vector leaves no stale file behind.
  for (const file of readdirSync(VECTOR_DIR)) if (file.endsWith('.json')) rmSync(join(VECTOR_DIR, file));
  const vectors = wireVectors();
  for (const [name, vector] of Object.entries(vectors)) writeFileSync(join(VECTOR_DIR, `${name}.json`), JSON.stringify(vector, null, 2) + '\n');
  console.log(`wrote ${Object.keys(vectors).length} vectors to ${VECTOR_DIR}`);
}

main();
