import { expect } from 'chai';
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { createCsr, issueNodeCertificate } from '../../../certs/ca.js';
import { Identity } from '../../../certs/identity.js';
import { systemClock, VirtualClock, type Clock } from '../../../overlay/clock.js';
import { ErrorCode, ReloadError } from '../../../overlay/errors.js';
import { idToHex, type Id } from '../../../overlay/id.js';
import { connectTls, listenTls, type ListenTlsOptions, type TlsLink, type TlsListener } from '../../../overlay/link/tls-link.js';
import { tlsCredentials } from '../../../overlay/link/tls-options.js';
import { framePrefix } from '../../../overlay/wire/framing.js';
import { makePki, sharedPki, TEST_OVERLAY, type TestPki } from '../../helpers/pki.js';

const HOST = '127.0.0.1';
const MAX_MESSAGE_BYTES = 2 * 1024 * 1024;
const QUEUE_LIMIT = 16;
const DAY_MS = 86_400_000;

/** A listener plus what it reported. */
interface Harness {
  listener: TlsListener;
  port: number;
  links: TlsLink[];
  refused: { address: string; error: Error }[];
  nextLink(): Promise<TlsLink>;
  nextRefusal(): Promise<{ address: string; error: Error }>;
}

/** Resolves with the first value `list` gets after now (or the one already there at `index`). */
function waitForEntry<T>(list: T[], index: number): Promise<T> {
  return new Promise((resolve) => {
    const poll = () => (list.length > index ? resolve(list[index]!) : setImmediate(poll));
    poll();
  });
}

/** Yields to the event loop until `done()` holds or `withinMs` have passed; returns `done()`. */
async function until(done: () => boolean, withinMs = 10_000): Promise<boolean> {
  const deadline = systemClock.now() + withinMs;
  while (!done() && systemClock.now() < deadline) await new Promise((r) => setImmediate(r));
  return done();
}

function expectReloadError(error: unknown, code: ErrorCode, reason: string): void {
  expect(error, String(error)).to.be.instanceOf(ReloadError);
  expect((error as ReloadError).code).to.equal(code);
  expect((error as ReloadError).reason).to.equal(reason);
}

/** Collects the messages a link receives. */
function collect(link: TlsLink): Buffer[] {
  const got: Buffer[] = [];
  link.on('message', (m) => got.push(Buffer.from(m)));
  return got;
}

/** Open TCP handles of this process, by type. */
function tcpHandles(): string[] {
  return process
    .getActiveResourcesInfo()
    .filter((r) => /TCP|TLS|Pipe/.test(r))
    .sort();
}

