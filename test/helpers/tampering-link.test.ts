import { expect } from 'chai';
import { VirtualClock } from '../../overlay/clock.js';
import { randomId } from '../../overlay/id.js';
import { memoryLinkPair } from '../../overlay/link/memory-link.js';
import { TamperingLink } from './tampering-link.js';

describe('test helpers: TamperingLink', () => {
  const near = { nodeId: randomId(), user: 'near@test.reload' };
  const far = { nodeId: randomId(), user: 'far@test.reload' };

  it('passes incoming messages through tamper, sends untouched, and mirrors the inner link', () => {
    const clock = new VirtualClock();
    const [inner, remote] = memoryLinkPair(near, far, { clock });
    const link = new TamperingLink(inner, (bytes) => Uint8Array.from(bytes, (b) => b ^ 0xff));
    const received: number[][] = [];
    const atRemote: number[][] = [];
    link.on('message', (bytes) => received.push([...bytes]));
    remote.on('message', (bytes) => atRemote.push([...bytes]));

    remote.send(Uint8Array.from([1, 2, 3]));
    expect(link.send(Uint8Array.from([7, 8]))).to.equal(true);
    expect(link.queuedMessages).to.equal(inner.queuedMessages);
    clock.advance(0);
    expect(received).to.deep.equal([[0xfe, 0xfd, 0xfc]]);
    expect(atRemote).to.deep.equal([[7, 8]]);
    expect([link.remoteNodeIdHex, link.remoteUser, link.transport, link.remoteAddress]).to.deep.equal([inner.remoteNodeIdHex, 'far@test.reload', inner.transport, inner.remoteAddress]);
    expect(link.remoteNodeId).to.equal(inner.remoteNodeId);

    const closes: (Error | undefined)[] = [];
    link.on('close', (error) => closes.push(error));
    remote.close(new Error('boom'));
    clock.advance(0);
    expect(link.open).to.equal(false);
    expect(closes).to.have.length(1);
    expect(closes[0]?.message).to.match(/reset by far@test.reload/);
  });

  it('closes the inner link when closed', () => {
    const clock = new VirtualClock();
    const [inner, remote] = memoryLinkPair(near, far, { clock });
    const link = new TamperingLink(inner, (bytes) => bytes);
    let remoteClosed = false;
    remote.on('close', () => (remoteClosed = true));
    link.close();
    expect(inner.open).to.equal(false);
    clock.advance(0);
    expect(remoteClosed).to.equal(true);
  });
});
