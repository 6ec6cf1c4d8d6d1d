import { createHash } from 'node:crypto';
import { expect } from 'chai';
import type { Identity } from '../../../certs/identity.js';
import { ErrorCode } from '../../../overlay/errors.js';
import type { Id } from '../../../overlay/id.js';
import {
  decodeMessage,
  decodeSecurity,
  encodeMessage,
  encodeSecurity,
  encodeSignerIdentity,
  overlayHash,
  signatureInput,
} from '../../../overlay/wire/codec.js';
import { MessageCode } from '../../../overlay/wire/codes.js';
import type { ForwardingHeader, MessageContents, SecurityBlock, WireMessage } from '../../../overlay/wire/message.js';
import { signMessage, verifyMessage } from '../../../overlay/wire/sign.js';
import { expectReloadError } from '../../helpers/expect-reload-error.js';
import { makePki, sharedPki, TEST_OVERLAY, type TestPki } from '../../helpers/pki.js';
import { toWireJson } from '../../helpers/wire-json.js';
import { headerFrom } from '../../../overlay/wire/header.js';

const MAX_SIZE = 1 << 20;
const DAY_MS = 86_400_000;
const CONTENTS: MessageContents = { code: MessageCode.PingReq, body: Uint8Array.of(0xa0), extensions: [{ type: 7, critical: false, contents: Uint8Array.of(1, 2) }] };

function header(origin: Id, target: Id): ForwardingHeader {
  return headerFrom({ overlay: TEST_OVERLAY, sequence: 1, initialTtl: 100 }, origin, target);
}

/** Signs as `signer`, then puts the message through the wire as a receiver would get it. */
function sendAs(signer: Identity, target: Identity, opts?: { includeCertificate?: boolean }): WireMessage {
  return decodeMessage(encodeMessage(signMessage(header(signer.nodeId, target.nodeId), CONTENTS, signer, opts)), MAX_SIZE);
}

function withSecurity(msg: WireMessage, edit: (block: SecurityBlock) => SecurityBlock): WireMessage {
  return { ...msg, securityBytes: encodeSecurity(edit(decodeSecurity(msg.securityBytes))) };
}

const sha256 = (der: Uint8Array) => createHash('sha256').update(der).digest();

