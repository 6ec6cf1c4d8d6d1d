import { expect } from 'chai';
import { keepMessage, keptMessage } from '../../../overlay/wire/kept-message.js';
import type { WireMessage } from '../../../overlay/wire/message.js';

describe('kept messages (bytes held as strings while a message waits)', () => {
  it('gives back every byte value, the header as it was, in buffers of its own', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const encoderBuffer = new Uint8Array(1024);
    encoderBuffer.set(all, 10);
    encoderBuffer.set(all.reverse(), 300);
    const header = { ttl: 9 } as unknown as WireMessage['header'];
    const msg: WireMessage = { header, contentsBytes: encoderBuffer.subarray(10, 266), securityBytes: encoderBuffer.subarray(300, 556) };
    const kept = keepMessage(msg);
    expect(kept.contents).to.be.a('string');
    expect(kept.security).to.be.a('string');
    encoderBuffer.fill(0);
    const again = keptMessage(kept);
    expect(again.header).to.equal(header);
    expect([...again.contentsBytes]).to.deep.equal([...Array(256).keys()]);
    expect([...again.securityBytes]).to.deep.equal([...Array(256).keys()].reverse());
  });
});
