/**
 * The PPSP usage's families for `GET /metrics`, computed at each render from the swarms held: one
 * label value per swarm held (its ID), so the label set is bounded by what the node holds; and the
 * node's own rate limits, with no label.
 */
import type { MetricFamily } from '../../overlay/index.js';
import type { Swarm } from './data/swarm.js';

export function swarmMetricFamilies(swarms: Swarm[], nodeLimits: { uploadLimit: number; downloadLimit: number }): MetricFamily[] {
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
    family('reload_ppsp_upload_limit_bytes_per_second', 'gauge', "The swarm's own upload rate limit, bytes/s (0: none; the node's applies as well).", (s) => s.limits.uploadLimit),
    family('reload_ppsp_download_limit_bytes_per_second', 'gauge', "The swarm's own download rate limit, bytes/s (0: none; the node's applies as well).", (s) => s.limits.downloadLimit),
    family('reload_ppsp_upload_throttled_seconds_total', 'counter', 'Waits for the upload rate limits (swarm and node) as scheduled, summed over sessions, per swarm.', (s) => s.stats.uploadThrottledMs / 1000),
    family('reload_ppsp_download_throttled_seconds_total', 'counter', 'Waits of the request pump for the download rate limits (swarm and node) as scheduled, per swarm.', (s) => s.stats.downloadThrottledMs / 1000),
    { name: 'reload_ppsp_node_upload_limit_bytes_per_second', type: 'gauge', help: "The node's upload rate limit over all swarms, bytes/s (0: none).", samples: [{ labels: {}, value: nodeLimits.uploadLimit }] },
    { name: 'reload_ppsp_node_download_limit_bytes_per_second', type: 'gauge', help: "The node's download rate limit over all swarms, bytes/s (0: none).", samples: [{ labels: {}, value: nodeLimits.downloadLimit }] },
  ];
}
