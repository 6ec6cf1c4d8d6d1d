/**
 * Capability URLs: read access to one swarm for a player that cannot send an Authorization header
 * (a `<video src>`, a media player given a URL). The capability is HMAC-SHA256(node secret,
 * "read:" + swarmId), base64url, carried as `?cap=`. It grants GET and HEAD on `/swarms/<that id>`
 * and the paths below it, nothing else. The secret is new at each start of the node, so every
 * capability dies with the process that minted it.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Bytes of the node secret (the HMAC key). */
const SECRET_BYTES = 32;

/**
 * `/swarms/<64 lowercase hex>` optionally followed by plain path segments: no dots, no escapes, so
 * no spelling of a path outside the swarm can match.
 */
const SWARM_PATH = /^\/swarms\/([0-9a-f]{64})(?:\/[A-Za-z0-9_-]+)*$/;

/** The swarm ID a capability for `path` would have to name, or undefined if no capability reaches `path`. */
export function capabilityScope(path: string): string | undefined {
  return SWARM_PATH.exec(path)?.[1];
}

export class ReadCapabilities {
  readonly #secret = randomBytes(SECRET_BYTES);

  /** The read capability of swarm `swarmId` (64 lowercase hex digits). */
  mint(swarmId: string): string {
    return createHmac('sha256', this.#secret).update(`read:${swarmId}`).digest('base64url');
  }

  /** True if `cap` is the read capability of the swarm `path` lies under, and the method only reads. */
  grants(method: string, path: string, cap: string): boolean {
    if (method !== 'GET' && method !== 'HEAD') return false;
    const swarmId = capabilityScope(path);
    if (swarmId === undefined) return false;
    const expected = Buffer.from(this.mint(swarmId));
    const given = Buffer.from(cap);
    // Every capability has the same length, so checking it first tells an attacker nothing.
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
