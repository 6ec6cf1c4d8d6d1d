/**
 * One Node-ID is one node. A second link that authenticates as a Node-ID which already has an
 * open link is one of three things, told apart by a Ping over each link (RFC 6940 §6.5.3), whose
 * response_id every node fills with its own random instance id:
 *
 * - the old link is dead (the node crashed and came back at once, before the old socket closed):
 *   the old one does not answer in time, and the new one replaces it;
 * - both sides dialed each other at the same moment: both answers carry the same instance id, and
 *   both links are kept (the first stays in use);
 * - another process runs the same identity: the instance ids differ, and the new link is refused
 *   with Forbidden `duplicate_node_id`, so the node that holds the place keeps it and its links.
 */
import type { Clock } from '../clock.js';
import { ErrorCode, ReloadError } from '../errors.js';
import type { Link } from '../link/link.js';
import type { Logger } from '../log.js';
import type { RoutingMetrics } from './metrics.js';

/**
 * How long a probe Ping over one link may take before the link counts as dead, ms. Short, so that
 * a node whose old socket still looks open gets back in quickly; long enough that a live node on
 * a loaded machine is not taken for dead and replaced by a second process with its identity.
 */
export const LINK_PROBE_TIMEOUT_MS = 5_000;

export type SecondLinkVerdict =
  /** The old link did not answer: close it, the new one takes over. */
  | 'replace'
  /** Both links reach the same process: keep both. */
  | 'keep'
  /** Another process with the same Node-ID: refuse the new link. */
  | 'refuse'
  /** The old link answers but the new one does not: close the new one. */
  | 'drop';

/** Pings a link's remote end and resolves with its instance id; rejects when it does not answer in time. */
export type LinkProbe = (link: Link) => Promise<Uint8Array>;

/** Probes both links at once and judges the new one. */
export async function judgeSecondLink(old: Link, fresh: Link, probe: LinkProbe): Promise<SecondLinkVerdict> {
  const [before, now] = await Promise.allSettled([probe(old), probe(fresh)]);
  if (before.status === 'rejected') return 'replace';
  if (now.status === 'rejected') return 'drop';
  return Buffer.from(before.value).equals(now.value) ? 'keep' : 'refuse';
}

/** The refusal a second process with a Node-ID already in the overlay gets. */
export function duplicateNodeId(nodeIdHex: string): ReloadError {
  return new ReloadError(ErrorCode.Forbidden, `Node-ID ${nodeIdHex} is already in the overlay (another process runs this identity?)`, 'duplicate_node_id');
}

/** What admitSecondLink needs from the node. */
export interface AdmissionHost {
  clock: Clock;
  log: Logger;
  metrics: RoutingMetrics;
  probe: LinkProbe;
  /** Answers every request arriving on `link` with `error` from now on (Forwarder.refuseLink). */
  refuseLink(link: Link, error: ReloadError): void;
  /** How long a refused link stays open to answer requests with the refusal, ms. */
  refusalGraceMs: number;
  /** False once the node is stopping: nothing left to decide. */
  running(): boolean;
}

/**
 * Judges a second link for a Node-ID and acts on the verdict. A refused link answers the
 * newcomer's requests with the refusal for `refusalGraceMs` (it retransmits every reliability
 * timer, so it learns why) and then closes.
 */
export async function admitSecondLink(old: Link, fresh: Link, host: AdmissionHost): Promise<void> {
  const verdict = await judgeSecondLink(old, fresh, host.probe);
  // Stopping, or the newcomer went away while it was probed.
  if (!fresh.open || !host.running()) return;
  const peer = `${fresh.remoteNodeIdHex} at ${fresh.remoteAddress}`;
  switch (verdict) {
    case 'replace':
      host.log.info(`link up with ${peer}, replacing one that stopped answering`);
      old.close(new ReloadError(ErrorCode.Request_Timeout, 'replaced by a new link from the same node', 'link_replaced'));
      return;
    case 'keep':
      host.log.debug(`second link with ${peer} (both sides dialed)`);
      return;
    case 'drop':
      fresh.close(new ReloadError(ErrorCode.Request_Timeout, 'a second link that does not answer', 'probe_timeout'));
      return;
    case 'refuse': {
      host.metrics.countError(ErrorCode.Forbidden, 'duplicate_node_id');
      host.log.warn(`refused a link from ${peer}: another process runs this Node-ID, which is in the overlay already`);
      host.refuseLink(fresh, duplicateNodeId(fresh.remoteNodeIdHex));
      const timer = host.clock.after(host.refusalGraceMs, () => fresh.close());
      fresh.once('close', () => timer.cancel());
    }
  }
}
