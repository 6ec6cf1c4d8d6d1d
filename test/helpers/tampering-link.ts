/**
 * A Link whose incoming messages pass through `tamper` first: wrapped around a real link on the
 * receiving side, it makes the peer at the other end look like one that sends corrupt data, with
 * no test hook in the code under test.
 */
import { EventEmitter } from 'node:events';
import type { Link } from '../../overlay/link/link.js';

export class TamperingLink extends EventEmitter implements Link {
  constructor(
    private readonly inner: Link,
    tamper: (bytes: Uint8Array) => Uint8Array,
  ) {
    super();
    inner.on('message', (bytes) => this.emit('message', tamper(bytes)));
    inner.on('close', (error) => this.emit('close', error));
  }

  get remoteNodeId() {
    return this.inner.remoteNodeId;
  }
  get remoteNodeIdHex() {
    return this.inner.remoteNodeIdHex;
  }
  get remoteUser() {
    return this.inner.remoteUser;
  }
  get remoteAddress() {
    return this.inner.remoteAddress;
  }
  get transport() {
    return this.inner.transport;
  }
  get open() {
    return this.inner.open;
  }
  get queuedMessages() {
    return this.inner.queuedMessages;
  }
  send(bytes: Uint8Array): boolean {
    return this.inner.send(bytes);
  }
  close(error?: Error): void {
    this.inner.close(error);
  }
}
