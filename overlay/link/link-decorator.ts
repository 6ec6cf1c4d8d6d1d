/**
 * A Link that passes everything to an inner link: the base of links that change what goes through
 * (delay, loss, tampering in tests) without touching the real one.
 */
import { EventEmitter } from 'node:events';
import type { Link } from './link.js';

export abstract class LinkDecorator extends EventEmitter implements Link {
  constructor(protected readonly inner: Link) {
    super();
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
  get localAddress() {
    return this.inner.localAddress;
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
