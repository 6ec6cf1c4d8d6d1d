import { expect } from 'chai';
import { ErrorCode } from '../../../../overlay/errors.js';
import { bitmapBytes, PiecePicker } from '../../../../usages/ppsp/data/piece-picker.js';
import { expectReloadError } from '../../../helpers/expect-reload-error.js';
import { Prng } from '../../../helpers/prng.js';

const rngOf = (prng: Prng) => () => prng.next() / 0x1_0000_0000;

/** A bitmap (bit 7 of byte 0 = chunk 0) of the chunks for which `holds` is true. */
function bitmap(chunkCount: number, holds: (c: number) => boolean): Uint8Array {
  const out = new Uint8Array(bitmapBytes(chunkCount));
  for (let c = 0; c < chunkCount; c++) if (holds(c)) out[c >> 3]! |= 0x80 >> (c & 7);
  return out;
}
const all = (n: number) => bitmap(n, () => true);

describe('PiecePicker', () => {
  it('picks rarest first, matching a brute-force count, and never asks twice for a chunk outside end game', () => {
    const prng = new Prng(7);
    const n = 300;
    const peers = ['a', 'b', 'c', 'd', 'e', 'f'];
    const holds = new Map(peers.map((p) => [p, new Set<number>()]));
    const picker = new PiecePicker(n, { rng: rngOf(prng), endgameChunks: 0 });
    for (const p of peers) {
      const density = 0.1 + prng.next() / 0x1_0000_0000 * 0.8;
      const bits = bitmap(n, (c) => prng.chance(density));
      for (let c = 0; c < n; c++) if (bits[c >> 3]! & (0x80 >> (c & 7))) holds.get(p)!.add(c);
      picker.setAvailability(p, bits);
    }
    const have = new Set<number>();
    const inFlight = new Map<number, string>();
    const count = (c: number) => peers.filter((p) => holds.get(p)!.has(c)).length;
    for (let step = 0; step < 2000 && !picker.complete; step++) {
      const r = prng.int(10);
      if (r < 5) {
        const peer = prng.pick(peers);
        const perPeer = 1 + prng.int(6);
        const eligible = [...holds.get(peer)!].filter((c) => !have.has(c) && !inFlight.has(c)).map(count).sort((x, y) => x - y);
        const room = perPeer - [...inFlight.values()].filter((p) => p === peer).length;
        const picked = picker.next(peer, step, { perPeer, batch: 1 });
        expect(picked.map(count).sort((x, y) => x - y), `step ${step}`).to.deep.equal(eligible.slice(0, Math.max(0, room)));
        for (const c of picked) {
          expect(inFlight.has(c), `chunk ${c} asked twice`).to.equal(false);
          inFlight.set(c, peer);
        }
      } else if (r < 9 && inFlight.size > 0) {
        const c = prng.pick([...inFlight.keys()]);
        expect(picker.received(c, inFlight.get(c))).to.deep.equal([]);
        inFlight.delete(c);
        have.add(c);
      } else if (r === 9) {
        // HAVE updates move chunks between availability buckets.
        const p = prng.pick(peers);
        const c = prng.int(n);
        picker.addHave(p, c, c);
        holds.get(p)!.add(c);
      }
      expect(picker.inFlight()).to.equal(inFlight.size);
    }
    expect(have.size).to.be.above(n / 2);
  });

  it('breaks ties between equally rare chunks with the injected rng', () => {
    const firsts = new Set<number>();
    for (let seed = 1; seed <= 200; seed++) {
      const picker = new PiecePicker(10, { rng: rngOf(new Prng(seed)) });
      picker.setAvailability('a', all(10));
      firsts.add(picker.next('a', 0, { perPeer: 1 })[0]!);
    }
    expect(firsts.size).to.equal(10);
    const same = (seed: number) => {
      const picker = new PiecePicker(50, { rng: rngOf(new Prng(seed)) });
      picker.setAvailability('a', all(50));
      return picker.next('a', 0, { perPeer: 50 });
    };
    expect(same(3)).to.deep.equal(same(3));
  });

  it('asks only for chunks the peer holds and we lack, within the per-peer and total limits', () => {
    const picker = new PiecePicker(16, { have: bitmap(16, (c) => c < 4) });
    expect(picker.missing).to.equal(12);
    picker.setAvailability('a', bitmap(16, (c) => c % 2 === 0));
    picker.setAvailability('b', all(16));
    const a = picker.next('a', 0, { perPeer: 100 });
    expect(a.sort((x, y) => x - y)).to.deep.equal([4, 6, 8, 10, 12, 14]);
    expect(picker.next('a', 0)).to.deep.equal([]);
    expect(picker.next('b', 0, { perPeer: 2 })).to.have.length(2);
    // One slot left overall: not worth a request while a batch is due (below), unless asked one by one.
    expect(picker.next('b', 0, { perPeer: 10, total: 9 })).to.deep.equal([]);
    expect(picker.next('b', 0, { perPeer: 10, total: 9, batch: 1 })).to.have.length(1);
    expect(picker.inFlight('b')).to.equal(3);
    expect(picker.next('unknown', 0)).to.deep.equal([]);
  });

  it('enters end game only when every missing chunk is in flight and few are missing, and names the peers to CANCEL', () => {
    const picker = new PiecePicker(20, { endgameChunks: 4, rng: rngOf(new Prng(1)) });
    picker.setAvailability('a', all(20));
    picker.setAvailability('b', all(20));
    picker.setAvailability('c', bitmap(20, () => false));
    const asked = picker.next('a', 0, { perPeer: 20 });
    expect(asked).to.have.length(20);
    expect(picker.next('b', 0)).to.deep.equal([]);
    for (const c of asked.slice(0, 15)) picker.received(c, 'a');
    // Five missing, all in flight: still more than the threshold.
    expect(picker.inEndgame()).to.equal(false);
    expect(picker.next('b', 1)).to.deep.equal([]);
    picker.received(asked[15]!, 'a');
    expect(picker.inEndgame()).to.equal(true);
    const dup = picker.next('b', 2, { perPeer: 2 });
    expect(dup).to.have.length(2);
    for (const c of dup) expect(asked.slice(16)).to.include(c);
    // Least-duplicated first: the next picks are the two not yet asked of b.
    expect(picker.next('b', 2, { perPeer: 4 }).sort()).to.deep.equal(asked.slice(16).filter((c) => !dup.includes(c)).sort());
    expect(picker.next('b', 3)).to.deep.equal([]);
    expect(picker.next('c', 3)).to.deep.equal([]);
    expect(picker.cancelsFor(dup[0]!, 'b')).to.deep.equal(['a']);
    expect(picker.received(dup[0]!, 'b')).to.deep.equal(['a']);
    expect(picker.received(dup[0]!, 'a')).to.deep.equal([]);
    expect(picker.inFlight('a')).to.equal(3);
    expect(picker.inFlight('b')).to.equal(3);
  });

  it('does not enter end game while a missing chunk is requestable, however few are missing', () => {
    const picker = new PiecePicker(4, { endgameChunks: 10 });
    picker.setAvailability('a', bitmap(4, (c) => c < 3));
    picker.setAvailability('b', bitmap(4, (c) => c < 3));
    expect(picker.next('a', 0, { perPeer: 4 })).to.have.length(3);
    expect(picker.inEndgame()).to.equal(false);
    expect(picker.next('b', 0)).to.deep.equal([]);
    // Chunk 3 appears at b: it is requestable, not a duplicate.
    picker.addHave('b', 3, 3);
    expect(picker.next('b', 0, { perPeer: 1 })).to.deep.equal([3]);
    expect(picker.inEndgame()).to.equal(true);
    // Now every missing chunk is in flight: the rest of b's room goes to duplicates.
    expect(picker.next('b', 0, { perPeer: 4 }).sort()).to.deep.equal([0, 1, 2]);
  });

  it('re-issues a failed chunk to another holder first, and to the same peer only when it has nothing else', () => {
    const picker = new PiecePicker(4);
    picker.setAvailability('a', all(4));
    picker.setAvailability('b', bitmap(4, (c) => c === 0));
    picker.addHave('a', 0, 0);
    const [first] = picker.next('a', 0, { perPeer: 1 });
    picker.failed('a', first!);
    expect(picker.inFlight('a')).to.equal(0);
    if (first === 0) {
      // a is asked for something else; b gets chunk 0.
      expect(picker.next('a', 1, { perPeer: 1 })).to.not.include(0);
      expect(picker.next('b', 1)).to.deep.equal([0]);
    } else {
      // a alone holds it: it is asked again.
      expect(picker.next('a', 1, { perPeer: 4 })).to.include(first);
    }
  });

  it('a failed chunk goes to another holder even when it is the rarest the failing peer holds', () => {
    const picker = new PiecePicker(2, { rng: () => 0, endgameChunks: 0 });
    picker.setAvailability('a', all(2));
    picker.setAvailability('b', all(2));
    picker.setAvailability('c', bitmap(2, (c) => c === 1));
    expect(picker.next('a', 0, { perPeer: 1 })).to.deep.equal([0]);
    picker.failed('a', 0);
    // Chunk 0 (2 holders) is rarer than chunk 1 (3 holders), yet a is given chunk 1.
    expect(picker.next('a', 1, { perPeer: 2 })).to.deep.equal([1]);
    expect(picker.next('b', 1)).to.deep.equal([0]);
    // With b gone, a is the only holder left and is asked again.
    picker.peerGone('b');
    expect(picker.next('a', 2, { perPeer: 2 })).to.deep.equal([0]);
  });

  it('expire returns the timed-out requests and makes their chunks requestable again', () => {
    const picker = new PiecePicker(4, { rng: () => 0 });
    picker.setAvailability('a', all(4));
    picker.setAvailability('b', all(4));
    const early = picker.next('a', 0, { perPeer: 2 });
    const late = picker.next('b', 500, { perPeer: 2 });
    expect(picker.expire(799, 800)).to.deep.equal([]);
    const expired = picker.expire(1000, 800);
    expect(expired).to.have.deep.members(early.map((chunk) => ({ peer: 'a', chunk, issuedAtMs: 0 })));
    expect(picker.inFlight('a')).to.equal(0);
    expect(picker.next('b', 1000, { perPeer: 4 }).sort()).to.deep.equal([...early].sort());
    expect(picker.expire(1300, 800).map((r) => r.chunk).sort()).to.deep.equal([...late].sort());
  });

  it('peerGone releases the peer’s requests and its availability; releaseRequests keeps the availability', () => {
    const picker = new PiecePicker(8);
    picker.setAvailability('a', all(8));
    picker.setAvailability('b', bitmap(8, (c) => c < 4));
    const a = picker.next('a', 0, { perPeer: 8 });
    expect(a).to.have.length(8);
    expect(picker.releaseRequests('a').sort()).to.deep.equal([...a].sort());
    expect(picker.availability(7)).to.equal(1);
    expect(picker.next('a', 0, { perPeer: 3 })).to.have.length(3);
    const gone = picker.peerGone('a');
    expect(gone).to.have.length(3);
    expect(picker.peerCount).to.equal(1);
    expect(picker.availability(7)).to.equal(0);
    expect(picker.availability(0)).to.equal(1);
    expect(picker.next('b', 1, { perPeer: 8 }).sort()).to.deep.equal([0, 1, 2, 3]);
    expect(picker.peerGone('a')).to.deep.equal([]);
    // A returning peer starts afresh.
    picker.addHave('a', 7, 7);
    expect(picker.next('a', 2)).to.deep.equal([7]);
  });

  it('refuses bad availability and out-of-range chunks with ReloadError(Invalid_Message)', () => {
    const picker = new PiecePicker(10);
    expectReloadError(() => picker.setAvailability('a', new Uint8Array(1)), ErrorCode.Invalid_Message, { message: /must be 2 bytes/ });
    expectReloadError(() => picker.setAvailability('a', Uint8Array.of(0, 0x20)), ErrorCode.Invalid_Message, { message: /bits set past the last chunk/ });
    expectReloadError(() => picker.addHave('a', 0, 10), ErrorCode.Invalid_Message, { reason: 'out_of_range' });
    expectReloadError(() => picker.addHave('a', 5, 4), ErrorCode.Invalid_Message, { message: /after last/ });
    expectReloadError(() => picker.received(-1), ErrorCode.Invalid_Message, { reason: 'out_of_range' });
    expectReloadError(() => new PiecePicker(10, { have: new Uint8Array(3) }), ErrorCode.Invalid_Message);
    picker.setAvailability('a', Uint8Array.of(0xff, 0xc0));
    expect(picker.availability(9)).to.equal(1);
    expect(() => new PiecePicker(-1)).to.throw(RangeError);
    const empty = new PiecePicker(0);
    expect(empty.complete).to.equal(true);
    empty.setAvailability('a', new Uint8Array(0));
    expect(empty.next('a', 0)).to.deep.equal([]);
  });

  it('a simulated download from 4 peers with random availability, losses, timeouts and a departure completes with bounded overhead', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const prng = new Prng(seed);
      const n = 600;
      const endgameChunks = 24;
      const picker = new PiecePicker(n, { endgameChunks, rng: rngOf(prng) });
      const peers = ['p0', 'p1', 'p2', 'p3'];
      const latencyMs = [3, 7, 15, 40];
      // Every chunk is held by at least one of p0..p2, so p3 leaving loses nothing.
      const holds = peers.map(() => new Set<number>());
      for (let c = 0; c < n; c++) {
        holds[prng.int(3)]!.add(c);
        for (const h of holds) if (prng.chance(0.5)) h.add(c);
      }
      peers.forEach((p, i) => picker.setAvailability(p, bitmap(n, (c) => holds[i]!.has(c))));
      const pending: { peer: string; chunk: number; at: number }[] = [];
      const present = new Set(peers);
      let requests = 0;
      let lost = 0;
      let duplicates = 0;
      let t = 0;
      for (; !picker.complete && t < 100_000; t++) {
        for (let i = pending.length - 1; i >= 0; i--) {
          const r = pending[i]!;
          if (r.at > t) continue;
          pending.splice(i, 1);
          if (!present.has(r.peer)) continue;
          if (picker.has(r.chunk)) duplicates++;
          picker.received(r.chunk, r.peer);
        }
        if (t === 150) {
          present.delete('p3');
          picker.peerGone('p3');
        }
        if (t % 50 === 0) picker.expire(t, 200);
        for (const [i, peer] of peers.entries()) {
          if (!present.has(peer)) continue;
          for (const chunk of picker.next(peer, t, { perPeer: 6 })) {
            requests++;
            // 3% of requests are never answered: only the timeout brings them back.
            if (prng.chance(0.03)) lost++;
            else pending.push({ peer, chunk, at: t + latencyMs[i]! + prng.int(5) });
          }
        }
      }
      expect(picker.complete, `seed ${seed}`).to.equal(true);
      // Each chunk once, plus re-requests of lost ones, plus end-game duplicates and the requests
      // p3 had in flight when it left.
      expect(requests, `seed ${seed}`).to.be.at.most(n + lost + endgameChunks * (peers.length - 1) + 6);
      expect(duplicates, `seed ${seed}`).to.be.at.most(endgameChunks * (peers.length - 1));
    }
  });

  it('gives a peer runs of consecutive equally rare chunks and continues its run on the next call', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const picker = new PiecePicker(1000, { rng: rngOf(new Prng(seed)), endgameChunks: 0 });
      picker.setAvailability('a', all(1000));
      picker.setAvailability('b', all(1000));
      const first = picker.next('a', 0, { perPeer: 8 });
      const start = first[0]!;
      if (start + 8 > 1000) continue; // a run that meets the end restarts elsewhere
      expect(first, `seed ${seed}`).to.deep.equal([...Array(8).keys()].map((k) => start + k));
      for (const c of first.slice(0, 4)) picker.received(c, 'a');
      expect(picker.next('a', 0, { perPeer: 8 }), `seed ${seed}`).to.deep.equal([8, 9, 10, 11].map((k) => start + k));
      // Another peer's run never overlaps chunks in flight.
      const other = picker.next('b', 0, { perPeer: 8 });
      for (const c of other) expect(c < start || c >= start + 12, `seed ${seed}: ${c}`).to.equal(true);
    }
  });

  it('ends a run where a chunk is rarer or more common, so rarest first still holds', () => {
    const picker = new PiecePicker(20, { rng: () => 0, endgameChunks: 0 });
    picker.setAvailability('a', all(20));
    picker.setAvailability('b', bitmap(20, (c) => c !== 5 && c !== 6));
    // Chunks 5 and 6 are held by 'a' alone: the rarest, picked before any other, and the run stops
    // at 7, which 'b' holds too; the other two picks are a run of equally common chunks.
    const picked = picker.next('a', 0, { perPeer: 4 });
    expect(picked.slice(0, 2).sort((x, y) => x - y)).to.deep.equal([5, 6]);
    expect(picked[3]).to.equal(picked[2]! + 1);
    expect(picked.slice(2)).to.not.include.members([5, 6]);
    for (const c of picked) picker.received(c, 'a');
    // The next call continues after the last run.
    const end = picked[3]!;
    expect(picker.next('a', 0, { perPeer: 3 })).to.deep.equal([end + 1, end + 2, end + 3]);
  });

  it('asks in batches: nothing while the peer has less room than the batch, unless fewer chunks are left', () => {
    const picker = new PiecePicker(100, { rng: () => 0, endgameChunks: 0 });
    picker.setAvailability('a', all(100));
    const first = picker.next('a', 0, { perPeer: 16, batch: 4 });
    expect(first).to.have.length(16);
    for (const c of first.slice(0, 3)) picker.received(c, 'a');
    expect(picker.next('a', 0, { perPeer: 16, batch: 4 })).to.deep.equal([]);
    picker.received(first[3]!, 'a');
    expect(picker.next('a', 0, { perPeer: 16, batch: 4 })).to.have.length(4);
    // The batch is capped at a quarter of the window.
    expect(picker.next('a', 0, { perPeer: 24, batch: 100 })).to.have.length(8);
    // Room left by the overall bound counts too: 2 free slots overall are not a batch of 4.
    picker.setAvailability('b', all(100));
    const inFlight = picker.inFlight();
    expect(picker.next('b', 0, { perPeer: 16, total: inFlight + 2, batch: 4 })).to.deep.equal([]);
    expect(picker.next('b', 0, { perPeer: 16, total: inFlight + 4, batch: 4 })).to.have.length(4);
    // Near the end, fewer requestable chunks than a batch are still asked for.
    const rest = new PiecePicker(3, { endgameChunks: 0 });
    rest.setAvailability('a', all(3));
    expect(rest.next('a', 0, { perPeer: 64, batch: 16 })).to.have.length(3);
  });

  describe('streaming', () => {
    it('picks the priority windows first, in window order, ahead of rarer chunks, then rarest first', () => {
      const n = 200;
      const picker = new PiecePicker(n, { rng: () => 0 });
      picker.setAvailability('a', all(n));
      picker.setAvailability('b', bitmap(n, (c) => c < 100));
      // Chunks 100..199 are rarer (one holder); the windows lie among the common ones.
      picker.setPriority([{ first: 50, last: 53, critical: true }, { first: 10, last: 19, critical: false }]);
      const picked = picker.next('a', 0, { perPeer: 64, batch: 1 });
      expect(picked.slice(0, 14)).to.deep.equal([50, 51, 52, 53, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
      expect(picked.slice(14).every((c) => c >= 100), 'then the rarest').to.equal(true);
    });

    it('inside a read-ahead window picks rarest first; a critical window stays in play order', () => {
      const picker = new PiecePicker(100, { rng: () => 0 });
      picker.setAvailability('a', all(100));
      // 10..14 and 52..53 have a second holder, so 15..19 and 50..51 are rarer.
      picker.setAvailability('b', bitmap(100, (c) => (c >= 10 && c <= 14) || c >= 52));
      picker.setPriority([{ first: 50, last: 53, critical: true }, { first: 10, last: 19, critical: false }]);
      expect(picker.next('a', 0, { perPeer: 14, batch: 1 })).to.deep.equal([50, 51, 52, 53, 15, 16, 17, 18, 19, 10, 11, 12, 13, 14]);
    });

    it('picks a priority chunk at once even with less room than a batch', () => {
      const picker = new PiecePicker(100);
      picker.setAvailability('a', all(100));
      const first = picker.next('a', 0, { perPeer: 64, batch: 16 });
      expect(first).to.have.length(64);
      picker.received(first[0]!, 'a');
      expect(picker.next('a', 1, { perPeer: 64, batch: 16 }), 'one free slot, no priority: wait for a batch').to.deep.equal([]);
      const idle = Array.from({ length: 100 }, (_, c) => c).find((c) => !first.includes(c))!;
      picker.setPriority([{ first: idle, last: idle, critical: true }]);
      expect(picker.next('a', 2, { perPeer: 64, batch: 16 })).to.deep.equal([idle]);
    });

    it('picks no chunk whose leaf hash is unknown, and those of a range as soon as it is known', () => {
      const picker = new PiecePicker(64, { hashesKnown: false });
      picker.setAvailability('a', all(64));
      expect(picker.next('a', 0, { batch: 1 })).to.deep.equal([]);
      picker.hashesKnown(16, 31);
      const picked = picker.next('a', 1, { batch: 1 });
      expect([...picked].sort((x, y) => x - y)).to.deep.equal(Array.from({ length: 16 }, (_, i) => 16 + i));
      // A failed or expired request is requestable again; its hash stays known.
      picker.failed('a', 20);
      expect(picker.next('a', 2, { batch: 1 })).to.deep.equal([20]);
    });

    it('preempt drops the newest requests outside the windows to make room for the window chunks the peer holds', () => {
      const picker = new PiecePicker(200, { rng: () => 0 });
      picker.setAvailability('a', all(200));
      const first = picker.next('a', 0, { perPeer: 8, batch: 1 });
      expect(first).to.have.length(8);
      expect(picker.preempt('a', 8), 'no window yet').to.deep.equal([]);
      const window = [150, 151, 152].filter((c) => !first.includes(c));
      picker.setPriority([{ first: window[0]!, last: window[window.length - 1]!, critical: true }]);
      const dropped = picker.preempt('a', 8);
      expect([...dropped].sort((x, y) => x - y)).to.deep.equal(first.slice(-window.length).sort((x, y) => x - y));
      expect(picker.inFlight('a')).to.equal(8 - window.length);
      expect(picker.next('a', 1, { perPeer: 8, batch: 1 }).slice(0, window.length)).to.deep.equal(window);
    });

    it('preempt drops the less urgent requests sent before the most urgent window\'s, but the oldest two, and nothing sent after', () => {
      const picker = new PiecePicker(100, { rng: () => 0 });
      picker.setAvailability('a', all(100));
      // An older reader's window is served; its requests go out at 0 ms and 10 ms.
      picker.setPriority([{ first: 10, last: 19, critical: true }]);
      expect(picker.next('a', 0, { perPeer: 20, batch: 1 })).to.deep.equal([10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      // A seek: a new reader's window comes first; its chunks are requested at 20 ms behind the rest.
      picker.setPriority([{ first: 60, last: 61, critical: true }, { first: 10, last: 19, critical: true }]);
      for (const c of [5, 6, 7, 8]) picker.received(c, 'a');
      expect(picker.next('a', 20, { perPeer: 20, batch: 1 }).slice(0, 2)).to.deep.equal([60, 61]);
      const dropped = picker.preempt('a', 20);
      // Everything but 60, 61 was sent before them; the two oldest (10, 11) are likely on the wire.
      expect([...dropped].sort((x, y) => x - y)).to.deep.equal([0, 1, 2, 3, 4, 9, 12, 13, 14, 15, 16, 17, 18, 19]);
      expect(picker.preempt('a', 20), 'nothing more: what is asked next goes behind the window').to.deep.equal([]);
    });

    it('asks a second holder for a critical chunk late at the first, and never a third', () => {
      const picker = new PiecePicker(100, { lateMs: 400 });
      for (const p of ['a', 'b', 'c']) picker.setAvailability(p, all(100));
      picker.setPriority([{ first: 40, last: 40, critical: true }]);
      expect(picker.next('a', 0, { perPeer: 1, batch: 1 })).to.deep.equal([40]);
      expect(picker.next('b', 399, { perPeer: 1, batch: 1 }), 'not late yet: b gets another chunk').to.not.include(40);
      picker.releaseRequests('b');
      expect(picker.next('b', 400, { perPeer: 1, batch: 1 })).to.deep.equal([40]);
      picker.releaseRequests('c');
      expect(picker.next('c', 5000, { perPeer: 1, batch: 1 })).to.not.include(40);
      expect(picker.received(40, 'b')).to.deep.equal(['a']);
    });
  });
});

