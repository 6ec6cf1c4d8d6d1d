/**
 * Counters of what a node's routing layer did, rendered in the Prometheus text format for
 * `GET /metrics`. Labels are bounded sets (message codes, error codes, fixed event names), so
 * memory stays bounded whatever peers send.
 */
import { errorName } from '../errors.js';
import { messageCodeName } from '../wire/codes.js';

export type RoutingEvent = 'frames_in' | 'frames_out' | 'delivered' | 'forwarded';

/** One metric family another part of the node reports at render time (storage, a usage). */
export interface MetricFamily {
  name: string;
  type: 'counter' | 'gauge';
  help: string;
  samples: { labels?: Record<string, string>; value: number }[];
}

function labelText(labels: Record<string, string> | undefined): string {
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) return '';
  // Prometheus label values escape backslash, quote and newline.
  const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  return `{${entries.map(([k, v]) => `${k}="${escape(v)}"`).join(',')}}`;
}

/** Added to a message code (a u16) to key the 'out' direction apart from 'in'. */
const OUT_KEY = 0x10000;

export class RoutingMetrics {
  private readonly events = new Map<RoutingEvent, number>();
  private readonly errors = new Map<string, number>();
  /** Throws inside this node that were not typed refusals, by stage: defects, not bad input. */
  private readonly faults = new Map<string, number>();
  /** By direction and code in one number (OUT_KEY + code for 'out'): counted on every message, so no string key. */
  private readonly byCode = new Map<number, number>();
  /** Connections refused or closed by the link limits, by reason (a fixed set of our own reasons). */
  private readonly linkDrops = new Map<string, number>();
  private rttCount = 0;
  private rttSumMs = 0;
  private readonly sources: (() => MetricFamily[])[] = [];

  /** Adds families computed at each render (e.g. values held by kind, bytes per swarm). */
  addSource(source: () => MetricFamily[]): void {
    this.sources.push(source);
  }

  count(event: RoutingEvent): void {
    this.events.set(event, (this.events.get(event) ?? 0) + 1);
  }

  /** An error seen or sent; `stage` says what happened to the message (dropped, refused, ...). */
  countError(code: number, stage: string): void {
    const key = `${errorName(code)}\u0000${stage}`;
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
  }

  countFault(stage: string): void {
    this.faults.set(stage, (this.faults.get(stage) ?? 0) + 1);
  }

  countLinkDrop(reason: string): void {
    this.linkDrops.set(reason, (this.linkDrops.get(reason) ?? 0) + 1);
  }

  linkDropCount(reason: string): number {
    return this.linkDrops.get(reason) ?? 0;
  }

  faultCount(): number {
    let n = 0;
    for (const v of this.faults.values()) n += v;
    return n;
  }

  /** A message handled at this node, by direction and message code. */
  countMessage(direction: 'in' | 'out', code: number): void {
    const key = direction === 'out' ? OUT_KEY + code : code;
    this.byCode.set(key, (this.byCode.get(key) ?? 0) + 1);
  }

  /** Messages with `code` this node sent (requests it made, answers it gave). */
  messagesSent(code: number): number {
    return this.byCode.get(OUT_KEY + code) ?? 0;
  }

  observeRtt(ms: number): void {
    this.rttCount++;
    this.rttSumMs += ms;
  }

  get(event: RoutingEvent): number {
    return this.events.get(event) ?? 0;
  }

  errorCount(code: number, stage?: string): number {
    let n = 0;
    for (const [key, v] of this.errors) {
      const [name, s] = key.split('\u0000');
      if (name === errorName(code) && (stage === undefined || s === stage)) n += v;
    }
    return n;
  }

  /** Prometheus text exposition; `gauges` adds point-in-time values such as the link count. */
  render(gauges: Record<string, number> = {}): string {
    const out: string[] = [];
    const family = (name: string, type: string, help: string) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    family('reload_routing_events_total', 'counter', 'Frames received and sent, messages delivered here and forwarded.');
    for (const [event, v] of this.events) out.push(`reload_routing_events_total{event="${event}"} ${v}`);
    family('reload_messages_total', 'counter', 'Messages handled at this node by direction and message code.');
    for (const [key, v] of this.byCode) {
      const direction = key >= OUT_KEY ? 'out' : 'in';
      out.push(`reload_messages_total{direction="${direction}",code="${messageCodeName(key % OUT_KEY)}"} ${v}`);
    }
    family('reload_errors_total', 'counter', 'Errors by RELOAD error code and what was done with the message.');
    for (const [key, v] of this.errors) {
      const [code, stage] = key.split('\u0000');
      out.push(`reload_errors_total{code="${code}",stage="${stage}"} ${v}`);
    }
    family('reload_internal_faults_total', 'counter', 'Throws inside this node that were not typed refusals (defects), by stage.');
    for (const [stage, v] of this.faults) out.push(`reload_internal_faults_total{stage="${stage}"} ${v}`);
    family('reload_links_dropped_total', 'counter', 'Connections refused or closed by the link limits, by reason.');
    for (const [reason, v] of this.linkDrops) out.push(`reload_links_dropped_total{reason="${reason}"} ${v}`);
    family('reload_request_rtt_ms', 'summary', 'Round-trip time of requests this node originated, ms.');
    out.push(`reload_request_rtt_ms_sum ${this.rttSumMs}`, `reload_request_rtt_ms_count ${this.rttCount}`);
    for (const [name, v] of Object.entries(gauges)) {
      family(name, 'gauge', name.replace(/_/g, ' '));
      out.push(`${name} ${v}`);
    }
    for (const source of this.sources) {
      for (const f of source()) {
        family(f.name, f.type, f.help);
        for (const sample of f.samples) out.push(`${f.name}${labelText(sample.labels)} ${sample.value}`);
      }
    }
    return out.join('\n') + '\n';
  }
}
