/**
 * Malicious peers for the simulator and the tests (issue 15): a peer that drops every message it
 * should forward, requests and answers alike, while it still sends and answers its own. Built on
 * the links alone (what the simulator may replace), so the node code stays the honest one: the
 * peer joins, keeps its place in the tables and answers Pings, but swallows what passes through it.
 */
import type { Link } from '../../overlay/link/link.js';
import { LinkDecorator } from '../../overlay/link/link-decorator.js';
import type { LinkFactory } from '../../overlay/link/link-factory.js';
import { decodeMessage } from '../../overlay/wire/codec.js';

/** A frame this node forwards carries a via list of its earlier hops and itself; one it sends has only itself. */
function isForwarded(bytes: Uint8Array): boolean {
  try {
    return decodeMessage(bytes, Number.MAX_SAFE_INTEGER).header.via.length > 1;
  } catch {
    return false;
  }
}

class DroppingLink extends LinkDecorator {
  constructor(
    inner: Link,
    private readonly dropping: () => boolean,
  ) {
    super(inner);
    inner.on('message', (bytes: Uint8Array) => this.emit('message', bytes));
  }

  override send(bytes: Uint8Array): boolean {
    // Reported as sent: the peer before it cannot tell, and waits for an answer that never comes.
    if (this.dropping() && isForwarded(bytes)) return true;
    return this.inner.send(bytes);
  }
}

/** Links from `factory` that drop what they forward while `dropping()` is true. */
export function droppingLinks(factory: LinkFactory, dropping: () => boolean): LinkFactory {
  return {
    listen: (opts) => factory.listen({ ...opts, onLink: (link) => opts.onLink(new DroppingLink(link, dropping)) }),
    dial: async (opts) => new DroppingLink(await factory.dial(opts), dropping),
  };
}
