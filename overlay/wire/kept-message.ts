/**
 * A message kept for a while: a request until its answer arrives (it may be sent again), an answer
 * for the duplicates of its request (RecentAnswers). Its bytes are kept as one-byte strings on the
 * V8 heap, not as the views into encoder buffers that signing returns.
 *
 * Why: a view kept for longer than a few young-generation collections moves its ArrayBuffer (8 KiB
 * of cbor-x output, shared with the messages encoded around it) to the old generation, and V8
 * counts old ArrayBuffers as external memory: every 64 MB of them that die starts a full marking of
 * the heap. With every answer kept for 15 s, a 10,000-node simulation marked its 1.3 GB heap every
 * 5 s, which took about 40 % of the main thread. A string is one object that marking does not look
 * into, and a large heap grows by a factor before it is marked again.
 */
import type { ForwardingHeader, WireMessage } from './message.js';

export interface KeptMessage {
  readonly header: ForwardingHeader;
  /** MessageContents, one char per byte. */
  readonly contents: string;
  /** SecurityBlock, one char per byte. */
  readonly security: string;
}

function toLatin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

export function keepMessage(msg: WireMessage): KeptMessage {
  return { header: msg.header, contents: toLatin1(msg.contentsBytes), security: toLatin1(msg.securityBytes) };
}

/** The message again, in buffers of its own. */
export function keptMessage(kept: KeptMessage): WireMessage {
  return { header: kept.header, contentsBytes: Buffer.from(kept.contents, 'latin1'), securityBytes: Buffer.from(kept.security, 'latin1') };
}
