/**
 * Fuzzing the data-channel decoder: random bytes, byte-level mutations of valid frames, changed
 * CBOR items and forged DATA headers and chunk lengths must give ReloadError (Invalid_Message, or Message_Too_Large
 * for an over-size chunk) and nothing else. What the decoder accepts respects the swarm's bounds
 * and encodes again to a frame that decodes to the same message. Replay with FUZZ_SEED=<seed>.
 */
import { expect } from 'chai';
import { ErrorCode, ReloadError } from '../../../../overlay/errors.js';
import { decodeCbor, encodeCbor } from '../../../../overlay/wire/cbor.js';
import { DATA_HEADER_BYTES, decodeDataMessage, encodeDataMessage, type PpspDataMessage, type SwarmBounds } from '../../../../usages/ppsp/data/data-messages.js';
import { fuzzSeed, Prng } from '../../../helpers/prng.js';

const FRAMES = 24_000;
const BOUNDS: SwarmBounds[] = [
  { chunkCount: 0, maxChunkBytes: 0 },
  { chunkCount: 1, maxChunkBytes: 16 },
  { chunkCount: 5, maxChunkBytes: 64 },
  { chunkCount: 100, maxChunkBytes: 1024 },
  { chunkCount: 2 ** 20, maxChunkBytes: 16 * 1024 },
];

function sample(rng: Prng): PpspDataMessage {
  const index = () => rng.pick([0, 1, 4, 99, rng.int(2 ** 20)]);
  switch (rng.int(12)) {
    case 0:
      return { type: 'handshake', swarmId: rng.bytes(32), version: rng.int(3) };
    case 1:
      return { type: 'data', index: index(), chunk: rng.bytes(1 + rng.int(rng.chance(0.1) ? 2000 : 70)) };
    case 2:
    case 3:
    case 4: {
      const first = index();
      return { type: rng.pick(['request', 'cancel', 'have'] as const), first, last: first + rng.int(5) };
    }
    case 5:
      return { type: 'choke' };
    case 6:
      return { type: 'unchoke' };
    case 7: {
      const first = index();
      return { type: 'hashesRequest', first, last: first + rng.int(5) };
    }
    case 8:
      // Leaf hashes with none to 32 uncle hashes, the most a frame may carry (mutations make bad ones).
      return { type: 'hashes', first: index(), hashes: rng.bytes(32 * (1 + rng.int(4))), uncles: rng.bytes(32 * rng.pick([0, 1, 5, 32])) };
    case 9:
      return { type: 'liveMetadata', descriptor: rng.bytes(rng.chance(0.1) ? 10_000 : 1 + rng.int(600)), chunksPerKilosecond: rng.int(100_000) };
    case 10:
      return { type: 'liveData', index: index(), timestampMs: rng.pick([0, 1_700_000_000_000, Number.MAX_SAFE_INTEGER]), flags: rng.int(2), signature: rng.bytes(rng.pick([1, 256, 1024])), chunk: rng.bytes(rng.int(rng.chance(0.1) ? 2000 : 70)) };
    default:
      return { type: 'error', code: rng.int(256), text: rng.pick(['', 'out_of_range', 'x'.repeat(rng.int(500))]) };
  }
}

function randomItem(rng: Prng): unknown {
  return rng.pick<() => unknown>([
    () => rng.pick([0, 1, 3, 8, 9, 10, 11, 254, 255, 0xffffffff, 2 ** 32, -1, 1.5, NaN]),
    () => rng.pick([0n, 2n ** 64n - 1n]),
    () => rng.bytes(rng.pick([0, 31, 32, 33])),
    () => rng.pick(['', 'x', 'é'.repeat(300)]),
    () => rng.pick([true, false, null, undefined]),
    () => [rng.int(12), rng.int(5)],
    () => ({ a: 1 }),
  ])();
}

function mutateBytes(rng: Prng, frame: Uint8Array): Uint8Array {
  const out = Buffer.from(frame);
  switch (rng.int(4)) {
    case 0:
      for (let n = 1 + rng.int(4); n > 0; n--) out[rng.int(Math.min(out.length, 48))]! ^= 1 << rng.int(8);
      return out;
    case 1: {
      const at = rng.int(out.length + 1);
      return Buffer.concat([out.subarray(0, at), rng.bytes(1 + rng.int(40)), out.subarray(at)]);
    }
    case 2: {
      const at = rng.int(out.length);
      return Buffer.concat([out.subarray(0, at), out.subarray(at + 1 + rng.int(40))]);
    }
    default:
      return out.subarray(0, rng.int(out.length));
  }
}

