/**
 * The PPSP usage's families for `GET /metrics`, computed at each render from the swarms held: one
 * label value per swarm held (its ID), so the label set is bounded by what the node holds.
 */
import type { MetricFamily } from '../../overlay/index.js';
import type { Swarm } from './data/swarm.js';

export function swarmMetricFamilies(swarms: Swarm[]): MetricFamily[] {
  const family = (name: string, type: MetricFamily['type'], help: string, value: (s: Swarm) => number): MetricFamily => ({
    name,
    type,
    help,
    samples: swarms.map((s) => ({ labels: { swarm: s.swarmId }, value: value(s) })),
  });
  return [
    family('reload_ppsp_uploaded_bytes_total', 'counter', 'Chunk bytes uploaded to peers, per swarm.', (s) => s.bytesUploaded),
    family('reload_ppsp_downloaded_bytes_total', 'counter', 'Chunk bytes downloaded from peers, per swarm.', (s) => s.bytesDownloaded),
    family('reload_ppsp_peers', 'gauge', 'Peers with an open data session, per swarm.', (s) => s.peerIds().length),
    family('reload_ppsp_chunks_verified_total', 'counter', 'New chunks verified against the swarm root and stored, per swarm.', (s) => s.stats.chunksReceived),
    family('reload_ppsp_corrupt_chunks_total', 'counter', 'Chunks that failed verification (never stored), per swarm.', (s) => s.stats.corruptCaught),
  ];
}
