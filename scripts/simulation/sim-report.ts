/** What a simulation measured, summed up: hop histogram, latency CDF, success over time, maintenance load. */

export interface LookupRecord {
  /** Virtual ms since the measured phase began. */
  at: number;
  ok: boolean;
  /**
   * Why a lookup failed: another node answered than the ground truth's, or none did in time; or
   * its origin left the overlay (churn) before an answer came, which is no routing outcome at all.
   */
  failure?: 'wrong-node' | 'no-answer' | 'origin-left';
  hops?: number;
  latencyMs?: number;
}

export interface LookupSummary {
  /** Lookups with an outcome: all of them but those whose origin left first. */
  lookups: number;
  /** Lookups whose origin left the overlay before an answer came: counted apart, not in success. */
  abandoned: number;
  success: number;
  failures: { wrongNode: number; noAnswer: number };
  meanHops: number;
  /** Successful lookups by hop count. */
  hops: Record<string, number>;
  latencyMs: { p50: number; p95: number; p99: number; cdf: [number, number][] };
  /** Per minute of the measured phase: lookups and the share that succeeded. */
  perMinute: { minute: number; lookups: number; success: number }[];
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const round = (v: number, digits = 4) => Math.round(v * 10 ** digits) / 10 ** digits;

export function summarizeLookups(all: LookupRecord[]): LookupSummary {
  const records = all.filter((r) => r.failure !== 'origin-left');
  const ok = records.filter((r) => r.ok);
  const hops: Record<string, number> = {};
  for (const r of ok) hops[String(r.hops)] = (hops[String(r.hops)] ?? 0) + 1;
  const latencies = ok.map((r) => r.latencyMs!).sort((a, b) => a - b);
  const cdf: [number, number][] = [];
  for (let i = 1; i <= 20; i++) cdf.push([quantile(latencies, i / 20 - 1e-9), i / 20]);
  const minutes = new Map<number, { lookups: number; ok: number }>();
  for (const r of records) {
    const m = Math.floor(r.at / 60_000);
    const b = minutes.get(m) ?? { lookups: 0, ok: 0 };
    b.lookups++;
    if (r.ok) b.ok++;
    minutes.set(m, b);
  }
  return {
    lookups: records.length,
    abandoned: all.length - records.length,
    success: records.length ? round(ok.length / records.length) : 0,
    failures: { wrongNode: records.filter((r) => r.failure === 'wrong-node').length, noAnswer: records.filter((r) => r.failure === 'no-answer').length },
    meanHops: ok.length ? round(ok.reduce((s, r) => s + r.hops!, 0) / ok.length) : 0,
    hops,
    latencyMs: { p50: quantile(latencies, 0.5), p95: quantile(latencies, 0.95), p99: quantile(latencies, 0.99), cdf },
    perMinute: [...minutes.entries()].sort(([a], [b]) => a - b).map(([minute, b]) => ({ minute, lookups: b.lookups, success: round(b.ok / b.lookups) })),
  };
}
