import { expect } from 'chai';
import { ErrorCode } from '../../../../overlay/errors.js';
import { decodeCbor, encodeCbor } from '../../../../overlay/wire/cbor.js';
import { decodeProperties, encodeProperties, MAX_CAPACITY_KBPS, similarity, type PeerProperties } from '../../../../usages/ppsp/signalling/properties.js';
import { expectReloadError } from '../../../helpers/expect-reload-error.js';

const adsl: PeerProperties = { accessType: 'fixed', upKbps: 1000, downKbps: 8000, nat: 'nat', uptimeSec: 3600 };

describe('ppsp properties (seed §4.2.3)', () => {
  it('round-trips through CBOR with its golden bytes', () => {
    const wire = encodeProperties(adsl);
    expect(wire).to.deep.equal([0, 1000, 8000, 2, 3600]);
    const bytes = encodeCbor(wire);
    expect(Buffer.from(bytes).toString('hex')).to.equal('85001903e8191f4002190e10');
    expect(decodeProperties(decodeCbor(bytes))).to.deep.equal(adsl);
  });

  it('accepts 8-byte integer heads (bigints) within range', () => {
    expect(decodeProperties([1n, 5n, 6n, 1n, 7n])).to.deep.equal({ accessType: 'mobile', upKbps: 5, downKbps: 6, nat: 'public', uptimeSec: 7 });
  });

  it('refuses malformed properties, naming the field', () => {
    const bad: [unknown, RegExp][] = [
      [null, /properties must be an array of 5 items/],
      [[0, 1, 2, 0], /properties must be an array of 5 items/],
      [[3, 1, 2, 0, 0], /properties\.accessType/],
      [[0, -1, 2, 0, 0], /properties\.upKbps/],
      [[0, 1, MAX_CAPACITY_KBPS + 1, 0, 0], /properties\.downKbps/],
      [[0, 1, 2, 3, 0], /properties\.nat/],
      [[0, 1, 2, 0, 2 ** 32], /properties\.uptimeSec/],
      [[0, 1.5, 2, 0, 0], /properties\.upKbps/],
      [['fixed', 1, 2, 0, 0], /properties\.accessType/],
    ];
    for (const [value, message] of bad) expectReloadError(() => decodeProperties(value), ErrorCode.Invalid_Message, { message });
    expectReloadError(() => encodeProperties({ ...adsl, accessType: 'satellite' as never }), ErrorCode.Invalid_Message, { message: /accessType/ });
  });

  it('similarity: 1 for identical, symmetric, ordered by how much differs', () => {
    expect(similarity(adsl, adsl)).to.equal(1);
    const fibre: PeerProperties = { accessType: 'fixed', upKbps: 100_000, downKbps: 100_000, nat: 'public', uptimeSec: 3600 };
    const phone: PeerProperties = { accessType: 'mobile', upKbps: 1000, downKbps: 8000, nat: 'nat', uptimeSec: 3600 };
    const nearAdsl: PeerProperties = { ...adsl, upKbps: 1200 };
    expect(similarity(adsl, fibre)).to.equal(similarity(fibre, adsl));
    expect(similarity(adsl, nearAdsl)).to.be.greaterThan(similarity(adsl, phone));
    expect(similarity(adsl, phone)).to.be.closeTo(0.7, 1e-9); // only the access type differs
    expect(similarity(adsl, fibre)).to.be.lessThan(similarity(adsl, phone));
    const unknownNat = { ...adsl, nat: 'unknown' as const };
    expect(similarity(adsl, unknownNat)).to.be.closeTo(1 - 0.15 / 2, 1e-9);
    const zero = { ...adsl, upKbps: 0 };
    expect(similarity(zero, zero)).to.equal(1);
    expect(similarity(zero, adsl)).to.be.closeTo(0.7, 1e-9);
  });
});
