import { EventEmitter } from 'node:events';
import { idToHex, type Id } from '../../overlay/id.js';
import type { Link } from '../../overlay/link/link.js';
import { decodeMessage } from '../../overlay/wire/codec.js';

/** A Link that records what is sent on it; enough for the forwarder, which only sends and reads ids. */
export class RecordingLink extends EventEmitter implements Link {
  readonly transport = 'fake';
  readonly remoteAddress = 'fake';
  readonly remoteUser = 'fake@test';
  readonly remoteNodeIdHex: string;
  open = true;
  queuedMessages = 0;
  sent = 0;
  constructor(
    readonly remoteNodeId: Id,
    private readonly maxMessage: number,
  ) {
    super();
    this.remoteNodeIdHex = idToHex(remoteNodeId);
  }
  send(bytes: Uint8Array): boolean {
    decodeMessage(bytes, this.maxMessage); // what we forward must itself be well-formed
    this.sent++;
    return true;
  }
  close(): void {
    this.open = false;
  }
}

