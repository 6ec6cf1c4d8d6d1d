/**
 * A viewer accepts only chunks its channel's source signed, for the position they claim: a peer
 * that sends a chunk with altered bytes, one signed by another enrolled node, or one replayed from an
 * older position is refused, dropped and not dialled again, and the viewer plays on from honest peers
 * with nothing of the bad chunks kept. The bad peer runs honest code; what it sends is altered on the
 * victim's side of the real TLS link (TamperingLink), so nothing in the code under test is a hook.
 */
import { expect } from 'chai';
import { startPpspNet, type PpspNet } from '../../../helpers/ppsp-net.js';
import { TamperingLink } from '../../../helpers/tampering-link.js';
import { waitFor } from '../../../helpers/wait.js';
import { decodeDataMessage, encodeDataMessage, type LiveDataMessage } from '../../../../usages/ppsp/data/data-messages.js';
import { liveSignatureInput } from '../../../../usages/ppsp/live/live-chunk.js';
import type { LiveSwarm } from '../../../../usages/ppsp/live/live-swarm.js';

const ANY = { chunkCount: 0x1_0000_0000, maxChunkBytes: 1 << 20 };
const LIVE_DATA = 0x13;

type Tamper = (m: LiveDataMessage, swarmId: string, net: PpspNet) => LiveDataMessage;

const TAMPERS: Record<string, Tamper> = {
  'altered bytes': (m) => {
    const chunk = Buffer.from(m.chunk);
    chunk[0]! ^= 0xff;
    return { ...m, chunk };
  },
  'a signature by another enrolled node': (m, swarmId, net) => ({ ...m, signature: net.net.nodes[1]!.identity.sign(liveSignatureInput(swarmId, { index: m.index, timestampMs: m.timestampMs, flags: m.flags, bytes: m.chunk })) }),
  'a chunk replayed from an older position': (() => {
    let first: LiveDataMessage | undefined;
    return (m: LiveDataMessage) => {
      if (!first) {
        first = { ...m, chunk: Buffer.from(m.chunk), signature: Buffer.from(m.signature) };
        return m;
      }
      return { ...first, index: m.index };
    };
  })(),
};

describe('live channel: chunks not signed by the source for their position are refused', function () {
  this.timeout(60_000);
  let net: PpspNet | undefined;
  afterEach(async () => {
    await net?.stop();
    net = undefined;
  });

  for (const [what, tamper] of Object.entries(TAMPERS)) {
    it(`${what}: refused, the sender dropped and not dialled again, playback goes on from an honest peer`, async () => {
      // Node 0 is the source with one slot, which node 1 (the first to come) takes; the victim, node 2,
      // can get chunks only from node 1 then, through the tampering link. Node 3, an honest viewer,
      // comes once the victim dropped node 1.
      let swarmId = '';
      const started = await startPpspNet(4, {
        live: { sourceSlots: 1, redialIntervalMs: 300 },
        data: (i) =>
          i !== 2
            ? {}
            : {
                wrapLink: (link) =>
                  link.remoteNodeIdHex !== started.net.nodes[1]!.nodeIdHex
                    ? link
                    : new TamperingLink(link, (bytes) => (bytes[0] === LIVE_DATA ? encodeDataMessage(tamper(decodeDataMessage(bytes, ANY) as LiveDataMessage, swarmId, started)) : bytes)),
              },
      });
      net = started;
      const live = (i: number) => net!.usages[i]!.live;
      const source = await live(0).broadcast({ name: 'refusals', chunkSize: 4096, windowChunks: 512 });
      swarmId = source.swarmId;
      const feed = setInterval(() => source.write(Buffer.alloc(2048, 7)), 31);
      try {
        const first = (await live(1).watch(swarmId)).swarm;
        await waitFor(() => (first.playback?.figures(Date.now()).chunksOnTime ?? 0) > 5, 20_000, 'node 1 plays');
        const honest = (await live(3).watch(swarmId)).swarm;
        await waitFor(() => (honest.playback?.figures(Date.now()).chunksOnTime ?? 0) > 5, 20_000, 'node 3 plays');
        const victim = (await live(2).watch(swarmId)).swarm;
        const bad = net.net.nodes[1]!.nodeIdHex;
        await waitFor(() => victim.figures().banned.includes(bad), 20_000, 'the victim drops node 1');
        expect(victim.figures().refused).to.be.greaterThan(0);
        expect(victim.figures().peers).to.not.include(bad);
        const played = victim.playback!.figures(Date.now()).chunksOnTime;
        await waitFor(() => victim.playback!.figures(Date.now()).chunksOnTime >= played + 20, 20_000, 'the victim plays on');
        // Still not talking to node 1, however often it looked for peers since.
        expect(victim.figures().peers).to.not.include(bad);
        expectSameChunks(victim, source);
      } finally {
        clearInterval(feed);
      }
    });
  }
});

/** Every chunk the viewer holds is the source's, byte for byte. */
function expectSameChunks(viewer: LiveSwarm, source: LiveSwarm): void {
  let compared = 0;
  for (let i = viewer.window.oldest; i <= viewer.window.newest; i++) {
    const mine = viewer.window.get(i);
    const theirs = source.window.get(i);
    if (!mine || !theirs) continue;
    expect(Buffer.from(mine.bytes).equals(Buffer.from(theirs.bytes)), `chunk ${i}`).to.equal(true);
    compared++;
  }
  expect(compared).to.be.greaterThan(20);
}
