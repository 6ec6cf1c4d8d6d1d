/**
 * LEDBAT congestion control (RFC 6817 §2.4) for the PPSPP sender: a window in bytes that grows
 * while the one-way queueing delay stays under a target and shrinks as it passes it, so a transfer
 * yields to TCP and to interactive traffic on the same bottleneck. Pure arithmetic on the delay
 * samples the peer's ACKs carry (RFC 7574 §8.8); time comes from the caller.
 *
 * The one-way delay samples mix the two clocks' offset into every value; LEDBAT only ever uses
 * differences from the smallest sample seen (the base delay), so the offset cancels. The base
 * delay is the minimum of one minimum per minute over the last BASE_HISTORY minutes (§3.4.2), so a
 * route change or clock drift is forgotten within that time.
 */

/** RFC 6817 §2.5: TARGET may be at most 100 ms; it is. */
export const LEDBAT_TARGET_US = 100_000;
/** Window gain: at most 1 (§2.5), so LEDBAT never ramps up faster than TCP. */
const GAIN = 1;
/** Minutes of per-minute minima in the base delay (§2.5: 10). */
const BASE_HISTORY = 10;
/** Samples in the current-delay filter: the minimum of the last few (§3.4.2 suggests a small number). */
const CURRENT_FILTER = 4;
/** Window after start or a timeout, and the least it ever falls to on a loss, in MSS (§2.5: 2). */
const MIN_CWND = 2;
/** The window may exceed what is in flight by at most this many MSS (§2.5: ALLOWED_INCREASE = 1). */
const ALLOWED_INCREASE = 1;
const MINUTE_MS = 60_000;

export interface LedbatOptions {
  /** Bytes in a full datagram's payload. */
  mss: number;
  /** Largest window, bytes: the send buffer bound (RFC 6817 leaves it to the implementation). */
  maxCwnd: number;
  /** Target queueing delay, µs (default and most: 100 ms). */
  targetUs?: number;
}

export class Ledbat {
  /** Congestion window, bytes. */
  cwnd: number;
  /** Bytes sent and neither acknowledged nor given up as lost. */
  flight = 0;
  private readonly targetUs: number;
  /** Per-minute minima, oldest first; the last is the current minute's. */
  private readonly baseDelays: number[] = [];
  private baseMinuteAt = -Infinity;
  private readonly currentDelays: number[] = [];
  /** When the window last halved for a loss: once per round trip at most (§2.4.1). */
  private lastLossAt = -Infinity;

  constructor(private readonly options: LedbatOptions) {
    if (!(options.mss > 0) || !(options.maxCwnd >= MIN_CWND * options.mss)) throw new RangeError('LEDBAT needs mss > 0 and maxCwnd ≥ 2 mss');
    this.targetUs = Math.min(options.targetUs ?? LEDBAT_TARGET_US, LEDBAT_TARGET_US);
    this.cwnd = MIN_CWND * options.mss;
  }

  /** Bytes that may be sent now. */
  room(): number {
    return Math.max(0, Math.floor(this.cwnd - this.flight));
  }

  /** `bytes` went out. */
  sent(bytes: number): void {
    this.flight += bytes;
  }

  /** The queueing delay LEDBAT estimates now, µs (0 before any sample). */
  queueingDelayUs(): number {
    if (this.currentDelays.length === 0) return 0;
    return Math.min(...this.currentDelays) - Math.min(...this.baseDelays);
  }

  /**
   * An ACK for `bytes` with the peer's one-way delay sample `delayUs` (its receive time minus our
   * send time, each by its own clock), at local time `nowMs`.
   */
  acked(bytes: number, delayUs: number, nowMs: number): void {
    this.addSample(delayUs, nowMs);
    const offTarget = (this.targetUs - this.queueingDelayUs()) / this.targetUs;
    const before = this.cwnd;
    this.cwnd += (GAIN * offTarget * bytes * this.options.mss) / this.cwnd;
    // A window the sender does not use must not grow without bound (§2.4.1, max_allowed_cwnd). The
    // cap only stops growth: ACKs that come in a burst, before the sender refilled the window,
    // lower the flight size one by one and would otherwise cut a window the path never refused.
    this.cwnd = Math.min(this.cwnd, Math.max(before, this.flight + ALLOWED_INCREASE * this.options.mss), this.options.maxCwnd);
    this.cwnd = Math.max(this.cwnd, MIN_CWND * this.options.mss);
    this.flight = Math.max(0, this.flight - bytes);
  }

  /** `bytes` were lost (a gap in the ACKs); `rttMs` spaces the halvings to one per round trip. */
  lost(bytes: number, nowMs: number, rttMs: number): void {
    this.flight = Math.max(0, this.flight - bytes);
    if (nowMs - this.lastLossAt < rttMs) return;
    this.lastLossAt = nowMs;
    this.cwnd = Math.max(this.cwnd / 2, MIN_CWND * this.options.mss);
  }

  /** No ACK for a whole retransmission timeout: start over from one MSS of window (§2.4.1). */
  timedOut(): void {
    this.flight = 0;
    this.cwnd = this.options.mss;
  }

  private addSample(delayUs: number, nowMs: number): void {
    this.currentDelays.push(delayUs);
    if (this.currentDelays.length > CURRENT_FILTER) this.currentDelays.shift();
    if (nowMs - this.baseMinuteAt >= MINUTE_MS) {
      this.baseMinuteAt = nowMs;
      this.baseDelays.push(delayUs);
      if (this.baseDelays.length > BASE_HISTORY) this.baseDelays.shift();
    } else {
      const last = this.baseDelays.length - 1;
      this.baseDelays[last] = Math.min(this.baseDelays[last]!, delayUs);
    }
  }
}
