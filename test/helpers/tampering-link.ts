/**
 * A Link whose incoming messages pass through `tamper` first: wrapped around a real link on the
 * receiving side, it makes the peer at the other end look like one that sends corrupt data, with
 * no test hook in the code under test.
 */
import { LinkDecorator } from '../../overlay/link/link-decorator.js';
import type { Link } from '../../overlay/link/link.js';

export class TamperingLink extends LinkDecorator {
  constructor(inner: Link, tamper: (bytes: Uint8Array) => Uint8Array) {
    super(inner);
    inner.on('message', (bytes) => this.emit('message', tamper(bytes)));
  }
}