/** A CBOR frame with one item replaced, removed or appended. */
function mutateItems(rng: Prng, frame: Uint8Array): Uint8Array {
  const items = decodeCbor(Uint8Array.from(frame)) as unknown[];
  const at = rng.int(items.length + 1);
  const r = rng.int(3);
  if (r === 0) items.splice(at, 1);
  else if (r === 1) items.splice(at, 0, randomItem(rng));
  else items[Math.min(at, items.length - 1)] = randomItem(rng);
  return encodeCbor(items);
}

/**
 * A DATA frame with a forged index (the rest left as it was), or its chunk cut or grown to a length
 * at the edges of the swarm's bounds: none, one byte, the chunk size, one past it.
 */
function forgeData(rng: Prng, frame: Uint8Array, bounds: SwarmBounds): Uint8Array {
  const out = Buffer.from(frame);
  if (rng.chance(0.5)) {
    out.writeUInt32BE(rng.pick([0, 1, 99, 100, 2 ** 20, 0xffffffff, rng.next()]), 1);
    return out;
  }
  const size = rng.pick([0, 1, bounds.maxChunkBytes, bounds.maxChunkBytes + 1, rng.int(2000)]);
  return Buffer.concat([out.subarray(0, DATA_HEADER_BYTES), rng.bytes(size)]);
}

describe('PPSP data messages fuzz', () => {
  it(`refuses ${FRAMES} random and mutated frames with a ReloadError only, and round-trips what it accepts`, function () {
    this.timeout(60_000);
    const seed = fuzzSeed();
    const rng = new Prng(seed);
    const accepted = new Map<string, number>();
    const refused = new Map<string, number>();
    for (let i = 0; i < FRAMES; i++) {
      const bounds = rng.pick(BOUNDS);
      const valid = encodeDataMessage(sample(rng));
      const r = rng.int(10);
      let frame: Uint8Array;
      if (r === 0) frame = rng.bytes(rng.int(80));
      else if (r === 1) frame = Buffer.concat([Buffer.of(1), rng.bytes(rng.int(300))]);
      else if (r === 2) frame = valid;
      else if (r < 6) frame = mutateBytes(rng, valid);
      else if (valid[0] === 1 || valid[0] === 0x13) frame = forgeData(rng, valid, bounds);
      else frame = mutateItems(rng, valid);
      const context = () => `seed ${seed}, frame #${i}, bounds ${JSON.stringify(bounds)}, ${Buffer.from(frame).toString('hex').slice(0, 160)}`;
      let m: PpspDataMessage;
      try {
        m = decodeDataMessage(frame, bounds);
      } catch (e) {
        expect(e, context()).to.be.instanceOf(ReloadError);
        const error = e as ReloadError;
        expect([ErrorCode.Invalid_Message, ErrorCode.Message_Too_Large], `${context()}: ${error.message}`).to.include(error.code);
        refused.set(error.reason, (refused.get(error.reason) ?? 0) + 1);
        continue;
      }
      accepted.set(m.type, (accepted.get(m.type) ?? 0) + 1);
      if (m.type === 'data') {
        expect(m.index, context()).to.be.below(bounds.chunkCount);
        expect(m.chunk.length, context()).to.be.within(1, bounds.maxChunkBytes);
        // The whole tail after the 5-byte header is the chunk, and the index is the header's.
        expect(Buffer.from(m.chunk).equals(Buffer.from(frame).subarray(DATA_HEADER_BYTES)), context()).to.equal(true);
        expect(m.index, context()).to.equal(Buffer.from(frame).readUInt32BE(1));
      }
      if (m.type === 'request' || m.type === 'cancel' || m.type === 'have' || m.type === 'hashesRequest') expect(m.last, context()).to.be.below(bounds.chunkCount);
      if (m.type === 'hashes') {
        expect(m.first + m.hashes.length / 32 - 1, context()).to.be.below(bounds.chunkCount);
        expect(m.uncles.length % 32, context()).to.equal(0);
        expect(m.uncles.length, context()).to.be.at.most(32 * 32);
      }
      expect(decodeDataMessage(encodeDataMessage(m), bounds), context()).to.deep.equal(m);
    }
    // Every kind of outcome was exercised, not only one refusal path.
    for (const type of ['handshake', 'data', 'request', 'cancel', 'have', 'choke', 'unchoke', 'error', 'hashesRequest', 'hashes']) expect(accepted.get(type) ?? 0, type).to.be.above(0);
    for (const reason of ['invalid_message', 'malformed_cbor', 'out_of_range', 'message_too_large']) expect(refused.get(reason) ?? 0, reason).to.be.above(0);
  });
});
