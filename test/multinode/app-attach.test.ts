import { expect } from 'chai';
import { ErrorCode, ReloadError } from '../../overlay/errors.js';
import type { Link } from '../../overlay/link/link.js';
import { rejection } from '../helpers/rejection.js';
import { startTestnet, type Testnet } from '../helpers/testnet.js';
import { waitFor } from '../helpers/wait.js';

const APP = 61500;

describe('AppAttach (RFC 6940 §6.5.2): application channels over mutual TLS', function () {
  this.timeout(60_000);
  let net: Testnet;
  after(async () => net && (await net.stopAll()));

  it('opens a channel to a node found through the overlay, bound to its Node-ID, and refuses unknown applications', async () => {
    net = await startTestnet(5, { batch: 4 });
    const [a, , , , e] = net.nodes;
    const accepted: Link[] = [];
    const served = await e!.serveApplication(APP, { host: '127.0.0.1', port: 0, maxMessageBytes: 1 << 20, queueLimit: 64, onLink: (l) => accepted.push(l) });
    const channel = await a!.connectApplication(e!.nodeId, APP, { maxMessageBytes: 1 << 20, queueLimit: 64 });
    expect(channel.remoteNodeIdHex).to.equal(e!.nodeIdHex);
    await waitFor(() => accepted.length === 1);
    expect(accepted[0]!.remoteNodeIdHex).to.equal(a!.nodeIdHex);
    const got: string[] = [];
    accepted[0]!.on('message', (b) => got.push(Buffer.from(b).toString()));
    channel.send(Buffer.from('chunk please'));
    await waitFor(() => got.length === 1);
    expect(got).to.deep.equal(['chunk please']);
    const err = await rejection<ReloadError>(a!.connectApplication(e!.nodeId, APP + 1, { maxMessageBytes: 1024, queueLimit: 4 }));
    expect(err.code).to.equal(ErrorCode.Not_Found);
    expect(err.reason).to.equal('unknown_application');
    channel.close();
    await served.close();
  });
});
