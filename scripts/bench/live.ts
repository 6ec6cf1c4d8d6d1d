/**
 * `npm run bench -- live [--viewers N] [--duration MS]`: a live channel to N viewers, in-process over
 * real TLS, twice: on clean links, and with every data-channel link delaying its messages 100 ms ±
 * 50 ms and dropping 2 % of them (FaultyLink; a harsher model than TCP's, where loss is only delay).
 * The source writes a 1 Mbit/s channel; viewers join over the first seconds. Per run: continuity
 * (min, p50), start-up delay (p50, p95), lag behind the source (p50, p95 of each viewer's lag p95),
 * stalls, the source's share of all bytes uploaded, duplicates and timeouts. The baseline in the
 * same run is what the design leans on: one RSA signature and one verification of a chunk with a
 * node key (the per-chunk signing of live-chunk.ts), and a raw TLS round trip.
 */
import { createRootCa } from '../../certs/ca.js';
import { newOverlayConfig } from '../../overlay/config.js';
import { FaultyLink } from '../../overlay/link/faulty-link.js';
import type { Link } from '../../overlay/link/link.js';
import { liveSignatureInput } from '../../usages/ppsp/live/live-chunk.js';
import type { LiveFigures } from '../../usages/ppsp/live/live-swarm.js';
import { PpspUsage } from '../../usages/ppsp/ppsp-usage.js';
import { enrollInMemory, startLocalRing } from '../local-ring.js';
import { rawTlsEcho } from './link-baseline.js';
import { percentile, round } from './measure.js';
import { createPublicKey, verify } from 'node:crypto';

const OVERLAY = 'bench-live.reload';
export const DEFAULT_LIVE_VIEWERS = 32;
export const DEFAULT_LIVE_DURATION_MS = 30_000;
/** 16 KiB every 125 ms: 1 Mbit/s, 8 chunks a second. */
const INPUT_BYTES = 16 * 1024;
const INPUT_EVERY_MS = 125;
/** Viewers join over this long after the channel starts. */
const JOIN_SPREAD_MS = 5_000;
const PROPS = { accessType: 'fixed' as const, upKbps: 10_000, downKbps: 10_000, nat: 'unknown' as const, uptimeSec: 0 };

const progress = (text: string) => process.stderr.write(`bench live: ${text}\n`);

async function runChannel(viewers: number, durationMs: number, faults: boolean) {
  const ca = await createRootCa({ overlay: OVERLAY });
  const config = newOverlayConfig(OVERLAY, ca.certPem);
  const identities = await Promise.all(Array.from({ length: viewers + 1 }, (_, i) => enrollInMemory(ca, OVERLAY, `node${i}@${OVERLAY}`)));
  const usages: PpspUsage[] = [];
  const wrapLink = faults ? (link: Link) => new FaultyLink(link, { delayMs: 100, jitterMs: 50, loss: 0.02 }) : undefined;
  const ring = await startLocalRing({
    config,
    identities,
    beforeStart: (node, i) => {
      usages[i] = new PpspUsage({ properties: PROPS, data: wrapLink ? { wrapLink } : {} });
      usages[i]!.attach(node);
    },
  });
  try {
    for (const u of usages) await u.start();
    const source = await usages[0]!.live.broadcast({ name: 'bench', mediaType: 'application/octet-stream' });
    const feed = setInterval(() => source.write(Buffer.alloc(INPUT_BYTES, 1)), INPUT_EVERY_MS);
    try {
      for (let i = 1; i <= viewers; i++) {
        await usages[i]!.live.watch(source.swarmId);
        await new Promise((r) => setTimeout(r, JOIN_SPREAD_MS / viewers));
      }
      progress(`${faults ? 'faults' : 'clean'}: ${viewers} viewers joined; ${durationMs / 1000} s of channel`);
      await new Promise((r) => setTimeout(r, durationMs));
    } finally {
      clearInterval(feed);
    }
    const figures = usages.slice(1).map((u) => u.live.get(source.swarmId)!.figures());
    return summarise(figures, source.figures());
  } finally {
    for (const u of usages) await u.stop();
    await ring.stopAll();
  }
}

