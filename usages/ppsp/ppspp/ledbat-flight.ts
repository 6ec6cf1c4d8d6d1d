/**
 * A PPSPP sender's chunks in flight under LEDBAT (RFC 6817): what was sent when, the smoothed round
 * trip from the ACKs, and losses by retransmission timeout or by the peer asking again. There is no
 * retransmission here: a lost chunk is the receiver's to ask for again (RFC 7574 §3.7 leaves it to
 * the requester, as libswift does).
 */
import { Ledbat, type LedbatOptions } from './ledbat.js';

/** Least retransmission timeout, ms: below it a loopback peer's scheduling jitter reads as loss. */
const MIN_RTO_MS = 250;

export class LedbatFlight {
  readonly ledbat: Ledbat;
  private readonly inFlight = new Map<number, { sentAt: number; bytes: number }>();
  private srttMs: number | undefined;

  constructor(options: LedbatOptions) {
    this.ledbat = new Ledbat(options);
  }

  /** Bytes LEDBAT lets out now. */
  room(): number {
    return this.ledbat.room();
  }

  get size(): number {
    return this.inFlight.size;
  }

  /** Chunk `index` left in a datagram of `bytes` at `now` (ms). */
  sent(index: number, bytes: number, now: number): void {
    this.ledbat.sent(bytes);
    this.inFlight.set(index, { sentAt: now, bytes });
  }

  /** An ACK for chunk `index` with the peer's one-way delay sample; false if it was not in flight. */
  acked(index: number, delayUs: number, now: number): boolean {
    const sent = this.inFlight.get(index);
    if (!sent) return false;
    this.inFlight.delete(index);
    const rtt = now - sent.sentAt;
    this.srttMs = this.srttMs === undefined ? rtt : 0.875 * this.srttMs + 0.125 * rtt;
    this.ledbat.acked(sent.bytes, delayUs, now);
    return true;
  }

  /** Chunk `index` is taken for lost (asked for again while in flight); false if it was not in flight. */
  lose(index: number, now: number): boolean {
    const sent = this.inFlight.get(index);
    if (!sent) return false;
    this.inFlight.delete(index);
    this.ledbat.lost(sent.bytes, now, this.srttMs ?? MIN_RTO_MS);
    return true;
  }

  /** Counts as lost every chunk unacknowledged for a retransmission timeout; returns how many. */
  expire(now: number): number {
    const rto = Math.max(MIN_RTO_MS, 3 * (this.srttMs ?? MIN_RTO_MS));
    let lost = 0;
    for (const [index, sent] of this.inFlight) if (now - sent.sentAt >= rto && this.lose(index, now)) lost++;
    return lost;
  }
}
