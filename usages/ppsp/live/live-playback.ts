/**
 * A viewer's playback as a player would run it, kept whether or not a player is attached: it is
 * what the viewer's chunk deadlines and its figures come from (CoolStreaming's continuity index: the
 * share of chunks present by their playback deadline).
 *
 * The viewer starts `startupMs` of the channel behind the newest chunk it hears of. Playback begins
 * when that first chunk is here (the start-up delay); from then on chunk i is due at
 * `base + (timestamp(i) - timestamp(start))`, i.e. at the pace the source cut the chunks. A chunk
 * missing when due stalls playback until it comes (each stall moves `base` on by its length); one
 * missing for `maxStallMs` while later chunks are here is given up (skipped); and a viewer whose lag
 * behind the source grows past `maxLagMs`, or whose position fell out of the window, jumps back to
 * the start-up distance from the newest chunk. Lag is measured with this machine's clock against
 * the source's timestamps, so across machines it assumes synchronised clocks.
 */
import type { LiveWindow } from './live-window.js';

export interface LivePlaybackOptions {
  /** How far behind the newest chunk a viewer starts, ms of the channel. */
  startupMs: number;
  /** A missing chunk is skipped after playback stalled on it this long while later ones are here. */
  maxStallMs: number;
  /** Lag behind the source past which the viewer jumps forward. */
  maxLagMs: number;
}

/** Lag samples kept for percentiles (one per played chunk). */
const LAG_SAMPLES = 2048;

export interface PlaybackFigures {
  state: 'joining' | 'playing' | 'ended';
  /** Chunks played on time / (on time + late + skipped); null before any chunk was due. */
  continuity: number | null;
  chunksOnTime: number;
  chunksLate: number;
  chunksSkipped: number;
  /** From joining to the first chunk playable, ms (null while joining). */
  startupDelayMs: number | null;
  stalls: number;
  stallMs: number;
  /** Forward jumps (fell too far behind or out of the window). */
  jumps: number;
  /** Lag behind the source of the chunk played last, and percentiles over recent chunks, ms. */
  lagMs: number | null;
  lagP50Ms: number | null;
  lagP95Ms: number | null;
  /** The next chunk to play. */
  position: number | null;
}

export class LivePlayback {
  state: 'joining' | 'playing' | 'ended' = 'joining';
  /** The next chunk to play (meaningful once playing, or once a start is chosen). */
  position = -1;
  private startIndex = -1;
  private startTs = 0;
  /** Local time chunk `startIndex` is played at, moved on by every stall. */
  private base = 0;
  private startedAt: number | undefined;
  private stalledSince: number | undefined;
  private onTime = 0;
  private late = 0;
  private skipped = 0;
  private stalls = 0;
  private stallMs = 0;
  private jumps = 0;
  private lastLag: number | undefined;
  private readonly lags: number[] = [];

  constructor(
    private readonly window: LiveWindow,
    private readonly options: LivePlaybackOptions,
    private readonly joinedAt: number,
  ) {}

  /** Where a viewer with this chunk rate starts, given the newest chunk it heard of. */
  startPoint(newest: number, chunksPerKilosecond: number): number {
    const behind = Math.ceil((this.options.startupMs * chunksPerKilosecond) / 1_000_000);
    return Math.max(newest - Math.max(1, behind), newest - this.window.windowChunks + 1, 0);
  }

  /** Chooses (or moves) the start before playback began. */
  aim(index: number): void {
    if (this.state === 'joining') this.position = index;
  }

  /**
   * When chunk `index` is due, local ms; before playback began, undefined. A chunk not here yet
   * is estimated from the newest known timestamp before it and the channel's rate.
   */
  deadline(index: number, msPerChunk: number): number | undefined {
    if (this.state !== 'playing') return undefined;
    const held = this.window.get(index);
    if (held) return this.base + held.timestampMs - this.startTs;
    const prev = this.window.get(this.position - 1) ?? this.window.get(this.position);
    const anchorIndex = prev ? prev.index : this.startIndex;
    const anchorTs = prev ? prev.timestampMs : this.startTs;
    return this.base + anchorTs - this.startTs + (index - anchorIndex) * msPerChunk;
  }

