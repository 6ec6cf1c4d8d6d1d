/**
 * The ppspp transport's links over real UDP on 127.0.0.1: dialling (answered, refused, unanswered),
 * and our frames across PPSPP datagrams: the standard messages as themselves, the rest whole in
 * FRAME_PART however many datagrams they take.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { ErrorCode, type ReloadError } from '../../../../overlay/errors.js';
import type { Link } from '../../../../overlay/link/link.js';
import { silentLogger } from '../../../../overlay/log.js';
import { BEFORE_HANDSHAKE, decodeDataMessage, encodeDataMessage, PPSP_DATA_VERSION, type PpspDataMessage } from '../../../../usages/ppsp/data/data-messages.js';
import { PeerSession } from '../../../../usages/ppsp/data/peer-session.js';
import { decodeDatagram } from '../../../../usages/ppsp/ppspp/ppspp-datagram.js';
import { findOption } from '../../../../usages/ppsp/ppspp/ppspp-options.js';
import { PpsppTransport } from '../../../../usages/ppsp/ppspp/ppspp-transport.js';
import { rejection } from '../../../helpers/rejection.js';
import { waitFor } from '../../../helpers/wait.js';

const SWARM = 'ab'.repeat(32);
const A_ID = '0a'.repeat(16);
const B_ID = '0b'.repeat(16);
const FAST = { handshakeRetryMs: 50, handshakeTries: 3 };
const bounds = { chunkCount: 1 << 20, maxChunkBytes: 1 << 20 };

describe('ppspp transport links (RFC 7574 datagrams between our peers)', function () {
  this.timeout(20_000);
  const open: { close(): unknown }[] = [];
  afterEach(async () => {
    for (const o of open.splice(0)) await o.close();
  });

  async function transport(identify: (swarmId: string, address: string) => string | undefined, onLink: (link: Link) => void): Promise<PpsppTransport> {
    const t = await PpsppTransport.open({ host: '127.0.0.1', port: 0, identify, onLink, timers: FAST, log: silentLogger });
    open.push(t);
    return t;
  }

  const udpOf = (t: PpsppTransport) => ({ host: '127.0.0.1', port: Number(t.address.split(':')[1]) });


  it('a dial nobody answers sends its HANDSHAKE the set number of times, then fails as unreachable', async () => {
    const silent: Socket = createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    open.push({ close: () => new Promise<void>((resolve) => silent.close(() => resolve())) });
    const heard: Buffer[] = [];
    silent.on('message', (m) => heard.push(m));
    const a = await transport(() => undefined, () => {});
    const e = await rejection<ReloadError>(a.dial(B_ID, { host: '127.0.0.1', port: silent.address().port }, SWARM));
    expect(e.reason).to.equal('unreachable');
    expect(heard).to.have.length(3);
    for (const d of heard) {
      const { channel, messages } = decodeDatagram(d);
      expect(channel, 'to channel 0: a new channel').to.equal(0);
      expect(messages[0]?.type).to.equal('handshake');
      const options = messages[0]!.type === 'handshake' ? messages[0]!.options : [];
      expect(Buffer.from(findOption(options, 'swarmId')!).toString('hex')).to.equal(SWARM);
      expect(findOption(options, 'merkleHashTreeFunction')).to.equal('sha256');
      expect(findOption(options, 'supportedMessages')).to.include(253);
    }
    expect(a.channelCount, 'channels left open').to.equal(0);
  });

  it('a HANDSHAKE from an address no peer of the swarm told us gets no answer', async () => {
    const b = await transport(() => undefined, () => expect.fail('no link may open'));
    const a = await transport(() => undefined, () => {});
    const e = await rejection<ReloadError>(a.dial(B_ID, udpOf(b), SWARM));
    expect(e.reason).to.equal('unreachable');
    expect(b.refused).to.equal(3);
  });

  it('a peer that does not serve the swarm refuses it: the dial fails with its reason at once', async () => {
    const b = await transport(
      (swarmId, address) => (swarmId === SWARM && address.startsWith('127.0.0.1:') ? A_ID : undefined),
      (link) => void new PeerSession(link, { role: 'answerer', resolve: () => undefined }, { log: silentLogger }),
    );
    const a = await transport(() => undefined, () => {});
    const e = await rejection<ReloadError>(a.dial(B_ID, udpOf(b), SWARM));
    expect(e.reason).to.equal('refused');
    expect(e.code).to.equal(ErrorCode.Not_Found);
    expect(e.message).to.match(/unknown_swarm/);
  });

  it('carries our frames: standard ones as PPSPP messages, the rest whole in FRAME_PART however large', async () => {
    const atB: PpspDataMessage[] = [];
    let bLink: Link | undefined;
    const b = await transport(
      () => A_ID,
      (link) => {
        bLink = link;
        expect(link.remoteNodeIdHex).to.equal(A_ID);
        link.on('message', (bytes) => {
          const m = decodeDataMessage(bytes, atB.length === 0 ? BEFORE_HANDSHAKE : bounds);
          atB.push(m);
          if (m.type === 'handshake') {
            link.send(encodeDataMessage({ type: 'handshake', swarmId: m.swarmId, version: PPSP_DATA_VERSION }));
            link.send(encodeDataMessage({ type: 'metadata', rootHash: Buffer.alloc(32, 7), contentLength: 40 * 16384, chunkSize: 16384 }));
            link.send(encodeDataMessage({ type: 'have', first: 0, last: 39 }));
            link.send(encodeDataMessage({ type: 'unchoke' }));
          }
        });
      },
    );
    const atA: PpspDataMessage[] = [];
    const a = await transport(() => undefined, () => {});
    const link = await a.dial(B_ID, udpOf(b), SWARM);
    expect(link.transport).to.equal('ppspp');
    link.on('message', (bytes) => atA.push(decodeDataMessage(bytes, atA.length === 0 ? BEFORE_HANDSHAKE : bounds)));
    link.send(encodeDataMessage({ type: 'handshake', swarmId: Buffer.from(SWARM, 'hex'), version: PPSP_DATA_VERSION }));
    await waitFor(() => atA.length >= 4, 5000);
    expect(atA.map((m) => m.type)).to.deep.equal(['handshake', 'metadata', 'have', 'unchoke']);
    expect(atA[2]).to.deep.include({ first: 0, last: 39 });

    // 16,384 leaf hashes and uncles: 512 KiB, some 33 datagrams.
    const hashes = randomBytes(16384 * 32);
    const uncles = randomBytes(5 * 32);
    link.send(encodeDataMessage({ type: 'request', first: 3, last: 9 }));
    link.send(encodeDataMessage({ type: 'hashes', first: 0, hashes, uncles }));
    await waitFor(() => atB.some((m) => m.type === 'hashes'), 5000);
    const got = atB.find((m) => m.type === 'hashes') as Extract<PpspDataMessage, { type: 'hashes' }>;
    expect(Buffer.from(got.hashes).equals(hashes) && Buffer.from(got.uncles).equals(uncles)).to.equal(true);
    expect(atB.find((m) => m.type === 'request')).to.deep.include({ first: 3, last: 9 });

    // DATA one chunk per datagram, back to the dialler.
    const chunk = randomBytes(16384);
    bLink!.send(encodeDataMessage({ type: 'data', index: 5, chunk }));
    await waitFor(() => atA.some((m) => m.type === 'data'), 5000);
    const data = atA.find((m) => m.type === 'data') as Extract<PpspDataMessage, { type: 'data' }>;
    expect(data.index).to.equal(5);
    expect(Buffer.from(data.chunk).equals(chunk)).to.equal(true);

    // A close is the closing HANDSHAKE: the other end closes too.
    let closed = false;
    bLink!.on('close', () => (closed = true));
    link.close();
    await waitFor(() => closed, 5000);
    expect(a.channelCount + b.channelCount).to.equal(0);
  });
});
