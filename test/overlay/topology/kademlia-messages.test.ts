import { expect } from 'chai';
import { decode, encode } from 'cbor-x';
import { ErrorCode, ReloadError } from '../../../overlay/errors.js';
import { idFromHex, idToHex } from '../../../overlay/id.js';
import {
  encodeLeave, encodeUpdate, encodeUpdateAnswer, MAX_KADEMLIA_LIST, parseJoin, parseLeave, parseUpdate, parseUpdateAnswer,
} from '../../../overlay/topology/kademlia/kademlia-messages.js';
import { randomItem } from '../../helpers/cbor-fuzz.js';
import { fuzzSeed, Prng } from '../../helpers/prng.js';

const A = idFromHex('0123456789abcdef0123456789abcdef');
const B = idFromHex('fedcba9876543210fedcba9876543210');
/** Through CBOR and back, as a body travels. */
const wire = (body: unknown): unknown => decode(encode(body));

function invalid(parse: () => unknown): string {
  try {
    parse();
  } catch (e) {
    if (e instanceof ReloadError && e.code === ErrorCode.Invalid_Message) return e.message;
    throw e;
  }
  throw new Error('parsed');
}

describe('Kademlia messages', () => {
  it('round-trip Update, its answer, Join and Leave through CBOR', () => {
    const update = parseUpdate(wire(encodeUpdate({ want: A, announce: true, siblings: [A, B] })));
    expect([idToHex(update.want), update.announce, update.siblings.map(idToHex)]).to.deep.equal([idToHex(A), true, [idToHex(A), idToHex(B)]]);
    expect(parseUpdateAnswer(wire(encodeUpdateAnswer([B]))).map(idToHex)).to.deep.equal([idToHex(B)]);
    expect(idToHex(parseJoin(wire([A])))).to.equal(idToHex(A));
    const leave = parseLeave(wire(encodeLeave({ leaving: B, siblings: [A] })));
    expect([idToHex(leave.leaving), leave.siblings.map(idToHex)]).to.deep.equal([idToHex(B), [idToHex(A)]]);
  });

  it('a refresh may want any point of the id space, but lists hold only valid Node-IDs', () => {
    const zero = new Uint8Array(16);
    expect(idToHex(parseUpdate([zero, false, []]).want)).to.equal('00'.repeat(16));
    expect(invalid(() => parseUpdate([A, false, [zero]]))).to.match(/siblings\[0\] is not a Node-ID/);
    expect(invalid(() => parseUpdateAnswer([[new Uint8Array(16).fill(0xff)]]))).to.match(/closest\[0\]/);
  });

  it('refuses malformed bodies with Invalid_Message', () => {
    expect(invalid(() => parseUpdate([A, 1, []]))).to.match(/announce/);
    expect(invalid(() => parseUpdate([A.subarray(0, 15), true, []]))).to.match(/want/);
    expect(invalid(() => parseUpdate([A, true]))).to.match(/array of 3/);
    expect(invalid(() => parseUpdate([A, true, Array.from({ length: MAX_KADEMLIA_LIST + 1 }, () => A)]))).to.match(/at most/);
    expect(invalid(() => parseJoin([]))).to.match(/array of 1/);
    expect(invalid(() => parseLeave([A, 'x']))).to.match(/siblings/);
  });

  it('random bodies give a parse or Invalid_Message, nothing else', () => {
    const seed = fuzzSeed();
    const rng = new Prng(seed);
    const pools = { ints: [0, 1, 3, 16, 64, 65], byteLengths: [0, 15, 16, 17], texts: ['', 'x'], extras: [A, B, true, false, [A, B]] };
    for (let i = 0; i < 5000; i++) {
      const body = randomItem(rng, pools);
      for (const parse of [parseUpdate, parseUpdateAnswer, parseJoin, parseLeave]) {
        try {
          parse(wire(body));
        } catch (e) {
          if (!(e instanceof ReloadError && e.code === ErrorCode.Invalid_Message)) throw new Error(`seed ${seed}: ${(e as Error).message}`);
        }
      }
    }
  });
});