function summarise(viewers: LiveFigures[], source: LiveFigures) {
  const playing = viewers.filter((f) => f.playback?.continuity !== null && f.playback !== null);
  const continuity = playing.map((f) => f.playback!.continuity!);
  const startup = playing.map((f) => f.playback!.startupDelayMs!);
  const lag = playing.map((f) => f.playback!.lagP95Ms!).filter((x) => x !== null);
  const uploaded = source.uploadedBytes + viewers.reduce((n, f) => n + f.uploadedBytes, 0);
  return {
    viewersPlaying: `${playing.length}/${viewers.length}`,
    continuity: { min: round(Math.min(...continuity), 4), p50: round(percentile(continuity, 50), 4) },
    startupDelayMs: { p50: percentile(startup, 50), p95: percentile(startup, 95) },
    lagMs: { p50: Math.round(percentile(lag, 50)), p95: Math.round(percentile(lag, 95)), of: "each viewer's lag p95" },
    stalls: { count: playing.reduce((n, f) => n + f.playback!.stalls, 0), totalMs: Math.round(playing.reduce((n, f) => n + f.playback!.stallMs, 0)) },
    sourceShareOfUpload: round(source.uploadedBytes / uploaded, 3),
    duplicates: viewers.reduce((n, f) => n + f.duplicates, 0),
    timeouts: viewers.reduce((n, f) => n + f.timeouts, 0),
  };
}

/** One chunk's signature and verification with a node key, µs each (the baseline of per-chunk signing). */
async function signingCost() {
  const ca = await createRootCa({ overlay: OVERLAY });
  const id = await enrollInMemory(ca, OVERLAY, `signer@${OVERLAY}`);
  const key = createPublicKey(id.privateKey);
  const input = liveSignatureInput('ab'.repeat(32), { index: 1, timestampMs: Date.now(), flags: 0, bytes: Buffer.alloc(INPUT_BYTES) });
  const rounds = 500;
  let t = performance.now();
  let sig = id.sign(input);
  for (let i = 1; i < rounds; i++) sig = id.sign(input);
  const signUs = ((performance.now() - t) * 1000) / rounds;
  t = performance.now();
  for (let i = 0; i < rounds; i++) verify('sha256', input, key, sig);
  const verifyUs = ((performance.now() - t) * 1000) / rounds;
  return { signUs: round(signUs, 1), verifyUs: round(verifyUs, 1), signatureBytes: sig.length, overheadOfChunk: round(sig.length / INPUT_BYTES, 4) };
}

export async function benchLive(opts: { viewers?: number; durationMs?: number } = {}): Promise<Record<string, unknown>> {
  const viewers = opts.viewers ?? DEFAULT_LIVE_VIEWERS;
  const durationMs = opts.durationMs ?? DEFAULT_LIVE_DURATION_MS;
  progress('baseline: signing and a raw TLS round trip');
  const signing = await signingCost();
  const tls = await rawTlsEcho({ messageBytes: 64, inFlight: 1, durationMs: 2000 });
  progress('clean links');
  const clean = await runChannel(viewers, durationMs, false);
  progress('links with 100 ± 50 ms delay and 2 % loss');
  const faults = await runChannel(viewers, durationMs, true);
  return {
    viewers,
    channel: { kbitPerSec: (INPUT_BYTES * 8) / INPUT_EVERY_MS, chunksPerSec: 1000 / INPUT_EVERY_MS, durationMs },
    baseline: { perChunkSigning: signing, rawTlsRoundTripMs: round(1000 / tls.roundTripsPerSec, 3) },
    clean,
    faults,
    aims: { startupDelayMs: '≤ 3000', lagP95Ms: '≤ 5000', sourceShareOfUpload: '≤ 0.20' },
  };
}
