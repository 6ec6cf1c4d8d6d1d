/**
 * A peer answers an Attach or AppAttach with its candidate addresses; the first one that links wins.
 */
import type { Link } from './link.js';

/**
 * Dials `candidates` in the order the peer gave them and resolves with the first link that comes
 * up; rejects with the last failure, or with `none()` when there was no candidate to try (built
 * only then: an error's stack trace is not free on a path every Attach takes).
 */
export async function dialFirst<C>(candidates: Iterable<C>, dial: (candidate: C) => Promise<Link>, none: () => Error): Promise<Link> {
  let last: Error | undefined;
  for (const c of candidates) {
    try {
      return await dial(c);
    } catch (e) {
      last = e as Error;
    }
  }
  throw last ?? none();
}
