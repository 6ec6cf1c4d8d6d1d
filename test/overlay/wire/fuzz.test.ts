/**
 * Fuzzing the whole receive path of the wire layer: FrameReader, decodeMessage, decodeContents,
 * decodeSecurity and verifyMessage must refuse every malformed input with a ReloadError carrying
 * a known code, and throw nothing else. Inputs are random byte strings and mutations of valid
 * signed messages. The PRNG is seeded; replay a failure with FUZZ_SEED=<seed>.
 */
import { expect } from 'chai';
import type { Identity } from '../../../certs/identity.js';
import { ErrorCode, errorName, isKnownErrorCode, ReloadError } from '../../../overlay/errors.js';
import { idFromHex } from '../../../overlay/id.js';
import { decodeCbor, encodeCbor } from '../../../overlay/wire/cbor.js';
import { decodeContents, decodeMessage, decodeSecurity, encodeMessage, newTransactionId, overlayHash } from '../../../overlay/wire/codec.js';
import { MessageCode } from '../../../overlay/wire/codes.js';
import { frame, FRAME_PREFIX_BYTES, FrameReader, framePrefix } from '../../../overlay/wire/framing.js';
import { PROTOCOL_VERSION, type Destination, type WireMessage } from '../../../overlay/wire/message.js';
import { signMessage, verifyMessage } from '../../../overlay/wire/sign.js';
import { sharedPki, TEST_OVERLAY, type TestPki } from '../../helpers/pki.js';
import { fuzzSeed, Prng } from '../../helpers/prng.js';
import { toWireJson } from '../../helpers/wire-json.js';

const FRAMES = 100_000;
const MAX_SIZE = 8192;
/** The codes the receive path may give; anything else means a check is missing or misplaced. */
/** Codes each stage may refuse with: the decoders judge form only; Forbidden is the signature check's. */
const DECODER_CODES = new Set([ErrorCode.Invalid_Message, ErrorCode.Message_Too_Large]);
const VERIFY_CODES = new Set([...DECODER_CODES, ErrorCode.Forbidden]);

/** A valid message with the offsets of its CBOR heads, the inner contents and security blocks included. */
interface Sample {
  bytes: Uint8Array;
  msg: WireMessage;
  heads: Head[];
}

interface Head {
  offset: number;
  major: number;
  info: number;
}

/** The heads of the definite-length CBOR item at the start of `bytes` (all our encoder writes). */
function cborHeads(bytes: Uint8Array, base = 0): Head[] {
  const heads: Head[] = [];
  let pos = 0;
  const item = (): void => {
    const offset = pos;
    const byte = bytes[pos++]!;
    const major = byte >> 5;
    const info = byte & 0x1f;
    let arg = info;
    if (info >= 24) {
      arg = 0;
      for (let k = 0; k < 1 << (info - 24); k++) arg = arg * 256 + bytes[pos++]!;
    }
    heads.push({ offset: base + offset, major, info });
    if (major === 2 || major === 3) pos += arg;
    else if (major === 4) for (let k = 0; k < arg; k++) item();
    else if (major === 5) for (let k = 0; k < 2 * arg; k++) item();
    else if (major === 6) item();
  };
  item();
  return heads;
}

