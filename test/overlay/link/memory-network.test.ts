/**
 * MemoryNetwork: the link factory of simulations and memory-link tests. Dialled addresses reach
 * listeners, certificates are judged by each end as a TLS handshake would, and the path model's
 * delay is what a dial and a message take on a virtual clock.
 */
import { expect } from 'chai';
import { VirtualClock } from '../../../overlay/clock.js';
import { ErrorCode, isReloadError } from '../../../overlay/errors.js';
import type { LinkEndpoint } from '../../../overlay/link/link-factory.js';
import type { Link } from '../../../overlay/link/link.js';
import { MemoryNetwork } from '../../../overlay/link/memory-network.js';
import { makePki, sharedPki } from '../../helpers/pki.js';

const LIMITS = { maxMessageBytes: 1 << 16, queueLimit: 64, timeoutMs: 5000 };

describe('MemoryNetwork', () => {
  let clock: VirtualClock;
  let net: MemoryNetwork;
  let alice: LinkEndpoint;
  let bob: LinkEndpoint;
  beforeEach(async () => {
    const pki = await sharedPki();
    // Certificates are judged at the clock's time: start it now, when they are valid.
    clock = new VirtualClock(Date.now());
    net = new MemoryNetwork({ clock, path: () => ({ latencyMs: 20 }) });
    alice = { identity: await pki.enroll(), trust: pki.trust, clock };
    bob = { identity: await pki.enroll(), trust: pki.trust, clock };
  });

  /** Lets the clock run until `p` settles (the dial's timers are on it). */
  async function run<T>(p: Promise<T>, ms: number): Promise<T> {
    clock.advance(ms);
    return p;
  }

  it('a dial reaches the listener after one way and resolves after a round trip; both ends know each other', async () => {
    const accepted: Link[] = [];
    const listener = await net.linksFor(bob).listen({ host: '10.0.0.2', port: 0, ...LIMITS, onLink: (l) => accepted.push(l) });
    expect(listener.address).to.deep.equal({ host: '10.0.0.2', port: 32768 });
    const dialling = net.linksFor(alice).dial({ host: '10.0.0.2', port: 32768, expectedNodeId: bob.identity.nodeId, ...LIMITS });
    clock.advance(20);
    expect(accepted).to.have.length(1);
    const link = await run(dialling, 20);
    expect([link.remoteNodeIdHex, accepted[0]!.remoteNodeIdHex]).to.deep.equal([bob.identity.nodeIdHex, alice.identity.nodeIdHex]);
    expect(Buffer.from(link.peerCertificate!.der).equals(bob.identity.certDer)).to.equal(true);
    expect(link.remoteAddress).to.equal('10.0.0.2:32768');
    const got: number[] = [];
    accepted[0]!.on('message', (m) => got.push(m[0]!));
    link.send(Uint8Array.of(7));
    clock.advance(20);
    expect(got).to.deep.equal([7]);
    await listener.close();
    expect([link.open, accepted[0]!.open]).to.deep.equal([true, false]);
    clock.advance(20);
    expect(link.open, 'the close reaches the dialler').to.equal(false);
  });

  it('refuses what TCP and TLS would: nobody listening, a taken address, another Node-ID, an untrusted certificate', async () => {
    const refused: Error[] = [];
    await net.linksFor(bob).listen({ host: '10.0.0.2', port: 6084, ...LIMITS, onLink: () => {}, onRefused: (_a, e) => refused.push(e) });
    const nobody = net.linksFor(alice).dial({ host: '10.0.0.9', port: 6084, ...LIMITS });
    clock.advance(40);
    await nobody.then(
      () => expect.fail('dialled nobody'),
      (e: NodeJS.ErrnoException) => expect([e.code, e.message]).to.deep.equal(['ECONNREFUSED', 'cannot reach 10.0.0.9:6084: ECONNREFUSED']),
    );
    await net
      .linksFor(alice)
      .listen({ host: '10.0.0.2', port: 6084, ...LIMITS, onLink: () => {} })
      .then(
        () => expect.fail('two listeners at one address'),
        (e: NodeJS.ErrnoException) => expect(e.code).to.equal('EADDRINUSE'),
      );
    const wrong = net.linksFor(alice).dial({ host: '10.0.0.2', port: 6084, expectedNodeId: alice.identity.nodeId, ...LIMITS });
    clock.advance(40);
    await wrong.then(
      () => expect.fail('accepted another Node-ID'),
      (e: Error) => expect(isReloadError(e) && e.code === ErrorCode.Forbidden && e.reason === 'node_id_mismatch').to.equal(true),
    );
    const stranger = await makePki();
    const mallory = { identity: await stranger.enroll(), trust: stranger.trust, clock };
    const untrusted = net.linksFor(mallory).dial({ host: '10.0.0.2', port: 6084, ...LIMITS });
    clock.advance(40);
    await untrusted.then(
      () => expect.fail('an untrusted certificate got a link'),
      (e: Error) => expect(e.message).to.match(/closed by the peer during the handshake/),
    );
    expect(refused.map((e) => (isReloadError(e) ? e.reason : e.message))).to.deep.equal(['untrusted_certificate']);
    // A dial slower than its timeout fails and leaves no link at the listener.
    const slow = new MemoryNetwork({ clock, path: () => ({ latencyMs: 3000 }) });
    const accepted: Link[] = [];
    await slow.linksFor(bob).listen({ host: '10.0.0.3', port: 6084, ...LIMITS, onLink: (l) => accepted.push(l) });
    const late = slow.linksFor(alice).dial({ host: '10.0.0.3', port: 6084, ...LIMITS, timeoutMs: 1000 });
    clock.advance(10_000);
    await late.then(
      () => expect.fail('a dial past its timeout got a link'),
      (e: NodeJS.ErrnoException) => expect(e.code).to.equal('ETIMEDOUT'),
    );
    expect(accepted).to.deep.equal([]);
  });
});
