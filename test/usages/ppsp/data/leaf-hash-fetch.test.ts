/**
 * LeafHashFetch on its own: which aligned ranges of leaf hashes it asks, of whom, and in what
 * order; what it does with late, lying and unasked answers. Peers are stand-ins that record what
 * they are sent and answer from a seeder's LeafHashes with real proofs; time is a VirtualClock.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { ErrorCode, ReloadError } from '../../../../overlay/errors.js';
import { VirtualClock } from '../../../../overlay/clock.js';
import { LeafHashes } from '../../../../usages/ppsp/content/leaf-hashes.js';
import { HASH_BYTES, rootOfLeafHashes } from '../../../../usages/ppsp/content/merkle.js';
import { swarmMetadataOf, type SwarmMetadata } from '../../../../usages/ppsp/content/swarm-id.js';
import type { PpspDataMessage } from '../../../../usages/ppsp/data/data-messages.js';
import {
  BACKGROUND_HASH_SPAN,
  LeafHashFetch,
  MAX_HASH_REQUESTS_IN_FLIGHT,
  type ChunkSpan,
} from '../../../../usages/ppsp/data/leaf-hash-fetch.js';
import type { PeerSession } from '../../../../usages/ppsp/data/peer-session.js';
import { expectReloadError } from '../../../helpers/expect-reload-error.js';

const TIMEOUT_MS = 2000;
const CHUNK_SIZE = 1024;

/** A stand-in for a PeerSession: what LeafHashFetch reads of one and what it calls. */
class FakePeer {
  ready = true;
  readonly asked: ChunkSpan[] = [];
  failedWith: ReloadError | undefined;
  /** Called when the peer fails, as the swarm's detach would (LeafHashFetch.gone). */
  onGone: (peer: FakePeer) => void = () => {};
  constructor(
    readonly name: string,
    complete = true,
  ) {
    this.remote = { isComplete: complete };
  }
  readonly remote: { isComplete: boolean };
  send(m: PpspDataMessage): void {
    if (m.type !== 'hashesRequest') throw new Error(`unexpected ${m.type}`);
    this.asked.push({ first: m.first, last: m.last });
  }
  fail(e: unknown): void {
    if (!this.ready) return;
    this.ready = false;
    this.failedWith = e as ReloadError;
    this.onGone(this);
  }
  get session(): PeerSession {
    return this as unknown as PeerSession;
  }
}

function swarmOf(chunkCount: number): { metadata: SwarmMetadata; seeder: LeafHashes } {
  const packed = randomBytes(chunkCount * HASH_BYTES);
  const metadata = swarmMetadataOf(rootOfLeafHashes(packed), Math.max(0, chunkCount * CHUNK_SIZE - 100), CHUNK_SIZE);
  return { metadata, seeder: LeafHashes.verified(metadata, packed) };
}

/** A fetch over `peers`, recording its events; a failed peer leaves as the swarm would make it. */
function fetchOf(chunkCount: number, peers: FakePeer[]) {
  const { metadata, seeder } = swarmOf(chunkCount);
  const clock = new VirtualClock();
  const known: ChunkSpan[] = [];
  const lied: { peer: string; why: unknown }[] = [];
  let complete: LeafHashes | undefined;
  const fetch = new LeafHashFetch(metadata, { timeoutMs: TIMEOUT_MS }, clock, {
    known: (first, last) => known.push({ first, last }),
    complete: (leaves) => (complete = leaves),
    lied: (session, why) => {
      lied.push({ peer: (session as unknown as FakePeer).name, why });
      session.fail(why);
    },
  });
  const sessions = () => peers.filter((p) => p.ready).map((p) => p.session);
  for (const p of peers) p.onGone = (gone) => fetch.gone(gone.session, sessions());
  /** `peer` answers its oldest unanswered request truthfully, or with `tamper` applied. */
  const answer = (peer: FakePeer, tamper?: (hashes: Buffer, uncles: Buffer) => void) => {
    const { first, last } = peer.asked.shift()!;
    const hashes = Buffer.from(seeder.slice(first, last));
    const uncles = Buffer.from(seeder.uncles(first, last));
    tamper?.(hashes, uncles);
    fetch.onHashes(peer.session, first, hashes, uncles, sessions());
    return { first, last };
  };
  return { fetch, clock, seeder, known, lied, sessions, answer, complete: () => complete };
}

