/**
 * A usage (RFC 6940 §5.2) adds an application to the overlay through the node's public API only:
 * it registers its kinds, message codes and method handlers when it starts, and stops its own
 * work when the node stops. The PPSP usage (usages/ppsp/) is one.
 */
import type { Node } from '../overlay/index.js';

export interface Usage {
  /** A short name for logs, e.g. "ppsp". */
  readonly name: string;
  /** Registers kinds, codes and handlers on the node; called before node.start(). */
  attach(node: Node): void;
  /** Starts the usage's own work; called once the node has joined. */
  start(): Promise<void>;
  /** Stops it; called before the node leaves. */
  stop(): Promise<void>;
}