describe('TlsLink', function () {
  this.timeout(60_000);

  let pki: TestPki;
  let otherCa: TestPki;
  let server: Identity;
  let client: Identity;
  let client2: Identity;
  /** Things to close after each test, whatever happened. */
  let cleanups: (() => unknown)[] = [];

  before(async () => {
    pki = await sharedPki();
    otherCa = await makePki(TEST_OVERLAY);
    [server, client, client2] = await Promise.all([pki.enroll(), pki.enroll(), pki.enroll()]);
  });

  afterEach(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    cleanups = [];
  });

  async function listen(extra: Partial<ListenTlsOptions> = {}): Promise<Harness> {
    const links: TlsLink[] = [];
    const refused: { address: string; error: Error }[] = [];
    const listener = await listenTls({
      host: HOST,
      port: 0,
      identity: server,
      trust: pki.trust,
      clock: systemClock,
      maxMessageBytes: MAX_MESSAGE_BYTES,
      queueLimit: QUEUE_LIMIT,
      onLink: (link) => links.push(link),
      onRefused: (address, error) => refused.push({ address, error }),
      ...extra,
    });
    cleanups.push(() => listener.close());
    let linkIndex = 0;
    let refusalIndex = 0;
    return {
      listener,
      port: listener.address.port,
      links,
      refused,
      nextLink: () => waitForEntry(links, linkIndex++),
      nextRefusal: () => waitForEntry(refused, refusalIndex++),
    };
  }

  async function dial(port: number, identity = client, extra: { expectedNodeId?: Id; clock?: Clock; timeoutMs?: number; signal?: AbortSignal; maxMessageBytes?: number } = {}): Promise<TlsLink> {
    const link = await connectTls({
      host: HOST,
      port,
      identity,
      trust: pki.trust,
      clock: systemClock,
      maxMessageBytes: MAX_MESSAGE_BYTES,
      queueLimit: QUEUE_LIMIT,
      ...extra,
    });
    cleanups.push(() => link.close());
    return link;
  }

  /** A TLS socket we drive by hand, presenting `identity`. */
  async function rawClient(port: number, identity: Identity): Promise<tls.TLSSocket> {
    const socket = tls.connect({ host: HOST, port, ...tlsCredentials(identity, pki.trust), checkServerIdentity: () => undefined });
    cleanups.push(() => socket.destroy());
    await once(socket, 'secureConnect');
    return socket;
  }

  /** An identity of the test CA whose certificate names another overlay. */
  async function foreignOverlayIdentity(): Promise<Identity> {
    const user = 'stranger@other.reload';
    const { keyPem, csrPem } = await createCsr(user);
    const { certPem } = issueNodeCertificate(pki.ca, csrPem, { overlay: 'other.reload', user });
    return new Identity(keyPem, certPem + pki.ca.certPem);
  }

  describe('between two enrolled nodes', () => {
    it('binds each end to the other’s Node-ID and user', async () => {
      const h = await listen();
      const atClient = await dial(h.port, client, { expectedNodeId: server.nodeId });
      const atServer = await h.nextLink();
      expect(atClient.remoteNodeIdHex).to.equal(server.nodeIdHex);
      expect(idToHex(atClient.remoteNodeId)).to.equal(server.nodeIdHex);
      expect(atClient.remoteUser).to.equal(server.user);
      expect(atServer.remoteNodeIdHex).to.equal(client.nodeIdHex);
      expect(atServer.remoteUser).to.equal(client.user);
      expect(atClient.transport).to.equal('tls');
      expect(atClient.remoteAddress).to.equal(`${HOST}:${h.port}`);
      expect(atServer.remoteAddress).to.match(/^127\.0\.0\.1:\d+$/);
      expect(atServer.peerCertificate.identity.overlay).to.equal(TEST_OVERLAY);
      expect(h.listener.address).to.deep.equal({ host: HOST, port: h.port });
      expect(h.refused).to.deep.equal([]);
    });

    it('carries 1 B, 64 KiB and 1 MiB messages intact and in order, both ways', async () => {
      const h = await listen();
      const atClient = await dial(h.port);
      const atServer = await h.nextLink();
      const sizes = [1, 64 * 1024, 1024 * 1024, 1];
      const payloads = sizes.map((n, i) => Buffer.alloc(n, i + 1).fill(i * 7 + 3, 0, Math.min(n, 16)));
      for (const [from, to] of [
        [atClient, atServer],
        [atServer, atClient],
      ] as const) {
        const got = collect(to);
        for (const p of payloads) expect(from.send(p)).to.equal(true);
        expect(await until(() => got.length === payloads.length)).to.equal(true);
        got.forEach((m, i) => expect(m.equals(payloads[i]!), `message ${i}`).to.equal(true));
      }
      const framed = sizes.reduce((sum, n) => sum + 4 + n, 0);
      expect([atClient.counters.messagesOut, atClient.counters.bytesOut, atServer.counters.messagesIn, atServer.counters.bytesIn]).to.deep.equal([4, framed, 4, framed]);
      expect([atServer.counters.messagesOut, atClient.counters.bytesIn]).to.deep.equal([4, framed]);
    });

    it('keeps 1,000 small messages in order, both ways at once', async () => {
      const h = await listen();
      const atClient = await dial(h.port);
      const atServer = await h.nextLink();
      const toServer = collect(atServer);
      const toClient = collect(atClient);
      for (let i = 0; i < 1000; i++) {
        const m = Buffer.alloc(4);
        m.writeUInt32BE(i);
        atClient.send(m);
        atServer.send(m);
      }
      expect(await until(() => toServer.length === 1000 && toClient.length === 1000)).to.equal(true);
      expect(toServer.map((m) => m.readUInt32BE(0))).to.deep.equal([...Array(1000).keys()]);
      expect(toClient.map((m) => m.readUInt32BE(0))).to.deep.equal([...Array(1000).keys()]);
    });

    it('a clean close reaches the other end without an error, once', async () => {
      const h = await listen();
      const atClient = await dial(h.port);
      const atServer = await h.nextLink();
      const got = collect(atServer);
      const closes: (Error | undefined)[] = [];
      atServer.on('close', (e) => closes.push(e));
      atClient.send(Buffer.from('last words'));
      atClient.close();
      expect(atClient.open).to.equal(false);
      expect(atClient.send(Buffer.from('too late'))).to.equal(false);
      await once(atServer, 'close');
      expect(got.map(String)).to.deep.equal(['last words']);
      expect(closes).to.deep.equal([undefined]);
      atServer.close();
      expect(closes).to.have.length(1);
    });

    it('refuses to send what the framing cannot carry', async () => {
      const h = await listen({ maxMessageBytes: 1000 });
      const atClient = await dial(h.port, client, { maxMessageBytes: 1000 });
      expect(() => atClient.send(new Uint8Array(1001))).to.throw(ReloadError, /Message_Too_Large/);
      expect(() => atClient.send(new Uint8Array(0))).to.throw(ReloadError, /Invalid_Message/);
      expect(atClient.open).to.equal(true);
    });
  });

  describe('refusals', () => {
    it('a client certificate from another CA: the listener refuses it, the client link just closes', async () => {
      const h = await listen();
      const stranger = await otherCa.enroll();
      // Under TLS 1.3 the client's handshake is complete before the server judges its certificate.
      const atClient = await dial(h.port, stranger);
      const got = collect(atClient);
      const [closeError] = await once(atClient, 'close');
      const { error } = await h.nextRefusal();
      expectReloadError(error, ErrorCode.Forbidden, 'untrusted_certificate');
      expect(closeError).to.equal(undefined);
      expect(got).to.deep.equal([]);
      expect(h.links).to.deep.equal([]);
    });

    it('a server certificate from another CA: the client refuses it', async () => {
      const h = await listen({ identity: await otherCa.enroll(), trust: otherCa.trust });
      const error = await dial(h.port).catch((e: unknown) => e);
      expectReloadError(error, ErrorCode.Forbidden, 'untrusted_certificate');
      // The server may or may not see the client's Finished before the client hangs up; either way
      // nothing stays open on its side.
      expect(await until(() => h.links.every((l) => !l.open))).to.equal(true);
    });

    it('a server that is not the expected Node-ID: node_id_mismatch', async () => {
      const h = await listen();
      const error = await dial(h.port, client, { expectedNodeId: client2.nodeId }).catch((e: unknown) => e);
      expectReloadError(error, ErrorCode.Forbidden, 'node_id_mismatch');
      expect((error as Error).message).to.contain(server.nodeIdHex);
    });

    it('an expired client certificate: certificate_expired', async () => {
      const h = await listen();
      const expired = await pki.enroll(undefined, { notBefore: new Date(systemClock.now() - 730 * DAY_MS), validityDays: 1 });
      const atClient = await dial(h.port, expired);
      const { error } = await h.nextRefusal();
      expectReloadError(error, ErrorCode.Forbidden, 'certificate_expired');
      await until(() => !atClient.open);
      expect(atClient.open).to.equal(false);
      expect(h.links).to.deep.equal([]);
    });

    it('validity is judged on the node’s clock, not only the system’s', async () => {
      const twoYearsOn = new VirtualClock(systemClock.now() + 730 * DAY_MS);
      const h = await listen({ clock: twoYearsOn });
      await dial(h.port);
      const { error } = await h.nextRefusal();
      expectReloadError(error, ErrorCode.Forbidden, 'certificate_expired');
      expect(error.message).to.contain(client.nodeIdHex);
    });

    it('a client certificate for another overlay: wrong_overlay', async () => {
      const h = await listen();
      await dial(h.port, await foreignOverlayIdentity());
      const { error } = await h.nextRefusal();
      expectReloadError(error, ErrorCode.Forbidden, 'wrong_overlay');
      expect(h.links).to.deep.equal([]);
    });

    it('a server certificate that expired or names another overlay: the client refuses it', async () => {
      const expired = await listen({ identity: await pki.enroll(undefined, { notBefore: new Date(systemClock.now() - 730 * DAY_MS), validityDays: 1 }) });
      expectReloadError(await dial(expired.port).catch((e: unknown) => e), ErrorCode.Forbidden, 'certificate_expired');
      const foreign = await listen({ identity: await foreignOverlayIdentity() });
      expectReloadError(await dial(foreign.port).catch((e: unknown) => e), ErrorCode.Forbidden, 'wrong_overlay');
    });

    it('a client without a certificate: no_certificate', async () => {
      const h = await listen();
      const socket = tls.connect({ host: HOST, port: h.port, ca: pki.trust.caPems, minVersion: 'TLSv1.3', checkServerIdentity: () => undefined });
      cleanups.push(() => socket.destroy());
      socket.on('error', () => {});
      const { error } = await h.nextRefusal();
      expectReloadError(error, ErrorCode.Forbidden, 'no_certificate');
      await once(socket, 'close');
    });

    it('a TLS 1.2 client is refused by the protocol version', async () => {
      const h = await listen();
      const socket = tls.connect({ host: HOST, port: h.port, ...tlsCredentials(client, pki.trust), minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
      cleanups.push(() => socket.destroy());
      const [clientError] = await once(socket, 'error');
      expect((clientError as NodeJS.ErrnoException).code).to.equal('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
      const { error } = await h.nextRefusal();
      expect((error as NodeJS.ErrnoException).code).to.equal('ERR_SSL_UNSUPPORTED_PROTOCOL');
    });
  });

  describe('hostile or slow peers', () => {
    it('an over-size frame prefix closes the link with Message_Too_Large before the frame is read', async () => {
      const h = await listen({ maxMessageBytes: 1000 });
      const socket = await rawClient(h.port, client);
      const atServer = await h.nextLink();
      const got = collect(atServer);
      // Only the prefix is sent: the listener must decide without waiting for the 1001 bytes.
      socket.write(framePrefix(1001));
      const [error] = await once(atServer, 'close');
      expectReloadError(error, ErrorCode.Message_Too_Large, 'message_too_large');
      expect(got).to.deep.equal([]);
      expect(atServer.counters.bytesIn).to.equal(4);
      await once(socket, 'close');
    });

    it('a peer that never reads: send() refuses once the queue is full; other links carry on', async () => {
      const h = await listen();
      const stalled = await rawClient(h.port, client);
      stalled.pause();
      const toStalled = await h.nextLink();
      const atClient2 = await dial(h.port, client2);
      const toClient2 = await h.nextLink();

      const block = new Uint8Array(64 * 1024);
      let accepted = 0;
      // Kernel buffers take some megabytes first; yield so that 'drain' can empty the queue
      // until they are full.
      while (toStalled.send(block)) {
        accepted++;
        expect(accepted, 'send() never refused').to.be.below(2000);
        await new Promise((r) => setImmediate(r));
      }
      expect(toStalled.queuedMessages).to.equal(QUEUE_LIMIT);
      expect(toStalled.open).to.equal(true);

      const got = collect(atClient2);
      const back = collect(toClient2);
      atClient2.send(Buffer.from('ping'));
      toClient2.send(Buffer.from('pong'));
      expect(await until(() => got.length === 1 && back.length === 1)).to.equal(true);
      expect(String(got[0])).to.equal('pong');
      expect(String(back[0])).to.equal('ping');
    });

    it('a connection that never starts its handshake is dropped after handshakeTimeoutMs', async () => {
      const clock = new VirtualClock(systemClock.now());
      const h = await listen({ clock, handshakeTimeoutMs: 5000 });
      const socket = net.connect(h.port, HOST);
      cleanups.push(() => socket.destroy());
      await once(socket, 'connect');
      expect(await until(() => clock.pendingCount === 1)).to.equal(true);
      clock.advance(4999);
      expect(h.refused).to.deep.equal([]);
      clock.advance(1);
      const { error } = await h.nextRefusal();
      expectReloadError(error, ErrorCode.Request_Timeout, 'handshake_timeout');
      await once(socket, 'close');
    });

    it('handshakes beyond maxPendingHandshakes are refused at once', async () => {
      const h = await listen({ maxPendingHandshakes: 1 });
      const first = net.connect(h.port, HOST);
      cleanups.push(() => first.destroy());
      await once(first, 'connect');
      const second = net.connect(h.port, HOST);
      cleanups.push(() => second.destroy());
      const { error } = await h.nextRefusal();
      expect(error.message).to.match(/too many TLS handshakes in progress \(limit 1\)/);
      await once(second, 'close');
      expect(first.destroyed).to.equal(false);
    });
  });

  describe('dialing', () => {
    it('says which address could not be reached and why', async () => {
      const probe = net.createServer();
      await new Promise<void>((r) => probe.listen(0, HOST, r));
      const { port } = probe.address() as net.AddressInfo;
      await new Promise((r) => probe.close(r));
      const error = await dial(port).catch((e: unknown) => e);
      expect((error as Error).message).to.equal(`cannot reach ${HOST}:${port}: ECONNREFUSED`);
    });

    it('gives up after timeoutMs on the clock, and can be aborted', async () => {
      // A TCP server that accepts and never answers the ClientHello.
      const silent = net.createServer((s) => cleanups.push(() => s.destroy()));
      await new Promise<void>((r) => silent.listen(0, HOST, r));
      cleanups.push(() => new Promise((r) => silent.close(r)));
      const { port } = silent.address() as net.AddressInfo;

      const clock = new VirtualClock(systemClock.now());
      const timedOut = dial(port, client, { clock, timeoutMs: 3000 }).catch((e: unknown) => e);
      clock.advance(3000);
      expectReloadError(await timedOut, ErrorCode.Request_Timeout, 'connect_timeout');
      expect(clock.pendingCount).to.equal(0);

      const controller = new AbortController();
      const aborted = dial(port, client, { signal: controller.signal }).catch((e: unknown) => e);
      controller.abort();
      expect((await aborted as Error).name).to.equal('AbortError');
      const already = await dial(port, client, { signal: AbortSignal.abort() }).catch((e: unknown) => e);
      expect((already as Error).name).to.equal('AbortError');
    });
  });

  describe('listener.close()', () => {
    it('closes every link it made and leaves no socket behind', async () => {
      const before = tcpHandles();
      const h = await listen();
      const atClient = await dial(h.port, client);
      const atClient2 = await dial(h.port, client2);
      const [atServer, atServer2] = [await h.nextLink(), await h.nextLink()];
      const clientCloses = Promise.all([once(atClient, 'close'), once(atClient2, 'close')]);
      await h.listener.close();
      expect(atServer.open || atServer2.open).to.equal(false);
      expect((await clientCloses).map(([e]) => e)).to.deep.equal([undefined, undefined]);
      expect(await until(() => tcpHandles().join() === before.join())).to.equal(true);
      // A second close is harmless.
      await h.listener.close();
    });
  });
});
