/**
 * The simulator's keyed stand-in for signatures: still checked on every message and value, still
 * bound to the signer's certificate and the bytes, and never accepted by a real node.
 */
import { expect } from 'chai';
import { Identity } from '../../certs/identity.js';
import { keyedStandIn } from '../../certs/signature-scheme.js';
import { TrustStore } from '../../certs/trust.js';
import { ErrorCode } from '../../overlay/errors.js';
import { idFromHex } from '../../overlay/id.js';
import { signStoredData, verifyStoredData } from '../../overlay/storage/data-signature.js';
import { decodeMessage, decodeSecurity, encodeMessage, encodeSecurity } from '../../overlay/wire/codec.js';
import { MessageCode } from '../../overlay/wire/codes.js';
import { headerFrom } from '../../overlay/wire/header.js';
import type { WireMessage } from '../../overlay/wire/message.js';
import { signMessage, verifyMessage } from '../../overlay/wire/sign.js';
import { expectReloadError } from '../helpers/expect-reload-error.js';
import { sharedPki, TEST_OVERLAY, type TestPki } from '../helpers/pki.js';

const CONTENTS = { code: MessageCode.PingReq, body: Uint8Array.of(0xa0), extensions: [] };
const RESOURCE = idFromHex('00112233445566778899aabbccddeeff');

describe('the keyed signature stand-in (simulator only)', () => {
  const scheme = keyedStandIn(Buffer.from('simulation secret'));
  let pki: TestPki;
  let real: Identity;
  let alice: Identity;
  let bob: Identity;
  let simTrust: TrustStore;

  const send = (from: Identity, to: Identity): WireMessage =>
    decodeMessage(encodeMessage(signMessage(headerFrom({ overlay: TEST_OVERLAY, sequence: 1, initialTtl: 100 }, from.nodeId, to.nodeId), CONTENTS, from)), 1 << 20);

  before(async () => {
    pki = await sharedPki();
    real = await pki.enroll();
    [alice, bob] = await Promise.all([pki.enroll(), pki.enroll()]).then((ids) => ids.map((id) => new Identity(id.keyPem, id.certPem, scheme)));
    simTrust = new TrustStore([pki.ca.certPem], TEST_OVERLAY, { signatures: scheme });
  });

  it('signs messages as keyed-sha256; they verify with the same stand-in and yield the signer', () => {
    const msg = send(alice, bob);
    expect(decodeSecurity(msg.securityBytes).signature.algorithm).to.equal('keyed-sha256');
    expect(verifyMessage(msg, simTrust, Date.now()).signer.identity.nodeIdHex).to.equal(alice.nodeIdHex);
  });

  it('refuses a message whose contents were altered, or whose signature is claimed by another certificate', () => {
    const msg = send(alice, bob);
    const altered = { ...msg, contentsBytes: Uint8Array.from(msg.contentsBytes).fill(0xa1, -1) };
    expectReloadError(() => verifyMessage(altered, simTrust, Date.now()), ErrorCode.Forbidden, { reason: 'bad_signature' });
    const block = decodeSecurity(msg.securityBytes);
    const claimed = { ...msg, securityBytes: encodeSecurity({ certificates: [bob.certDer], signature: { ...block.signature, signer: { ...block.signature.signer, certHash: Buffer.from(bob.fingerprint, 'hex') } } }) };
    expectReloadError(() => verifyMessage(claimed, simTrust, Date.now()), ErrorCode.Forbidden, { reason: 'bad_signature' });
  });

  it('a certificate named by the hash of another one verifies as itself, not as the one cached under that hash', () => {
    const now = Date.now();
    expect(simTrust.verify(alice.certDer, now, alice.fingerprint).fingerprint).to.equal(alice.fingerprint);
    expect(simTrust.verify(bob.certDer, now, alice.fingerprint).identity.nodeIdHex).to.equal(bob.nodeIdHex);
  });

  it('a real node refuses a stand-in signature, and the stand-in refuses an RSA one', () => {
    expectReloadError(() => verifyMessage(send(alice, bob), pki.trust, Date.now()), ErrorCode.Forbidden, { reason: 'bad_signature' });
    expectReloadError(() => verifyMessage(send(real, bob), simTrust, Date.now()), ErrorCode.Forbidden, { reason: 'bad_signature' });
  });

  it('signs stored values too: verified with the stand-in, refused when altered or by a real node', () => {
    const data = signStoredData(alice, RESOURCE, 0xf0000001, { storageTimeMs: Date.now(), lifetimeSec: 60, value: { model: 'single', value: { exists: true, value: Buffer.from('v') } } });
    const signer = simTrust.verify(alice.certDer, Date.now());
    verifyStoredData(RESOURCE, 0xf0000001, data, signer, simTrust);
    expectReloadError(() => verifyStoredData(RESOURCE, 0xf0000002, data, signer, simTrust), ErrorCode.Forbidden, { reason: 'bad_data_signature' });
    expectReloadError(() => verifyStoredData(RESOURCE, 0xf0000001, data, pki.trust.verify(alice.certDer, Date.now()), pki.trust), ErrorCode.Forbidden, { reason: 'bad_data_signature' });
  });
});
