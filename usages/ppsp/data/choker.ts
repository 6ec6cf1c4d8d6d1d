/**
 * Upload slots (seed §4.3, after BitTorrent's choking algorithm; RFC 7574 §9.2 leaves reciprocity
 * to the sender): a bounded number of interested peers are unchoked; a peer that asks while every
 * slot is busy is told CHOKE ("recorded, wait for UNCHOKE") and is served later.
 *
 * Every period the caller calls `rechoke`: `slots - 1` regular slots go to the peers that gave us
 * the most recently (tit-for-tat), or, once we seed, to those we upload to fastest; the last slot is
 * an optimistic unchoke, rotated every few periods, so newcomers get a first chunk to trade with
 * and no interested peer starves.
 *
 * Pure: no timers, no I/O. Methods return the CHOKE / UNCHOKE messages to send; the caller sends them.
 */

/** Upload slots, BitTorrent's customary 4. */
export const DEFAULT_UPLOAD_SLOTS = 4;
/** Periods between optimistic-unchoke rotations: 3 × a 10 s period is BitTorrent's 30 s. */
export const DEFAULT_OPTIMISTIC_PERIODS = 3;
/** How often the caller should call `rechoke` (ms); the choker itself keeps no timer. */
export const RECHOKE_INTERVAL_MS = 10_000;

export interface ChokerOptions {
  /** Peers unchoked at once, ≥ 1; default DEFAULT_UPLOAD_SLOTS. */
  slots?: number;
  /** Rechoke periods between optimistic rotations, ≥ 1; default DEFAULT_OPTIMISTIC_PERIODS. */
  optimisticPeriods?: number;
  /** Uniform in [0, 1), picks the optimistic unchoke; default Math.random. */
  rng?: () => number;
}

/** Recent transfer rates with one peer, in bytes per second, measured by the caller. */
export interface PeerRates {
  /** What the peer uploaded to us. */
  fromPeer: number;
  /** What we uploaded to the peer. */
  toPeer: number;
}

/** What `rechoke` ranks by: rates per peer (missing = 0) and whether we have the whole content. */
export interface RechokeStats<P> {
  rates: ReadonlyMap<P, PeerRates>;
  /** A seeder receives nothing, so it ranks by its own upload rate instead. */
  seeding: boolean;
}

/** A CHOKE or UNCHOKE to send to a peer (RFC 7574 §8.12). */
export interface ChokeChange<P> {
  peer: P;
  message: 'choke' | 'unchoke';
}

/** Upload-slot policy; `P` identifies a peer. */
export class Choker<P = string> {
  readonly slots: number;
  private readonly optimisticPeriods: number;
  private readonly rng: () => number;
  /** Interested peers, with when they last held a slot (-Infinity: never), in arrival order. */
  private readonly waiting = new Map<P, number>();
  private readonly open = new Set<P>();
  private optimistic: P | undefined;
  private period = 0;
  private nowMs = 0;

  constructor(options: ChokerOptions = {}) {
    this.slots = options.slots ?? DEFAULT_UPLOAD_SLOTS;
    this.optimisticPeriods = options.optimisticPeriods ?? DEFAULT_OPTIMISTIC_PERIODS;
    this.rng = options.rng ?? Math.random;
    if (!Number.isInteger(this.slots) || this.slots < 1) throw new RangeError(`slots must be an integer ≥ 1, got ${this.slots}`);
    if (!Number.isInteger(this.optimisticPeriods) || this.optimisticPeriods < 1) throw new RangeError(`optimisticPeriods must be an integer ≥ 1, got ${this.optimisticPeriods}`);
  }

  /** Peers currently unchoked (at most `slots`). */
  unchoked(): P[] {
    return [...this.open];
  }

  isUnchoked(peer: P): boolean {
    return this.open.has(peer);
  }

  /** The current optimistic unchoke, if any. */
  get optimisticPeer(): P | undefined {
    return this.optimistic;
  }

  /**
   * `peer` wants to download from us (it sent a REQUEST or said so): UNCHOKE if a slot is free,
   * else CHOKE, which tells it the request is recorded and an UNCHOKE will follow (seed §4.3.2).
   * An already unchoked peer gets nothing new.
   */
  interested(peer: P): ChokeChange<P>[] {
    if (this.open.has(peer)) return [];
    if (!this.waiting.has(peer)) this.waiting.set(peer, -Infinity);
    if (this.open.size < this.slots) return [this.unchoke(peer)];
    return [{ peer, message: 'choke' }];
  }

