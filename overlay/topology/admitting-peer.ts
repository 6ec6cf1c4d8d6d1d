/**
 * The first step of a join for every plugin (RFC 6940 §10.5 step 2, §11.5): an Attach through a
 * bootstrap node to the point of the id space that only the joining node's future neighbour owns
 * (Chord: self+1, the successor-to-be; Kademlia: self, the XOR-closest peer).
 */
import { ErrorCode, ReloadError } from '../errors.js';
import { idToHex, type Id } from '../id.js';
import type { TopologyHost } from './topology.js';

/** Rounds over the bootstrap nodes when looking for the admitting peer. */
export const JOIN_ROUNDS = 3;

/**
 * Attach to `target` through each bootstrap node in turn until one answers. While other nodes join
 * at the same moment a lookup can fail on tables still settling, so the bootstrap nodes are tried
 * for JOIN_ROUNDS rounds, a reliability timer apart. Resolves with the admitting peer.
 */
export async function findAdmittingPeer(host: TopologyHost, target: Id, boots: Id[], signal?: AbortSignal): Promise<Id> {
  let last: unknown;
  for (let round = 0; round < JOIN_ROUNDS; round++) {
    if (round > 0) await new Promise<void>((resolve) => host.clock.after(host.config.reliabilityTimerMs, resolve));
    for (const boot of boots) {
      signal?.throwIfAborted();
      try {
        const link = await host.attach({ type: 'resource', id: target }, boot);
        host.log.info(`admitting peer is ${link.remoteNodeIdHex} (through bootstrap ${idToHex(boot)})`);
        return link.remoteNodeId;
      } catch (e) {
        // Another process holds this Node-ID: no other bootstrap node or round changes that.
        if (e instanceof ReloadError && e.reason === 'duplicate_node_id') throw e;
        last = e;
        host.log.warn(`bootstrap ${idToHex(boot)} could not reach an admitting peer: ${(e as Error).message}`);
      }
    }
  }
  throw last instanceof ReloadError ? last : new ReloadError(ErrorCode.Not_Found, `no admitting peer reachable: ${(last as Error)?.message}`, 'no_admitting_peer');
}
