/**
 * The live channels' families for `GET /metrics`: one label value per channel held, as for files
 * (ppsp-metrics.ts). Playback figures are a viewer's; the source has none.
 */
import type { MetricFamily } from '../../../overlay/index.js';
import type { LiveFigures, LiveSwarm } from './live-swarm.js';

export function liveMetricFamilies(swarms: LiveSwarm[]): MetricFamily[] {
  const figures = swarms.map((s) => s.figures());
  const family = (name: string, type: MetricFamily['type'], help: string, value: (f: LiveFigures) => number | null | undefined): MetricFamily => ({
    name,
    type,
    help,
    samples: figures.flatMap((f) => {
      const v = value(f);
      return v === null || v === undefined ? [] : [{ labels: { swarm: f.swarmId }, value: v }];
    }),
  });
  return [
    family('reload_ppsp_live_continuity_ratio', 'gauge', 'Share of chunks played by their deadline (continuity index), per watched channel.', (f) => f.playback?.continuity),
    family('reload_ppsp_live_startup_delay_seconds', 'gauge', 'From joining to the first chunk playable, per watched channel.', (f) => (f.playback?.startupDelayMs == null ? null : f.playback.startupDelayMs / 1000)),
    family('reload_ppsp_live_stalls_total', 'counter', 'Playback stalls (a chunk missing at its deadline), per watched channel.', (f) => f.playback?.stalls),
    family('reload_ppsp_live_stall_seconds_total', 'counter', 'Time playback stood still, per watched channel.', (f) => (f.playback ? f.playback.stallMs / 1000 : null)),
    family('reload_ppsp_live_lag_seconds', 'gauge', 'Lag behind the source of the chunk played last, per watched channel.', (f) => (f.playback?.lagMs == null ? null : f.playback.lagMs / 1000)),
    family('reload_ppsp_live_bytes_from_source_total', 'counter', 'Chunk bytes got from the source, per watched channel.', (f) => (f.role === 'live-viewer' ? f.bytesFromSource : null)),
    family('reload_ppsp_live_bytes_from_peers_total', 'counter', 'Chunk bytes got from other viewers, per watched channel.', (f) => (f.role === 'live-viewer' ? f.bytesFromPeers : null)),
    family('reload_ppsp_live_uploaded_bytes_total', 'counter', 'Chunk bytes uploaded to peers, per channel.', (f) => f.uploadedBytes),
    family('reload_ppsp_live_refused_chunks_total', 'counter', 'Chunks refused for a bad signature, per channel.', (f) => f.refused),
  ];
}