  /** `peer` wants nothing more: its slot, if it had one, goes to the longest-waiting peer. */
  notInterested(peer: P): ChokeChange<P>[] {
    const had = this.open.has(peer);
    this.forget(peer);
    return had ? [{ peer, message: 'choke' }, ...this.fill()] : [];
  }

  /** `peer` left: as notInterested, with nothing sent to it. */
  peerGone(peer: P): ChokeChange<P>[] {
    const had = this.open.has(peer);
    this.forget(peer);
    return had ? this.fill() : [];
  }

  /**
   * The periodic decision at `nowMs` (call every RECHOKE_INTERVAL_MS or so): the top `slots - 1`
   * interested peers by rate keep or get a regular slot, and the optimistic slot is kept, or every
   * `optimisticPeriods` periods moved to a choked interested peer, picked at random among those
   * that held a slot longest ago (never-served first) so every interested peer gets a turn. Returns
   * the CHOKEs first, then the UNCHOKEs, so no more than `slots` peers are unchoked at any moment.
   */
  rechoke(nowMs: number, stats: RechokeStats<P>): ChokeChange<P>[] {
    this.nowMs = nowMs;
    const rotate = this.period++ % this.optimisticPeriods === 0 || this.optimistic === undefined;
    const rate = (p: P) => {
      const r = stats.rates.get(p);
      return r ? (stats.seeding ? r.toPeer : r.fromPeer) : 0;
    };
    const keepOptimistic = !rotate && this.optimistic !== undefined;
    const ranked = [...this.waiting.keys()]
      .filter((p) => !(keepOptimistic && p === this.optimistic))
      // Equal rates: the peer already unchoked stays, which avoids churn between idle peers.
      .sort((a, b) => rate(b) - rate(a) || Number(this.open.has(b)) - Number(this.open.has(a)));
    const next = new Set(ranked.slice(0, this.slots - 1));
    if (keepOptimistic) next.add(this.optimistic!);
    else {
      const previous = this.optimistic;
      this.optimistic = this.pickOptimistic((p) => !next.has(p) && p !== previous) ?? this.pickOptimistic((p) => !next.has(p));
      if (this.optimistic !== undefined) next.add(this.optimistic);
    }
    // Fewer interested peers than slots - 1 + optimistic: nobody is left to fill the rest.
    const changes: ChokeChange<P>[] = [];
    for (const p of this.open) if (!next.has(p)) changes.push({ peer: p, message: 'choke' });
    for (const c of changes) this.choke(c.peer);
    for (const p of next) if (!this.open.has(p)) changes.push(this.unchoke(p));
    return changes;
  }

  private unchoke(peer: P): ChokeChange<P> {
    this.open.add(peer);
    this.waiting.set(peer, this.nowMs);
    return { peer, message: 'unchoke' };
  }

  /** A peer's place in line for the optimistic slot counts from when it last held a slot. */
  private choke(peer: P): void {
    this.open.delete(peer);
    this.waiting.set(peer, this.nowMs);
  }

  private forget(peer: P): void {
    this.waiting.delete(peer);
    this.open.delete(peer);
    if (this.optimistic === peer) this.optimistic = undefined;
  }

  /** A freed slot goes at once to the choked peer waiting longest, not idle until the next rechoke. */
  private fill(): ChokeChange<P>[] {
    const peer = this.pickOptimistic((p) => !this.open.has(p), () => 0);
    return peer === undefined ? [] : [this.unchoke(peer)];
  }

  /** A choked interested peer passing `eligible`, random among those that held a slot longest ago. */
  private pickOptimistic(eligible: (p: P) => boolean, rng = this.rng): P | undefined {
    let oldest = Infinity;
    let pool: P[] = [];
    for (const [p, lastMs] of this.waiting) {
      if (this.open.has(p) && p !== this.optimistic) continue;
      if (!eligible(p)) continue;
      if (lastMs < oldest) [oldest, pool] = [lastMs, [p]];
      else if (lastMs === oldest) pool.push(p);
    }
    return pool.length === 0 ? undefined : pool[Math.floor(rng() * pool.length)];
  }
}
