/**
 * Cuts a growing input into live chunks as it arrives: a chunk goes out once `chunkSize` bytes are
 * in, or `flushMs` after its first byte came, whichever is first, so a slow channel's latency does
 * not wait for a full chunk. The end of the input flushes what is left as the last chunk (empty if
 * the input ended on a chunk boundary: viewers still learn that the broadcast ended).
 *
 * With `align` (188 for MPEG-TS) every chunk but the last is a whole number of `align`-byte packets,
 * so a viewer that joins mid-stream starts on a packet boundary; a flush keeps a partial packet for
 * the next chunk.
 */
import type { Clock, Timer } from '../../../overlay/index.js';

export class LiveCutter {
  private parts: Buffer[] = [];
  private size = 0;
  private flush: Timer | undefined;
  private ended = false;

  private readonly chunkSize: number;

  constructor(
    chunkSize: number,
    private readonly align: number,
    private readonly flushMs: number,
    private readonly clock: Clock,
    private readonly emit: (bytes: Buffer, last: boolean) => void,
  ) {
    this.chunkSize = chunkSize - (chunkSize % align);
  }

  write(data: Uint8Array): void {
    if (this.ended) return;
    let rest = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    while (rest.length > 0) {
      const take = Math.min(rest.length, this.chunkSize - this.size);
      this.parts.push(Buffer.from(rest.subarray(0, take)));
      this.size += take;
      rest = rest.subarray(take);
      if (this.size === this.chunkSize) this.cut(false);
    }
    if (this.size >= this.align) this.flush ??= this.clock.after(this.flushMs, () => this.cut(false));
  }

  /** The input ended: what is left goes out as the last chunk. */
  end(): void {
    if (this.ended) return;
    this.cut(true);
    this.ended = true;
  }

  private cut(last: boolean): void {
    this.flush?.cancel();
    this.flush = undefined;
    const all = Buffer.concat(this.parts, this.size);
    const take = last ? all.length : all.length - (all.length % this.align);
    if (take === 0 && !last) return;
    const rest = all.subarray(take);
    this.parts = rest.length > 0 ? [Buffer.from(rest)] : [];
    this.size = rest.length;
    this.emit(all.subarray(0, take), last);
  }
}
