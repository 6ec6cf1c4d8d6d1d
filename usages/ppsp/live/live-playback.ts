/**
 * A viewer's playback as a player would run it, kept whether or not a player is attached: it is
 * what the viewer's chunk deadlines and its figures come from (CoolStreaming's continuity index: the
 * share of chunks present by their playback deadline).
 *
 * The viewer starts `startupMs` of the channel behind the newest chunk it hears of. Playback begins
 * when that first chunk and `prebufferMs` of the channel after it are here (the start-up delay); from then on chunk i is due at
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
  /** Of the channel, what must be here from the start point on before playback begins, ms (as a player buffers before it plays). */
  prebufferMs?: number;
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
      if (!first || !this.prebuffered(msPerChunk)) return;
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
        const due = this.base + c.timestampMs - this.startTs;
        if (this.stalledSince !== undefined) {
          // The wait began at an estimate; the chunk's own timestamp says when it was really due. A
          // chunk the source cut late (its input paused) was not late here: no stall after all.
          const from = Math.max(this.stalledSince, due);
          this.stalledSince = undefined;
          if (from < c.arrivedAt) this.standStill(c.arrivedAt - from);
          else this.stalls--;
        } else if (c.arrivedAt > due) {
          // Came between two ticks, after its deadline: playback stood still until it came.
          this.stalls++;
          this.standStill(c.arrivedAt - due);
        }
        const played = this.base + c.timestampMs - this.startTs;
        if (played > now) return;
        if (c.arrivedAt <= due) this.onTime++;
        else this.late++;
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
        this.standStill(now - this.stalledSince);
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

  /** Playback stood still for `ms`: counted, and everything after is played that much later. */
  private standStill(ms: number): void {
    this.stallMs += ms;
    this.base += ms;
  }

  /** The start point and the chunks after it that cover `prebufferMs` (up to the newest) are here. */
  private prebuffered(msPerChunk: number): boolean {
    const want = Math.ceil((this.options.prebufferMs ?? 0) / Math.max(1, msPerChunk));
    const last = Math.min(this.window.newest, this.position + want);
    for (let i = this.position; i <= last; i++) if (!this.window.has(i)) return false;
    return true;
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