  /** Advances playback to `now`: plays what is due and here, stalls, skips or jumps. */
  tick(now: number, msPerChunk: number, startupChunks: number): void {
    if (this.state === 'ended') return;
    if (this.state === 'joining') {
      const first = this.position >= 0 ? this.window.get(this.position) : undefined;
      if (!first) return;
      this.state = 'playing';
      this.startedAt ??= now;
      this.restart(first.index, first.timestampMs, now);
    }
    for (let guard = 0; guard < this.window.windowChunks; guard++) {
      if (this.position < this.window.oldest) {
        this.jump(now, startupChunks);
        continue;
      }
      const c = this.window.get(this.position);
      if (c) {
        if (this.base + c.timestampMs - this.startTs > now) return;
        if (this.stalledSince !== undefined) {
          this.stallMs += now - this.stalledSince;
          this.base += now - this.stalledSince;
          this.stalledSince = undefined;
          this.late++;
        } else if (c.arrivedAt <= this.base + c.timestampMs - this.startTs) {
          this.onTime++;
        } else {
          this.late++;
        }
        // Played at base + (its timestamp - the start's): its lag behind the source is the rest.
        this.recordLag(this.base - this.startTs);
        this.position++;
        if (c.flags & 1) {
          this.state = 'ended';
          return;
        }
        continue;
      }
      const due = this.deadline(this.position, msPerChunk)!;
      if (due > now) return;
      if (this.stalledSince === undefined) {
        this.stalledSince = due;
        this.stalls++;
      }
      const laterHere = this.window.newest > this.position;
      if (laterHere && now - this.stalledSince >= this.options.maxStallMs) {
        // Given up: playback goes on with the next chunk, the time stalled counted.
        this.stallMs += now - this.stalledSince;
        this.base += now - this.stalledSince;
        this.stalledSince = undefined;
        this.skipped++;
        this.position++;
        continue;
      }
      if (this.lastLag !== undefined && this.lastLag + (now - due) > this.options.maxLagMs && this.window.newest - this.position > startupChunks) this.jump(now, startupChunks);
      return;
    }
  }

  figures(now: number): PlaybackFigures {
    const counted = this.onTime + this.late + this.skipped;
    const sorted = [...this.lags].sort((a, b) => a - b);
    const pct = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]! : null);
    return {
      state: this.state,
      continuity: counted ? this.onTime / counted : null,
      chunksOnTime: this.onTime,
      chunksLate: this.late,
      chunksSkipped: this.skipped,
      startupDelayMs: this.startedAt === undefined ? null : this.startedAt - this.joinedAt,
      stalls: this.stalls,
      stallMs: this.stallMs + (this.stalledSince === undefined ? 0 : Math.max(0, now - this.stalledSince)),
      jumps: this.jumps,
      lagMs: this.lastLag ?? null,
      lagP50Ms: pct(0.5),
      lagP95Ms: pct(0.95),
      position: this.position >= 0 ? this.position : null,
    };
  }

  private restart(index: number, timestampMs: number, now: number): void {
    this.startIndex = index;
    this.startTs = timestampMs;
    this.base = now;
    this.position = index;
    this.stalledSince = undefined;
  }

  /** Jumps to the start-up distance behind the newest chunk; what is skipped counts as missed. */
  private jump(now: number, startupChunks: number): void {
    const target = Math.max(this.window.oldest, this.window.newest - startupChunks);
    const landing = this.window.get(target);
    if (this.stalledSince !== undefined) {
      this.stallMs += now - this.stalledSince;
      this.stalledSince = undefined;
    }
    this.skipped += Math.max(0, target - this.position);
    this.jumps++;
    if (landing) this.restart(target, landing.timestampMs, now);
    else {
      this.position = target;
      this.state = 'joining';
    }
  }

  private recordLag(lag: number): void {
    this.lastLag = lag;
    this.lags.push(lag);
    if (this.lags.length > LAG_SAMPLES) this.lags.shift();
  }
}