const span = (first: number, last: number): ChunkSpan => ({ first, last });

describe('LeafHashFetch', () => {
  it('asks the urgent ranges first in small subtrees, then the rest from the lowest chunk up in growing subtrees, each leaf once', () => {
    const count = 20_000;
    const [a, b] = [new FakePeer('a'), new FakePeer('b')];
    const f = fetchOf(count, [a, b]);
    // The first and last chunks, as a player's edges ask them.
    f.fetch.urgent([span(0, 1), span(count - 2, count - 1)]);
    f.fetch.ask(f.sessions());
    // Two urgent ranges of 256 (the last one clamped to the content), one background range at a time, spread over both peers.
    expect(a.asked).to.deep.equal([span(0, 255), span(256, 511)]);
    expect(b.asked).to.deep.equal([span(19_968, count - 1)]);
    // Answered in order, the background ranges grow as aligned subtrees up to BACKGROUND_HASH_SPAN.
    const background: ChunkSpan[] = [];
    for (;;) {
      const peer = [a, b].find((p) => p.asked.length > 0);
      if (!peer) break;
      const r = f.answer(peer);
      if (r.first !== 0 && r.first !== 19_968) background.push(r);
      expect(a.asked.length + b.asked.length, 'requests in flight').to.be.at.most(MAX_HASH_REQUESTS_IN_FLIGHT);
    }
    expect(background.slice(0, 6)).to.deep.equal([span(256, 511), span(512, 1023), span(1024, 2047), span(2048, 4095), span(4096, 8191), span(8192, 12_287)]);
    expect(Math.max(...background.map((r) => r.last - r.first + 1))).to.equal(BACKGROUND_HASH_SPAN);
    // Each leaf hash was fetched exactly once, and the list is whole.
    expect(f.fetch.received).to.equal(count);
    expect(f.known.reduce((n, r) => n + r.last - r.first + 1, 0)).to.equal(count);
    expect(Buffer.from(f.complete()!.packed).equals(Buffer.from(f.seeder.packed))).to.equal(true);
    expect(f.lied).to.deep.equal([]);
  });

  it('a player window that crosses several ranges gets them all, ahead of the background, within the in-flight bound', () => {
    const [a] = [new FakePeer('a')];
    const f = fetchOf(20_000, [a]);
    f.fetch.ask(f.sessions());
    expect(a.asked).to.deep.equal([span(0, BACKGROUND_HASH_SPAN - 1)]);
    // A read-ahead window of 600 chunks from 10,000: ranges 9,984, 10,240 and 10,496 (not just its two ends).
    f.fetch.urgent([span(10_000, 10_599), span(0, 1)]);
    f.fetch.ask(f.sessions());
    expect(a.asked.slice(1)).to.deep.equal([span(9984, 10_239), span(10_240, 10_495), span(10_496, 10_751)]);
    expect(a.asked).to.have.length(MAX_HASH_REQUESTS_IN_FLIGHT);
    // Known chunks are not urgent again: with the window's ranges answered, only the background is asked.
    for (let i = 0; i < 4; i++) f.answer(a);
    expect(a.asked).to.deep.equal([span(BACKGROUND_HASH_SPAN, 2 * BACKGROUND_HASH_SPAN - 1)]);
    f.fetch.urgent([span(0, 300), span(10_000, 10_599)]);
    f.fetch.ask(f.sessions());
    expect(a.asked).to.deep.equal([span(BACKGROUND_HASH_SPAN, 2 * BACKGROUND_HASH_SPAN - 1)]);
  });

  it('asks a peer without every chunk only when no complete peer is there', () => {
    const partial = new FakePeer('partial', false);
    const full = new FakePeer('full');
    const f = fetchOf(100, [partial, full]);
    f.fetch.ask(f.sessions());
    expect(partial.asked).to.deep.equal([]);
    expect(full.asked).to.deep.equal([span(0, 99)]);
    const g = fetchOf(100, [partial]);
    g.fetch.ask(g.sessions());
    expect(partial.asked).to.deep.equal([span(0, 99)]);
  });

  it('drops a peer that does not answer within the timeout and asks its ranges of another, urgent ones first', () => {
    const [slow, other] = [new FakePeer('slow'), new FakePeer('other')];
    // `other` is not connected at first, so every range goes to `slow`.
    other.ready = false;
    const f = fetchOf(5000, [slow, other]);
    f.fetch.urgent([span(3000, 3001)]);
    f.fetch.ask(f.sessions());
    // The background range is the largest subtree from chunk 0 that does not hold the urgent one.
    expect(slow.asked).to.deep.equal([span(2816, 3071), span(0, 2047)]);
    other.ready = true;
    f.clock.advance(TIMEOUT_MS - 1);
    f.fetch.tick(f.clock.now());
    expect(slow.failedWith).to.equal(undefined);
    f.clock.advance(1);
    f.fetch.tick(f.clock.now());
    expect(slow.failedWith?.code).to.equal(ErrorCode.Request_Timeout);
    expect(slow.failedWith?.reason).to.equal('hashes_timeout');
    expect(other.asked).to.deep.equal([span(2816, 3071), span(0, 2047)]);
    // A late answer from the dropped peer is not taken.
    expect(() => f.answer(slow)).to.throw(ReloadError, /not asked/);
    while (other.asked.length > 0) f.answer(other);
    expect(f.complete(), 'the list completes from the other peer').to.not.equal(undefined);
  });

  it('a range whose hash or uncle has one flipped bit is a lie: the peer goes, the range is asked of another', () => {
    for (const flip of ['hash', 'uncle'] as const) {
      const [liar, honest] = [new FakePeer('liar'), new FakePeer('honest')];
      honest.ready = false;
      const f = fetchOf(1000, [liar, honest]);
      f.fetch.urgent([span(600, 601)]);
      f.fetch.ask(f.sessions());
      expect(liar.asked[0]).to.deep.equal(span(512, 767));
      honest.ready = true;
      f.answer(liar, (hashes, uncles) => {
        if (flip === 'hash') hashes[40]! ^= 0x10;
        else uncles[uncles.length - 1]! ^= 0x01;
      });
      expect(f.lied.map((l) => l.peer), flip).to.deep.equal(['liar']);
      expect((f.lied[0]!.why as ReloadError).reason).to.equal('bad_hashes');
      expect(f.known, 'nothing taken from the liar').to.deep.equal([]);
      expect(f.fetch.partial.has(600)).to.equal(false);
      expect(honest.asked[0], 'the urgent range again, first').to.deep.equal(span(512, 767));
      f.answer(honest);
      expect(f.known).to.deep.equal([span(512, 767)]);
    }
  });

  it('refuses hashes that were not asked, or not as asked, with unexpected_hashes', () => {
    const [a, b] = [new FakePeer('a'), new FakePeer('b')];
    const f = fetchOf(1000, [a, b]);
    f.fetch.ask(f.sessions());
    const proof = (first: number, last: number) => [f.seeder.slice(first, last), f.seeder.uncles(first, last)] as const;
    expect(a.asked).to.deep.equal([span(0, 999)]);
    // The right range from the wrong peer, a subrange, and a range never asked.
    expectReloadError(() => f.fetch.onHashes(b.session, 0, ...proof(0, 999), f.sessions()), ErrorCode.Invalid_Message, { reason: 'unexpected_hashes' });
    expectReloadError(() => f.fetch.onHashes(a.session, 0, ...proof(0, 511), f.sessions()), ErrorCode.Invalid_Message, { reason: 'unexpected_hashes' });
    expectReloadError(() => f.fetch.onHashes(a.session, 512, ...proof(512, 767), f.sessions()), ErrorCode.Invalid_Message, { reason: 'unexpected_hashes' });
    expect(f.known).to.deep.equal([]);
    f.answer(a);
    expect(f.complete()).to.not.equal(undefined);
  });

  it('a swarm of no chunks is complete at once; one of a single chunk takes one range with no uncles', () => {
    const none = fetchOf(0, [new FakePeer('a')]);
    none.fetch.ask(none.sessions());
    expect(none.complete()?.packed.length).to.equal(0);
    const a = new FakePeer('a');
    const one = fetchOf(1, [a]);
    one.fetch.urgent([span(0, 0)]);
    one.fetch.ask(one.sessions());
    expect(a.asked).to.deep.equal([span(0, 0)]);
    expect(one.seeder.uncles(0, 0).length).to.equal(0);
    one.answer(a);
    expect(one.complete()).to.not.equal(undefined);
  });
});
