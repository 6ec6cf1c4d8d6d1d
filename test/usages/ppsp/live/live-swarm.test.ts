/**
 * A live channel over real TLS between in-process nodes: a source cuts and signs an input that
 * arrives over time, viewers find it through the tracker, play it, and forward it to each other.
 */
import { expect } from 'chai';
import { startPpspNet, type PpspNet } from '../../../helpers/ppsp-net.js';
import { waitFor } from '../../../helpers/wait.js';
import { randomBytes } from 'node:crypto';
import type { LiveSwarm } from '../../../../usages/ppsp/live/live-swarm.js';

/** The bytes of chunks `from`..`to` a swarm holds, in order (a missing one fails). */
function bytesOf(swarm: LiveSwarm, from: number, to: number): Buffer {
  const parts: Uint8Array[] = [];
  for (let i = from; i <= to; i++) {
    expect(swarm.window.has(i), `chunk ${i} held`).to.equal(true);
    parts.push(swarm.window.get(i)!.bytes);
  }
  return Buffer.concat(parts);
}

describe('live swarm (in-process nodes, real TLS)', function () {
  this.timeout(60_000);
  let net: PpspNet;
  afterEach(async () => net?.stop());

  it('viewers play a channel that is being produced, byte for byte, and get most of it from each other', async () => {
    net = await startPpspNet(6);
    const source = await net.usages[0]!.live.broadcast({ name: 'test channel', chunkSize: 4096, windowChunks: 512 });
    const input: Buffer[] = [];
    // 64 KiB/s in 2 KiB writes: 16 chunks/s.
    const feed = setInterval(() => {
      const part = randomBytes(2048);
      input.push(part);
      source.write(part);
    }, 31);
    try {
      const viewers = await Promise.all([1, 2, 3, 4, 5].map(async (i) => (await net.usages[i]!.live.watch(source.swarmId)).swarm));
      await waitFor(() => viewers.every((v) => (v.playback?.figures(Date.now()).chunksOnTime ?? 0) >= 40), 30_000, 'every viewer plays 40 chunks');
    } finally {
      clearInterval(feed);
    }
    // The source's chunks are its input, cut in order (nothing fell out of its window yet).
    const all = Buffer.concat(input);
    expect(source.window.oldest).to.equal(0);
    const cut = bytesOf(source, 0, source.window.newest);
    expect(cut.equals(all.subarray(0, cut.length))).to.equal(true);
    let fromSource = 0;
    let total = 0;
    for (let i = 1; i <= 5; i++) {
      const v = net.usages[i]!.live.get(source.swarmId)!;
      const f = v.figures();
      const p = f.playback!;
      expect(p.startupDelayMs).to.be.a('number');
      expect(p.chunksSkipped).to.equal(0);
      // What it played is the source's chunks, byte for byte.
      const first = p.position! - p.chunksOnTime - p.chunksLate;
      expect(bytesOf(v, first, p.position! - 1).equals(bytesOf(source, first, p.position! - 1))).to.equal(true);
      fromSource += f.bytesFromSource;
      total += f.bytesFromSource + f.bytesFromPeers;
    }
    // The source serves four viewers at a time: the fifth gets everything from the others.
    expect(fromSource / total).to.be.lessThan(0.9);
  });
});