describe('message signatures', () => {
  let pki: TestPki;
  let alice: Identity;
  let bob: Identity;

  before(async () => {
    pki = await sharedPki();
    [alice, bob] = await Promise.all([pki.enroll(), pki.enroll()]);
  });

  it('a signed message verifies and yields its contents and the signer', () => {
    const verified = verifyMessage(sendAs(alice, bob), pki.trust, Date.now());
    expect(toWireJson(verified.contents)).to.deep.equal(toWireJson(CONTENTS));
    expect(verified.signer.identity.nodeIdHex).to.equal(alice.nodeIdHex);
    expect(verified.signer.identity.user).to.equal(alice.user);
  });

  it('signs with a cert_hash identity: SHA-256 of the DER certificate, which travels in the block', () => {
    const block = decodeSecurity(sendAs(alice, bob).securityBytes);
    expect(block.signature.signer.certHash).to.deep.equal(Uint8Array.from(sha256(alice.certDer)));
    expect(block.certificates.map((c) => Buffer.from(c).toString('hex'))).to.deep.equal([alice.certDer.toString('hex')]);
  });

  it('without the certificate in the block, verifies only with a known certificate', () => {
    const msg = sendAs(alice, bob, { includeCertificate: false });
    expect(decodeSecurity(msg.securityBytes).certificates).to.have.length(0);
    expectReloadError(() => verifyMessage(msg, pki.trust, Date.now()), ErrorCode.Forbidden, { reason: 'unknown_signer' });
    const known = (hex: string) => (hex === sha256(alice.certDer).toString('hex') ? alice.certDer : undefined);
    expect(verifyMessage(msg, pki.trust, Date.now(), { knownCertificate: known }).signer.identity.nodeIdHex).to.equal(alice.nodeIdHex);
    // A lookup that hands back some other certificate is not believed.
    expectReloadError(() => verifyMessage(msg, pki.trust, Date.now(), { knownCertificate: () => bob.certDer }), ErrorCode.Forbidden, { reason: 'unknown_signer' });
  });

  it('the signature does not cover via list, destinations, options or TTL, so forwarders may change them', () => {
    const received = sendAs(alice, bob);
    const forwarded = decodeMessage(
      encodeMessage({
        ...received,
        header: {
          ...received.header,
          ttl: 42,
          via: [...received.header.via, { type: 'node', id: bob.nodeId }, { type: 'opaque', id: Uint8Array.of(0x81, 2) }],
          destinations: [{ type: 'opaque', id: Uint8Array.of(9) }],
          options: [{ type: 1, flags: 0, value: Uint8Array.of(1) }],
        },
      }),
      MAX_SIZE,
    );
    expect(verifyMessage(forwarded, pki.trust, Date.now()).signer.identity.nodeIdHex).to.equal(alice.nodeIdHex);
  });

  describe('refusals', () => {
    it('a flipped contents byte: Forbidden bad_signature', () => {
      const msg = sendAs(alice, bob);
      const contentsBytes = Uint8Array.from(msg.contentsBytes);
      contentsBytes[contentsBytes.length - 1]! ^= 0x01;
      expectReloadError(() => verifyMessage({ ...msg, contentsBytes }, pki.trust, Date.now()), ErrorCode.Forbidden, { reason: 'bad_signature' });
    });

    it('a changed transaction id or overlay: Forbidden bad_signature (both are signed)', () => {
      const msg = sendAs(alice, bob);
      const otherTxid = { ...msg, header: { ...msg.header, transactionId: msg.header.transactionId ^ 1n } };
      const otherOverlay = { ...msg, header: { ...msg.header, overlay: overlayHash('other.reload') } };
      expectReloadError(() => verifyMessage(otherTxid, pki.trust, Date.now()), ErrorCode.Forbidden, { reason: 'bad_signature' });
      expectReloadError(() => verifyMessage(otherOverlay, pki.trust, Date.now()), ErrorCode.Forbidden, { reason: 'bad_signature' });
    });

    it('a signer hash changed to one no certificate has: Forbidden unknown_signer', () => {
      const msg = withSecurity(sendAs(alice, bob), (b) => ({ ...b, signature: { ...b.signature, signer: { ...b.signature.signer, certHash: new Uint8Array(32).fill(7) } } }));
      expectReloadError(() => verifyMessage(msg, pki.trust, Date.now()), ErrorCode.Forbidden, { reason: 'unknown_signer' });
    });

    it("another valid certificate substituted under alice's signature: Forbidden bad_signature", () => {
      // Bob's certificate and hash replace alice's: the certificate is found and trusted, but the
      // signature is checked with bob's key before the origin is compared, so the refusal is
      // bad_signature whether via[0] still names alice or is changed to bob.
      const substituted = withSecurity(sendAs(alice, bob), (b) => ({
        certificates: [bob.certDer],
        signature: { ...b.signature, signer: { ...b.signature.signer, certHash: sha256(bob.certDer) } },
      }));
      expectReloadError(() => verifyMessage(substituted, pki.trust, Date.now()), ErrorCode.Forbidden, { reason: 'bad_signature' });
      const claimingBob = { ...substituted, header: { ...substituted.header, via: [{ type: 'node' as const, id: bob.nodeId }] } };
      expectReloadError(() => verifyMessage(claimingBob, pki.trust, Date.now()), ErrorCode.Forbidden, { reason: 'bad_signature' });
    });

    it('a certificate from another CA: Forbidden untrusted_certificate', async () => {
      const otherPki = await makePki(TEST_OVERLAY);
      const mallory = await otherPki.enroll();
      expectReloadError(() => verifyMessage(sendAs(mallory, bob), pki.trust, Date.now()), ErrorCode.Forbidden, { reason: 'untrusted_certificate' });
    });

    it('an expired certificate: Forbidden certificate_expired', async () => {
      const old = await pki.enroll(undefined, { notBefore: new Date(Date.now() - 2 * 365 * DAY_MS), validityDays: 1 });
      expectReloadError(() => verifyMessage(sendAs(old, bob), pki.trust, Date.now()), ErrorCode.Forbidden, { reason: 'certificate_expired' });
    });

    it("via[0] naming another node than the signer's: Forbidden node_id_mismatch", () => {
      const msg = decodeMessage(encodeMessage(signMessage(header(bob.nodeId, alice.nodeId), CONTENTS, alice)), MAX_SIZE);
      expectReloadError(() => verifyMessage(msg, pki.trust, Date.now()), ErrorCode.Forbidden, { reason: 'node_id_mismatch' });
    });

    it('no origin in the via list: Invalid_Message', () => {
      const msg = sendAs(alice, bob);
      expectReloadError(() => verifyMessage({ ...msg, header: { ...msg.header, via: [] } }, pki.trust, Date.now()), ErrorCode.Invalid_Message);
      const opaque = { ...msg, header: { ...msg.header, via: [{ type: 'opaque' as const, id: Uint8Array.of(1) }] } };
      expectReloadError(() => verifyMessage(opaque, pki.trust, Date.now()), ErrorCode.Invalid_Message);
    });

    it('correctly signed contents that do not decode: Invalid_Message, after the signature checks out', () => {
      const h = header(alice.nodeId, bob.nodeId);
      const contentsBytes = Uint8Array.of(0x82, 0x17, 0x40); // an array of 2, where contents have 3 items
      const signer = { type: 'cert_hash' as const, hashAlg: 'sha256' as const, certHash: sha256(alice.certDer) };
      const value = alice.sign(signatureInput(h, contentsBytes, encodeSignerIdentity(signer)));
      const securityBytes = encodeSecurity({ certificates: [alice.certDer], signature: { algorithm: 'rsa-sha256', signer, value } });
      expectReloadError(() => verifyMessage({ header: h, contentsBytes, securityBytes }, pki.trust, Date.now()), ErrorCode.Invalid_Message, { message: /contents/ });
    });

    it('a security block that does not decode: Invalid_Message', () => {
      const msg = sendAs(alice, bob);
      expectReloadError(() => verifyMessage({ ...msg, securityBytes: Uint8Array.of(0x80) }, pki.trust, Date.now()), ErrorCode.Invalid_Message);
    });
  });
});
