/**
 * What a node stores for others, as /metrics families (gauges read at each scrape): values and
 * bytes held by Kind, and the byte limit they count against (storage.maxBytes).
 */
import type { MetricFamily } from '../routing/metrics.js';
import type { KindRegistry } from './kinds.js';
import type { StorageEngine } from './storage-engine.js';

export function storageMetricFamilies(engine: StorageEngine, kinds: KindRegistry, maxBytes: number): MetricFamily[] {
  const held = [...engine.heldByKind()];
  // A Kind no longer registered (taken out of the configuration) still holds data until it expires.
  const kind = (id: number) => ({ kind: kinds.byId(id)?.name ?? `kind-${id}` });
  return [
    { name: 'reload_storage_values', type: 'gauge', help: 'Live values this node holds, by kind (tombstones and expired values not counted).', samples: held.map(([id, t]) => ({ labels: kind(id), value: t.values })) },
    { name: 'reload_storage_bytes', type: 'gauge', help: 'Bytes this node holds, by kind: values, keys and signatures, as counted against storage.maxBytes.', samples: held.map(([id, t]) => ({ labels: kind(id), value: t.bytes })) },
    { name: 'reload_storage_max_bytes', type: 'gauge', help: 'The storage.maxBytes limit of this node.', samples: [{ value: maxBytes }] },
  ];
}
