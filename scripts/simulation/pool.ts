/**
 * Work over many items with a bounded number in flight, the next one starting as soon as any one
 * ends. The simulator joins, stores and fetches this way rather than in rounds: a round lasts as
 * long as its slowest member, and every node up meanwhile runs its maintenance for nothing.
 */

/**
 * Runs `work` on every item, at most `limit` at once (at least one). Resolves with the results in
 * item order once all have ended; `work` should not reject (a rejection ends the pool with it).
 */
export function pooled<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  if (items.length === 0) return Promise.resolve(results);
  return new Promise<R[]>((resolve, reject) => {
    let next = 0;
    let running = 0;
    let done = 0;
    const pump = () => {
      while (next < items.length && running < Math.max(1, limit)) {
        const index = next++;
        running++;
        work(items[index]!, index).then((result) => {
          results[index] = result;
          running--;
          if (++done === items.length) resolve(results);
          else pump();
        }, reject);
      }
    };
    pump();
  });
}
