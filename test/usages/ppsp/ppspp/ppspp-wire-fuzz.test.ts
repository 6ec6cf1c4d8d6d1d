/**
 * Fuzzing the PPSPP datagram decoder: random bytes, and bit flips, insertions, deletions and
 * truncations of valid datagrams (under every chunk addressing method, hash function and signature
 * length) must give a ReloadError and nothing else. Every datagram the decoder accepts encodes again,
 * against the same starting context, to exactly the bytes it came from: the decoder keeps options in
 * their order and every integer as sent, and refuses the few non-canonical forms (a supported-messages
 * bitmap with a trailing zero byte), so there is no second spelling of a decoded value. Replay with
 * FUZZ_SEED=<seed>.
 */
import { expect } from 'chai';
import { ReloadError } from '../../../../overlay/errors.js';
import { type ChunkAddressing, type ChunkSpec } from '../../../../usages/ppsp/ppspp/ppspp-chunk-spec.js';
import { contextAfterOptions, DEFAULT_PPSPP_CONTEXT, type PpsppContext } from '../../../../usages/ppsp/ppspp/ppspp-context.js';
import { decodeDatagram, encodeDatagram } from '../../../../usages/ppsp/ppspp/ppspp-datagram.js';
import type { PpsppMessage } from '../../../../usages/ppsp/ppspp/ppspp-messages.js';
import type { MerkleHashFunction, ProtocolOption } from '../../../../usages/ppsp/ppspp/ppspp-options.js';
import { fuzzSeed, printReplayOnFailure, Prng } from '../../../helpers/prng.js';

const DATAGRAMS = 100_000;
const ADDRESSING: ChunkAddressing[] = ['bins32', 'byteRanges64', 'chunkRanges32', 'bins64', 'chunkRanges64'];
const HASHES: MerkleHashFunction[] = ['sha1', 'sha224', 'sha256', 'sha384', 'sha512'];

function u64(rng: Prng): bigint {
  return rng.pick([0n, 1n, 2n ** 32n, 2n ** 64n - 1n, (BigInt(rng.next()) << 32n) | BigInt(rng.next())]);
}

function chunkSpec(rng: Prng, addressing: ChunkAddressing): ChunkSpec {
  const u32 = () => rng.pick([0, 1, 7, 0xffffffff, rng.next()]);
  switch (addressing) {
    case 'bins32':
      return { addressing, bin: u32() };
    case 'bins64':
      return { addressing, bin: u64(rng) };
    case 'chunkRanges32': {
      const start = rng.pick([0, 5, rng.next() >>> 1]);
      return { addressing, start, end: start + rng.int(1000) };
    }
    default: {
      const start = rng.pick([0n, 2n ** 40n, BigInt(rng.next())]);
      return { addressing, start, end: start + BigInt(rng.int(1000)) };
    }
  }
}

