import { expect } from 'chai';
import { ErrorCode } from '../../../../overlay/errors.js';
import { chooseTransport, decodeTransports, encodeTransports, parseTransportAddress, type TransportDescriptor } from '../../../../usages/ppsp/signalling/transports.js';
import { expectReloadError } from '../../../helpers/expect-reload-error.js';

const tls = (address: string): TransportDescriptor => ({ type: 'tls', address });
const overlay: TransportDescriptor = { type: 'overlay' };

describe('ppsp transports (seed §4.5)', () => {
  it('encodes and decodes descriptors', () => {
    const list = [tls('127.0.0.1:7000'), tls('[::1]:7001'), tls('peer.example.org:443'), overlay];
    const wire = encodeTransports(list);
    expect(wire).to.deep.equal([['tls', '127.0.0.1:7000'], ['tls', '[::1]:7001'], ['tls', 'peer.example.org:443'], ['overlay']]);
    expect(decodeTransports(wire)).to.deep.equal(list);
    expect(parseTransportAddress('[::1]:7001')).to.deep.equal({ host: '::1', port: 7001 });
  });

  it('skips transports it does not know, so new ones can be announced', () => {
    expect(decodeTransports([['quic', '10.0.0.1:443'], ['overlay']])).to.deep.equal([overlay]);
  });

  it('refuses malformed lists, naming the field', () => {
    const bad: [unknown, RegExp][] = [
      ['tls', /transports must be an array/],
      [Array.from({ length: 9 }, () => ['overlay']), /transports has 9 entries, more than 8/],
      [[[]], /transports\[0\] must be \[name/],
      [[[7]], /transports\[0\]\.name/],
      [[['TLS', 'a:1']], /transports\[0\]\.name/],
      [[['t'.repeat(17)]], /transports\[0\]\.name/],
      [[['tls', '[::1]']], /transports\[0\]\.address must be host:port/],
      [[['tls']], /exactly one parameter/],
      [[['tls', 'host']], /transports\[0\]\.address/],
      [[['tls', 'host:0']], /port/],
      [[['tls', 'host:70000']], /port/],
      [[['tls', '[zz]:80']], /not an IPv6/],
      [[['tls', '1.2.3:80']], /not a host/],
      [[['tls', 'bad_host:80']], /not a host/],
      [[['overlay', 1]], /no parameters/],
      [[['overlay'], ['overlay']], /listed twice/],
      [[['tls', 'a:1'], ['tls', 'a:1']], /listed twice/],
    ];
    for (const [value, message] of bad) expectReloadError(() => decodeTransports(value), ErrorCode.Invalid_Message, { message });
  });

  it('the requester prefers tls when both have it and the address is reachable', () => {
    expect(chooseTransport([tls('1.1.1.1:1'), overlay], [overlay, tls('2.2.2.2:2')])).to.deep.equal(tls('2.2.2.2:2'));
    const reachable = (a: string) => a.startsWith('3.');
    expect(chooseTransport([tls('1.1.1.1:1')], [tls('2.2.2.2:2'), tls('3.3.3.3:3')], reachable)).to.deep.equal(tls('3.3.3.3:3'));
  });

  it('falls back to overlay: one side without tls, or tls unreachable', () => {
    expect(chooseTransport([overlay], [tls('2.2.2.2:2'), overlay])).to.deep.equal(overlay);
    expect(chooseTransport([tls('1.1.1.1:1'), overlay], [overlay])).to.deep.equal(overlay);
    expect(chooseTransport([tls('1.1.1.1:1'), overlay], [tls('2.2.2.2:2'), overlay], () => false)).to.deep.equal(overlay);
  });

  it('ppspp is an IP address and port, and the requester takes its own transports in its order', () => {
    const ppspp = (address: string): TransportDescriptor => ({ type: 'ppspp', address });
    expect(decodeTransports([['ppspp', '127.0.0.1:6778'], ['ppspp', '[::1]:6778']])).to.deep.equal([ppspp('127.0.0.1:6778'), ppspp('[::1]:6778')]);
    expect(encodeTransports([ppspp('10.0.0.1:6778')])).to.deep.equal([['ppspp', '10.0.0.1:6778']]);
    // A UDP peer is its address: a name would let whoever answers for it speak for the peer.
    expectReloadError(() => decodeTransports([['ppspp', 'peer.example.org:6778']]), ErrorCode.Invalid_Message, { message: /ppspp must be an IP address/ });
    expectReloadError(() => decodeTransports([['ppspp', '10.0.0.1:1'], ['ppspp', '10.0.0.1:1']]), ErrorCode.Invalid_Message, { message: /listed twice/ });
    const theirs = [tls('2.2.2.2:2'), ppspp('2.2.2.2:3'), overlay];
    expect(chooseTransport([ppspp('1.1.1.1:3'), tls('1.1.1.1:2'), overlay], theirs)).to.deep.equal(ppspp('2.2.2.2:3'));
    expect(chooseTransport([tls('1.1.1.1:2'), ppspp('1.1.1.1:3'), overlay], theirs)).to.deep.equal(tls('2.2.2.2:2'));
    // A ppspp address passed over (it did not answer) leaves the next of ours.
    expect(chooseTransport([ppspp('1.1.1.1:3'), tls('1.1.1.1:2')], theirs, (_a, type) => type !== 'ppspp')).to.deep.equal(tls('2.2.2.2:2'));
    // The other side offers no ppspp (it does not serve it, or the swarm is tls-only).
    expect(chooseTransport([ppspp('1.1.1.1:3'), tls('1.1.1.1:2')], [tls('2.2.2.2:2')])).to.deep.equal(tls('2.2.2.2:2'));
    expectReloadError(() => chooseTransport([ppspp('1.1.1.1:3')], [tls('2.2.2.2:2'), overlay]), ErrorCode.Not_Found, { reason: 'no_common_transport' });
  });

  it('nothing in common is a clear error', () => {
    expectReloadError(() => chooseTransport([overlay], [tls('2.2.2.2:2')]), ErrorCode.Not_Found, { reason: 'no_common_transport', message: /ours overlay; theirs tls 2\.2\.2\.2:2/ });
    expectReloadError(() => chooseTransport([tls('1.1.1.1:1')], [tls('2.2.2.2:2')], () => false), ErrorCode.Not_Found, { message: /unreachable/ });
    expectReloadError(() => chooseTransport([tls('1.1.1.1:1')], []), ErrorCode.Not_Found, { message: /theirs none/ });
  });
});
