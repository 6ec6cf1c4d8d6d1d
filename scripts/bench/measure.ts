/** Small helpers the benchmarks share: percentiles, rounding, and a bounded pool of async tasks. */

/** Nearest-rank percentile of unsorted values (NaN for none). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const round = (x: number, digits = 3) => Number(x.toFixed(digits));

/** Runs `task(i)` for i in [0, count), at most `inFlight` at once; resolves with the wall time, ms. */
export async function pool(count: number, inFlight: number, task: (i: number) => Promise<void>): Promise<number> {
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
  return performance.now() - started;
}