function options(rng: Prng, closing: boolean): ProtocolOption[] {
  if (closing) return rng.chance(0.5) ? [] : [{ kind: 'version', value: rng.int(3) }];
  const all: ProtocolOption[] = [];
  if (rng.chance(0.8)) all.push({ kind: 'version', value: rng.pick([1, 1, 2]) });
  if (rng.chance(0.5)) all.push({ kind: 'minimumVersion', value: 1 });
  if (rng.chance(0.7)) all.push({ kind: 'swarmId', value: rng.bytes(1 + rng.int(40)) });
  if (rng.chance(0.5)) all.push({ kind: 'contentIntegrityProtectionMethod', value: rng.pick(['none', 'merkleHashTree', 'signAll', 'unifiedMerkleTree'] as const) });
  if (rng.chance(0.5)) all.push({ kind: 'merkleHashTreeFunction', value: rng.pick(HASHES) });
  if (rng.chance(0.3)) all.push({ kind: 'liveSignatureAlgorithm', value: rng.pick([13, 14]) });
  if (rng.chance(0.6)) {
    const method = rng.pick(ADDRESSING);
    all.push({ kind: 'chunkAddressingMethod', value: method });
    if (rng.chance(0.5)) all.push({ kind: 'liveDiscardWindow', value: method === 'bins32' || method === 'chunkRanges32' ? BigInt(rng.next()) : u64(rng) });
  }
  if (rng.chance(0.4)) all.push({ kind: 'supportedMessages', value: [...new Set([0, 1, 3, rng.int(256)])].sort((a, b) => a - b) });
  if (rng.chance(0.4)) all.push({ kind: 'chunkSize', value: rng.pick([1024, 0xffffffff, 1 + rng.int(100_000)]) });
  // Shuffled: the decoder keeps any order, except that the discard window follows the addressing method.
  for (let i = all.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  const window = all.findIndex((o) => o.kind === 'liveDiscardWindow');
  const method = all.findIndex((o) => o.kind === 'chunkAddressingMethod');
  if (window !== -1 && window < method) [all[window], all[method]] = [all[method]!, all[window]!];
  return all;
}

/** A message valid under `context` (never DATA: the caller puts one last). */
function message(rng: Prng, context: PpsppContext, hashBytes: number, signatureBytes: number): PpsppMessage {
  const chunks = () => chunkSpec(rng, context.chunkAddressing);
  switch (rng.int(12)) {
    case 0: {
      const closing = rng.chance(0.2);
      return { type: 'handshake', sourceChannel: closing ? 0 : 1 + rng.int(0xfffffffe), options: options(rng, closing) };
    }
    case 1:
      return { type: 'ack', chunks: chunks(), delaySample: u64(rng) };
    case 2:
      return { type: rng.pick(['have', 'request', 'cancel'] as const), chunks: chunks() };
    case 3:
      return { type: 'integrity', chunks: chunks(), hash: rng.bytes(hashBytes) };
    case 4:
      return { type: 'signedIntegrity', chunks: chunks(), timestamp: u64(rng), signature: rng.bytes(signatureBytes) };
    case 5:
      return { type: 'pexResV4', address: rng.bytes(4), port: rng.int(0x10000) };
    case 6:
      return { type: 'pexResV6', address: rng.bytes(16), port: rng.int(0x10000) };
    case 7:
      return { type: 'pexResCert', certificate: rng.bytes(1 + rng.int(rng.chance(0.05) ? 4096 : 200)) };
    case 8:
      if (context.frameParts) {
        // Our extension, on a channel whose peer listed it: a part somewhere inside its frame.
        const part = rng.bytes(1 + rng.int(300));
        const offset = rng.int(1000);
        return { type: 'framePart', seq: rng.int(0x100000000), frameLength: offset + part.length + rng.int(1000), offset, part };
      }
      return { type: 'choke' };
    default:
      return { type: rng.pick(['pexReq', 'choke', 'unchoke'] as const) };
  }
}

const HASH_BYTES: Record<MerkleHashFunction, number> = { sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 };

/** A valid datagram and the context it was written against. */
function validDatagram(rng: Prng): { bytes: Buffer; context: PpsppContext } {
  const signature = rng.pick([undefined, 128, 256]);
  const start: PpsppContext = {
    chunkAddressing: rng.pick(ADDRESSING),
    merkleHashFunction: rng.pick(HASHES),
    liveSignatureAlgorithm: rng.pick([13, 14]),
    ...(signature === undefined ? {} : { signatureBytes: signature }),
    ...(rng.chance(0.3) ? { frameParts: true } : {}),
  };
  const messages: PpsppMessage[] = [];
  let context = start;
  for (let n = rng.int(5); n > 0; n--) {
    const sig = context.signatureBytes ?? (context.liveSignatureAlgorithm === 13 ? 64 : 96);
    const m = message(rng, context, HASH_BYTES[context.merkleHashFunction], sig);
    messages.push(m);
    // Follow the context the way the codec does, so the next message is valid under it.
    if (m.type === 'handshake') context = contextAfterOptions(context, m.options);
  }
  if (rng.chance(0.3)) messages.push({ type: 'data', chunks: chunkSpec(rng, context.chunkAddressing), timestamp: u64(rng), data: rng.bytes(1 + rng.int(rng.chance(0.05) ? 1500 : 60)) });
  return { bytes: encodeDatagram(rng.next(), messages, start), context: start };
}

function mutate(rng: Prng, bytes: Buffer): Buffer {
  switch (rng.int(4)) {
    case 0: {
      const out = Buffer.from(bytes);
      for (let n = 1 + rng.int(3); n > 0; n--) out[rng.int(out.length)]! ^= 1 << rng.int(8);
      return out;
    }
    case 1: {
      const at = rng.int(bytes.length + 1);
      return Buffer.concat([bytes.subarray(0, at), rng.bytes(1 + rng.int(20)), bytes.subarray(at)]);
    }
    case 2: {
      const at = rng.int(bytes.length);
      return Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1 + rng.int(20))]);
    }
    default:
      return bytes.subarray(0, rng.int(bytes.length));
  }
}

describe('PPSPP wire codec fuzz', () => {
  const seed = fuzzSeed();
  printReplayOnFailure(seed, import.meta.url);

  it(`refuses ${DATAGRAMS} random and mutated datagrams with a ReloadError only, and re-encodes what it accepts byte for byte`, function () {
    this.timeout(60_000);
    const rng = new Prng(seed);
    const accepted = new Map<string, number>();
    const refused = new Map<string, number>();
    for (let i = 0; i < DATAGRAMS; i++) {
      const valid = validDatagram(rng);
      const r = rng.int(10);
      const bytes = r === 0 ? Buffer.from(rng.bytes(rng.int(60))) : r < 3 ? valid.bytes : mutate(rng, valid.bytes);
      // Random bytes are read under a random context, mutations under the one they were written for.
      const context = r === 0 ? { ...DEFAULT_PPSPP_CONTEXT, chunkAddressing: rng.pick(ADDRESSING) } : valid.context;
      const where = () => `seed ${seed}, datagram #${i}, context ${JSON.stringify(context)}, ${bytes.toString('hex').slice(0, 200)}`;
      let decoded: ReturnType<typeof decodeDatagram>;
      try {
        decoded = decodeDatagram(bytes, context);
      } catch (e) {
        expect(e, where()).to.be.instanceOf(ReloadError);
        const reason = (e as ReloadError).reason;
        refused.set(reason, (refused.get(reason) ?? 0) + 1);
        continue;
      }
      for (const m of decoded.messages) accepted.set(m.type, (accepted.get(m.type) ?? 0) + 1);
      if (decoded.messages.length === 0) accepted.set('keepAlive', (accepted.get('keepAlive') ?? 0) + 1);
      expect(encodeDatagram(decoded.channel, decoded.messages, context).equals(bytes), where()).to.equal(true);
    }
    // Every message type was accepted, and every class of refusal met, not only one path.
    for (const type of ['keepAlive', 'handshake', 'data', 'ack', 'have', 'integrity', 'pexResV4', 'pexReq', 'signedIntegrity', 'request', 'cancel', 'choke', 'unchoke', 'pexResV6', 'pexResCert']) {
      expect(accepted.get(type) ?? 0, type).to.be.above(0);
    }
    for (const reason of ['truncated', 'unknown_message_type', 'unknown_option', 'duplicate_option', 'out_of_range']) expect(refused.get(reason) ?? 0, reason).to.be.above(0);
  });
});
