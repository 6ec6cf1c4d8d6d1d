/** A SwarmRecordStore in memory, for the usage's restart tests (the node uses the SQLite one). */
import type { SwarmRecord, SwarmRecordStore } from '../../../../usages/ppsp/store/swarm-record-store.js';

export class MemoryRecordStore implements SwarmRecordStore {
  readonly records = new Map<string, SwarmRecord>();

  load(): SwarmRecord[] {
    return [...this.records.values()].map((r) => ({ ...r }));
  }

  put(record: SwarmRecord): void {
    this.records.set(record.swarmId, { ...record });
  }

  delete(swarmId: string): void {
    this.records.delete(swarmId);
  }
}