function sample(msg: WireMessage): Sample {
  const bytes = encodeMessage(msg);
  const decoded = decodeMessage(bytes, MAX_SIZE);
  const offsetOf = (inner: Uint8Array) => inner.byteOffset - bytes.byteOffset;
  return {
    bytes,
    msg,
    heads: [...cborHeads(bytes), ...cborHeads(decoded.contentsBytes, offsetOf(decoded.contentsBytes)), ...cborHeads(decoded.securityBytes, offsetOf(decoded.securityBytes))],
  };
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

/** Mutations of one byte string; `heads` locates CBOR heads in it for the structure-aware ones. */
function mutators(rng: Prng) {
  const copy = (b: Uint8Array) => Uint8Array.from(b);
  return {
    bitFlips(b: Uint8Array): Uint8Array {
      const out = copy(b);
      for (let n = 1 + rng.int(8); n > 0 && out.length > 0; n--) out[rng.int(out.length)]! ^= 1 << rng.int(8);
      return out;
    },
    insert(b: Uint8Array): Uint8Array {
      const at = rng.int(b.length + 1);
      return concat(b.subarray(0, at), rng.bytes(1 + rng.int(4)), b.subarray(at));
    },
    delete(b: Uint8Array): Uint8Array {
      const at = rng.int(b.length);
      return concat(b.subarray(0, at), b.subarray(at + 1 + rng.int(4)));
    },
    truncate(b: Uint8Array): Uint8Array {
      return b.subarray(0, rng.int(b.length));
    },
    /** Rewrites the length of a byte string, text, array or map: a new width, or a new value in the old width. */
    lengthField(b: Uint8Array, heads: Head[]): Uint8Array {
      const sized = heads.filter((h) => h.major >= 2 && h.major <= 5);
      const h = rng.pick(sized);
      const out = copy(b);
      if (rng.chance(0.5)) {
        out[h.offset] = (h.major << 5) | rng.int(32);
      } else if (h.info < 24) {
        out[h.offset] = (h.major << 5) | rng.int(24);
      } else {
        for (let k = 1; k <= 1 << (h.info - 24); k++) out[h.offset + k] = rng.pick([0x00, 0xff, rng.int(256)]);
      }
      return out;
    },
    /** Gives a head another major type, keeping its argument. */
    typeSwap(b: Uint8Array, heads: Head[]): Uint8Array {
      const h = rng.pick(heads);
      const out = copy(b);
      out[h.offset] = (rng.int(8) << 5) | h.info;
      return out;
    },
  };
}

/** A random CBOR-encodable value: shapes the decoder's field checks must refuse. */
function randomValue(rng: Prng, depth: number): unknown {
  switch (rng.int(depth > 0 ? 12 : 10)) {
    case 0: return rng.int(256);
    case 1: return rng.pick([-1, 256, 65536, 2 ** 32, 2 ** 53, 1.5, NaN, Infinity]);
    case 2: return rng.pick([true, false, null, undefined]);
    case 3: return String.fromCharCode(...rng.bytes(rng.int(8)));
    case 4: return rng.bytes(rng.pick([0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 256]));
    case 5: return rng.bytes(rng.int(64));
    case 6: return (1n << 64n) + BigInt(rng.int(1000));
    case 7: return new Map([[1, rng.int(10)]]);
    case 8: return { type: 1 };
    case 9: return [];
    default: return Array.from({ length: rng.pick([1, 2, 3, 12, 13]) }, () => randomValue(rng, depth - 1));
  }
}

/** Replaces one item, at the top or one level down, of a valid message's raw CBOR array. */
function fieldSwap(rng: Prng, s: Sample): Uint8Array {
  const items = decodeCbor(s.bytes) as unknown[];
  const i = rng.int(items.length);
  const field = items[i];
  if (Array.isArray(field) && field.length > 0 && rng.chance(0.5)) field[rng.int(field.length)] = randomValue(rng, 2);
  else items[i] = randomValue(rng, 2);
  return encodeCbor(items);
}

describe('wire fuzzing', function () {
  this.timeout(120_000);
  let pki: TestPki;
  let samples: Sample[];

  before(async () => {
    pki = await sharedPki();
    const [alice, bob]: Identity[] = await Promise.all([pki.enroll(), pki.enroll()]);
    const opaque: Destination = { type: 'opaque', id: Uint8Array.of(0x80, 0x07) };
    const resource: Destination = { type: 'resource', id: idFromHex('0123456789abcdef0123456789abcdef') };
    const make = (signer: Identity, body: number, extra: Partial<WireMessage['header']> = {}, includeCertificate = true): WireMessage =>
      signMessage(
        {
          overlay: overlayHash(TEST_OVERLAY),
          configSequence: 1,
          version: PROTOCOL_VERSION,
          ttl: 100,
          transactionId: newTransactionId(),
          maxResponseLength: 0,
          via: [{ type: 'node', id: signer.nodeId }],
          destinations: [{ type: 'node', id: bob!.nodeId }],
          options: [],
          ...extra,
        },
        { code: MessageCode.PingReq, body: new Uint8Array(body).fill(0x5a), extensions: body > 100 ? [{ type: 1, critical: true, contents: Uint8Array.of(1, 2, 3) }] : [] },
        signer,
        { includeCertificate },
      );
    samples = [
      make(alice!, 0),
      make(alice!, 1),
      make(bob!, 40, { destinations: [opaque, resource] }),
      make(alice!, 300, { via: [{ type: 'node', id: alice!.nodeId }, opaque, { type: 'node', id: bob!.nodeId }], options: [{ type: 1, flags: 1, value: Uint8Array.of(9) }] }),
      make(bob!, 2000, { ttl: 255, transactionId: (1n << 64n) - 1n }),
      make(alice!, 16, {}, false),
    ].map(sample);
  });

  it(`refuses ${FRAMES} random and mutated frames with ReloadErrors only, through framing, decoders and verification`, () => {
    const seed = fuzzSeed();
    const rng = new Prng(seed);
    const mutate = mutators(rng);
    const outcomes = new Map<string, number>();
    let frames = 0;
    let reachedSignatureCheck = 0;
    let current = '';
    /** The case damaged bytes under the signature: nothing decoded from it may verify. */
    let damagedSigned = false;
    let damagedRefused = 0;

    const count = (key: string) => outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    /** Runs one stage; a ReloadError with an expected code is a refusal, anything else fails the test. */
    const attempt = <T>(stage: string, fn: () => T): T | undefined => {
      try {
        const result = fn();
        count(`${stage}: ok`);
        return result;
      } catch (e) {
        const ok = e instanceof ReloadError && isKnownErrorCode(e.code) && (stage === 'verify' ? VERIFY_CODES : DECODER_CODES).has(e.code);
        expect(ok, `seed ${seed}, ${current}, ${stage} threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`).to.equal(true);
        const error = e as ReloadError;
        count(`${stage}: ${errorName(error.code)}/${error.reason}`);
        if (stage === 'verify' && (error.reason === 'bad_signature' || error.reason === 'node_id_mismatch')) reachedSignatureCheck++;
        return undefined;
      }
    };

    const receive = (bytes: Uint8Array) => {
      frames++;
      const msg = attempt('decodeMessage', () => decodeMessage(bytes, MAX_SIZE));
      if (!msg) return;
      // What the decoder accepts, the encoder must be able to send again, unchanged.
      const again = decodeMessage(encodeMessage(msg), MAX_SIZE);
      expect(toWireJson(again), `seed ${seed}, ${current}: re-encoding changed the message`).to.deep.equal(toWireJson(msg));
      attempt('decodeContents', () => decodeContents(msg.contentsBytes));
      attempt('decodeSecurity', () => decodeSecurity(msg.securityBytes));
      const verified = attempt('verify', () => verifyMessage(msg, pki.trust, Date.now()));
      if (verified) reachedSignatureCheck++;
      expect(Boolean(verified) && damagedSigned, `seed ${seed}, ${current}: damaged signed bytes verified`).to.equal(false);
      if (damagedSigned && !verified) damagedRefused++;
    };

    /** Sends `bytes` as a frame, its prefix sometimes corrupted, through a FrameReader in random chunks. */
    const stream = (bytes: Uint8Array) => {
      const prefix = rng.chance(0.1) ? rng.bytes(FRAME_PREFIX_BYTES) : framePrefix(bytes.length);
      const wire = concat(prefix, bytes, rng.chance(0.1) ? frame(rng.bytes(1 + rng.int(50))) : new Uint8Array(0));
      const reader = new FrameReader(MAX_SIZE);
      for (let at = 0; at < wire.length; ) {
        const size = 1 + rng.int(rng.chance(0.5) ? 16 : 2048);
        const complete = attempt('frameReader', () => reader.push(wire.subarray(at, at + size)));
        if (!complete) return; // a FrameReader that threw is done, as the link would be
        for (const f of complete) receive(f);
        at += size;
      }
    };

    for (let i = 0; frames < FRAMES; i++) {
      const s = rng.pick(samples);
      const strategy = rng.int(100);
      current = `case ${i}, strategy ${strategy}`;
      let bytes: Uint8Array;
      damagedSigned = false;
      if (strategy < 15) {
        const length = rng.chance(0.02) ? MAX_SIZE + 1 + rng.int(100) : rng.int(rng.chance(0.8) ? 64 : 3000);
        bytes = rng.bytes(length);
      } else if (strategy < 20) {
        bytes = concat(s.bytes.subarray(0, rng.int(s.bytes.length)), rng.bytes(rng.int(200)));
      } else if (strategy < 30) bytes = mutate.bitFlips(s.bytes);
      else if (strategy < 37) bytes = mutate.insert(s.bytes);
      else if (strategy < 44) bytes = mutate.delete(s.bytes);
      else if (strategy < 50) bytes = mutate.truncate(s.bytes);
      else if (strategy < 56) {
        const other = rng.pick(samples).bytes;
        bytes = concat(s.bytes.subarray(0, rng.int(s.bytes.length)), other.subarray(rng.int(other.length)));
      } else if (strategy < 66) bytes = mutate.lengthField(s.bytes, s.heads);
      else if (strategy < 76) bytes = mutate.typeSwap(s.bytes, s.heads);
      else if (strategy < 86) bytes = fieldSwap(rng, s);
      else {
        // Corrupt the signed contents or the security block but keep a well-formed outer message,
        // so the inner decoders and the signature check see the damage.
        const inner = rng.chance(0.5) ? 'contentsBytes' : 'securityBytes';
        const original = s.msg[inner];
        const damaged = rng.pick([mutate.bitFlips, mutate.insert, mutate.delete, mutate.truncate])(original);
        bytes = encodeMessage({ ...s.msg, [inner]: damaged });
        // Two flips of one bit give the original back: only a real change must fail to verify.
        damagedSigned = !Buffer.from(damaged).equals(Buffer.from(original));
      }
      stream(bytes);
    }

    const summary = [...outcomes.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k} ${n}`);
    console.log(`      seed ${seed}: ${frames} frames decoded, ${reachedSignatureCheck} reached the RSA signature check\n        ${summary.join('\n        ')}`);
    expect(reachedSignatureCheck, `seed ${seed}`).to.be.greaterThan(0);
    expect(damagedRefused, `seed ${seed}: damaged signed messages that reached the decoders and were refused`).to.be.greaterThan(100);
  });

  it('refuses an over-size frame length as soon as its prefix is complete, before buffering any of it', () => {
    const seed = fuzzSeed();
    const rng = new Prng(seed);
    for (let i = 0; i < 2000; i++) {
      const reader = new FrameReader(MAX_SIZE);
      const length = MAX_SIZE + 1 + rng.int(0xffffffff - MAX_SIZE);
      const wire = concat(framePrefix(length), rng.bytes(rng.int(4096)));
      let thrown: unknown;
      for (let at = 0; at < wire.length && thrown === undefined; ) {
        const size = 1 + rng.int(rng.chance(0.5) ? 3 : 1024);
        try {
          reader.push(wire.subarray(at, at + size));
          expect(reader.bufferedBytes, `seed ${seed}, case ${i}: bytes held before the prefix is complete`).to.be.lessThan(FRAME_PREFIX_BYTES);
        } catch (e) {
          thrown = e;
          const completedPrefix = at < FRAME_PREFIX_BYTES && at + size >= FRAME_PREFIX_BYTES;
          expect(completedPrefix, `seed ${seed}, case ${i}: refused on the push that completed the prefix`).to.equal(true);
        }
        at += size;
      }
      expect(thrown, `seed ${seed}, case ${i}`).to.be.instanceOf(ReloadError);
      expect((thrown as ReloadError).code, `seed ${seed}, case ${i}`).to.equal(ErrorCode.Message_Too_Large);
      expect(reader.bufferedBytes).to.equal(0);
    }
  });
});
