import { expect } from 'chai';
import { ErrorCode } from '../../../../overlay/errors.js';
import { encodeCbor } from '../../../../overlay/wire/cbor.js';
import { checkLiveSwarmId, decodeLiveDescriptor, encodeLiveDescriptor, liveSwarmIdOf, newLiveDescriptor } from '../../../../usages/ppsp/live/live-descriptor.js';
import { LiveSwarm } from '../../../../usages/ppsp/live/live-swarm.js';
import type { LiveSession } from '../../../../usages/ppsp/live/live-session.js';
import { expectReloadError } from '../../../helpers/expect-reload-error.js';
import { makePki, sharedPki } from '../../../helpers/pki.js';

const OPTS = { name: 'news', mediaType: 'video/mp2t', chunkSize: 16384, windowChunks: 1024, nowMs: 1_700_000_000_000 };

describe('live descriptor and swarm ID', () => {
  it('round-trips, and its ID commits to every field: a second channel of the same source is another swarm', async () => {
    const id = await (await sharedPki()).enroll();
    const d = newLiveDescriptor(id.certDer, OPTS);
    const bytes = encodeLiveDescriptor(d);
    expect(decodeLiveDescriptor(bytes)).to.deep.equal({ ...d, sourceCert: Uint8Array.from(d.sourceCert), nonce: Uint8Array.from(d.nonce) });
    expect(checkLiveSwarmId(bytes, liveSwarmIdOf(bytes)).name).to.equal('news');
    const again = encodeLiveDescriptor(newLiveDescriptor(id.certDer, OPTS));
    expect(liveSwarmIdOf(again)).to.not.equal(liveSwarmIdOf(bytes));
    expectReloadError(() => checkLiveSwarmId(again, liveSwarmIdOf(bytes)), ErrorCode.Forbidden, { reason: 'wrong_swarm' });
  });

  it('refuses bad fields with Invalid_Message naming them', async () => {
    const id = await (await sharedPki()).enroll();
    expectReloadError(() => newLiveDescriptor(id.certDer, { ...OPTS, windowChunks: 8 }), ErrorCode.Invalid_Message, { message: /windowChunks/ });
    expectReloadError(() => newLiveDescriptor(id.certDer, { ...OPTS, chunkSize: 10 }), ErrorCode.Invalid_Message, { message: /chunkSize/ });
    expectReloadError(() => decodeLiveDescriptor(encodeCbor([2, id.certDer, 'n', 't', 16384, 1024, 1, Buffer.alloc(16)])), ErrorCode.Invalid_Message, { message: /version/ });
    expectReloadError(() => decodeLiveDescriptor(encodeCbor([1, id.certDer, 'n', 't', 16384, 1024, 1, Buffer.alloc(15)])), ErrorCode.Invalid_Message, { message: /nonce/ });
    expectReloadError(() => decodeLiveDescriptor(Buffer.from('not cbor at all')), ErrorCode.Invalid_Message);
  });

  it('a viewer refuses a channel whose source certificate does not chain to the overlay root: only enrolled nodes broadcast', async () => {
    const overlay = await sharedPki();
    const stranger = await (await makePki()).enroll(); // same overlay name, another CA
    const bytes = encodeLiveDescriptor(newLiveDescriptor(stranger.certDer, OPTS));
    const viewer = LiveSwarm.viewer(liveSwarmIdOf(bytes), {
      localNodeId: '00'.repeat(16),
      connect: async () => {},
      checkCertificate: (der) => {
        const c = overlay.trust.verify(der, Date.now());
        return { publicKey: c.publicKey, nodeIdHex: c.identity.nodeIdHex };
      },
    });
    try {
      expectReloadError(() => viewer.attach({} as LiveSession, bytes, 0), ErrorCode.Forbidden, { reason: 'untrusted_certificate' });
      expect(viewer.descriptor).to.equal(undefined);
    } finally {
      await viewer.stop();
    }
  });
});
