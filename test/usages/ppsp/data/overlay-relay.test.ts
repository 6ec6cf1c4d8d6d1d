import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { ErrorCode, ReloadError } from '../../../../overlay/errors.js';
import type { Link } from '../../../../overlay/link/link.js';
import { OverlayRelay, PPSP_RELAY_REQ } from '../../../../usages/ppsp/data/overlay-relay.js';
import { rejection } from '../../../helpers/rejection.js';
import { startTestnet, type Testnet } from '../../../helpers/testnet.js';
import { waitFor } from '../../../helpers/wait.js';

describe('PPSP overlay relay transport (seed §4.5): frames routed through the overlay', function () {
  this.timeout(60_000);
  let net: Testnet;
  const accepted = new Map<string, Link[]>();
  /** Frames each inbound channel delivered, collected from the moment it is handed over (as a consumer would). */
  const delivered = new Map<Link, Buffer[]>();
  const relays: OverlayRelay[] = [];

  before(async () => {
    net = await startTestnet(6, {
      batch: 3,
      beforeStart: (node) => {
        const list: Link[] = [];
        accepted.set(node.nodeIdHex, list);
        const onLink = (l: Link) => {
          const frames: Buffer[] = [];
          delivered.set(l, frames);
          l.on('message', (b) => frames.push(Buffer.from(b)));
          list.push(l);
        };
        relays.push(new OverlayRelay(node, { maxFrameBytes: 64 * 1024, onLink }));
      },
    });
  });

  after(async () => {
    for (const r of relays) r.closeAll();
    await net?.stopAll();
  });

  it('carries frames in order both ways between nodes with no link to each other, and closes both ends', async () => {
    const a = net.nodes[0]!;
    const far = net.nodes.find((n) => n !== a && !a.linkList().some((l) => l.remoteNodeIdHex === n.nodeIdHex)) ?? net.nodes[5]!;
    const channel = relays[0]!.dial(far.nodeId);
    const sent = Array.from({ length: 50 }, (_, i) => randomBytes(1 + ((i * 997) % 20_000)));
    for (const f of sent) expect(channel.send(f)).to.equal(true);
    await waitFor(() => accepted.get(far.nodeIdHex)!.length === 1, 10_000, 'inbound channel');
    const inbound = accepted.get(far.nodeIdHex)![0]!;
    expect(inbound.remoteNodeIdHex).to.equal(a.nodeIdHex);
    const got = delivered.get(inbound)!;
    await waitFor(() => got.length === sent.length, 10_000, 'all frames');
    expect(got.every((g, i) => g.equals(sent[i]!))).to.equal(true);
    const back: Buffer[] = [];
    channel.on('message', (b) => back.push(Buffer.from(b)));
    inbound.send(Buffer.from('ack'));
    await waitFor(() => back.length === 1, 10_000, 'answer on the same channel');
    expect(back[0]!.toString()).to.equal('ack');
    let closed = false;
    inbound.once('close', () => (closed = true));
    channel.close();
    await waitFor(() => closed, 10_000, 'close reached the other end');
  });

  it('refuses malformed relay bodies and frames for channels that do not exist', async () => {
    const [a, b] = net.nodes;
    const bad = await rejection<ReloadError>(a!.request([{ type: 'node', id: b!.nodeId }], PPSP_RELAY_REQ, [1, 0]));
    expect(bad.code).to.equal(ErrorCode.Invalid_Message);
    const unknown = await rejection<ReloadError>(a!.request([{ type: 'node', id: b!.nodeId }], PPSP_RELAY_REQ, [999, 0, new Uint8Array(1), false]));
    expect(unknown.code).to.equal(ErrorCode.Not_Found);
    const big = await rejection<ReloadError>(a!.request([{ type: 'node', id: b!.nodeId }], PPSP_RELAY_REQ, [7, 0, new Uint8Array(64 * 1024 + 1), true]));
    expect(big.code).to.equal(ErrorCode.Message_Too_Large);
  });
});
