import { expect } from 'chai';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { rawTlsEcho } from '../../../scripts/bench/link-baseline.js';

/** Open TCP handles of this process, by type. */
function tcpHandles(): string[] {
  return process
    .getActiveResourcesInfo()
    .filter((r) => /TCP|TLS/.test(r))
    .sort();
}

describe('rawTlsEcho (link benchmark baseline)', function () {
  this.timeout(30_000);

  it('measures plain and signed echoes and closes what it opened', async () => {
    const before = tcpHandles();
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    let signed = 0;
    let verified = 0;
    const signer = {
      sign: (b: Uint8Array) => (signed++, sign('sha256', b, privateKey)),
      verify: (b: Uint8Array, s: Uint8Array) => (verified++, verify('sha256', b, publicKey, s)),
    };
    const plain = await rawTlsEcho({ messageBytes: 1200, inFlight: 4, durationMs: 200 });
    const withSigning = await rawTlsEcho({ messageBytes: 1200, inFlight: 4, durationMs: 200, sign: signer });
    expect(plain.roundTripsPerSec).to.be.above(0);
    expect(withSigning.roundTripsPerSec).to.be.above(0);
    // Every frame sent is signed once and verified once (plus the size probe's signature).
    expect(verified).to.be.above(0);
    expect(signed).to.equal(verified + 1);
    for (let i = 0; i < 100 && tcpHandles().join() !== before.join(); i++) await new Promise((r) => setImmediate(r));
    expect(tcpHandles()).to.deep.equal(before);
  });

  it('refuses sizes it cannot honour', async () => {
    const signer = { sign: () => new Uint8Array(256), verify: () => true };
    const error = await rawTlsEcho({ messageBytes: 100, inFlight: 1, durationMs: 10, sign: signer }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(RangeError);
  });
});
