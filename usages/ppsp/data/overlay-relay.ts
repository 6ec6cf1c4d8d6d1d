/**
 * The `overlay` transport of the PPSP usage (seed §4.5): data-channel frames relayed through the
 * overlay, routed hop by hop to the peer's Node-ID, for peers with no direct path to each other
 * (no common TLS-reachable address). Each frame is one signed overlay request, so it is slower
 * than a direct channel, but it needs nothing but the overlay.
 *
 *   PpspRelayReq (0x4001) = [channel u32, seq u32, frame bytes, from_dialler bool]
 *                           (seq CLOSE_SEQ: the channel closed; channel numbers are the dialler's)
 *   PpspRelayAns (0x4002) = []
 *
 * A relay channel behaves as a Link: ordered (the receiver reorders by seq within a bounded
 * window), bounded in frames in flight, closed from either end.
 */
import { EventEmitter } from 'node:events';
import { ErrorCode, type Id, idFromHex, idToHex, invalidMessage, type Link, type Node, registerMessageCodes, ReloadError, type RequestContext } from '../../../overlay/index.js';

export const PPSP_RELAY_REQ = 0x4001;
export const PPSP_RELAY_ANS = 0x4002;
/** The seq that says "this channel is closed". */
export const CLOSE_SEQ = 0xffffffff;
/** Frames sent and not yet acknowledged per channel at most; send() refuses beyond. */
export const RELAY_WINDOW = 64;
/** Relay channels open at once per node (both directions). */
export const MAX_RELAY_CHANNELS = 256;

export interface OverlayRelayOptions {
  /** Largest frame relayed, bytes (a chunk plus its proof). */
  maxFrameBytes: number;
  /** A channel a remote node opened to us. */
  onLink(link: Link): void;
}

/** Relay channels of one node: registers the relay method and dials or accepts channels. */
export class OverlayRelay {
  private readonly channels = new Map<string, RelayLink>();
  private nextChannel = 1;

  constructor(
    private readonly node: Node,
    private readonly opts: OverlayRelayOptions,
  ) {
    registerMessageCodes({ [PPSP_RELAY_REQ]: 'ppsp.RelayReq', [PPSP_RELAY_ANS]: 'ppsp.RelayAns' });
    node.registerMethod({ code: PPSP_RELAY_REQ, handle: (body, ctx) => this.onRelay(body, ctx) });
  }

  /** Opens a relay channel to a node. */
  dial(peer: Id): Link {
    const channel = this.nextChannel++ >>> 0;
    return this.open(idToHex(peer), channel, true);
  }

  closeAll(): void {
    for (const link of [...this.channels.values()]) link.close();
  }

  private open(peerHex: string, channel: number, dialled: boolean): RelayLink {
    if (this.channels.size >= MAX_RELAY_CHANNELS) throw new ReloadError(ErrorCode.Forbidden, `${MAX_RELAY_CHANNELS} relay channels are open already`, 'too_many_channels');
    // Channel numbers are chosen by the dialler: the key includes who dialled, so both ends may use 1.
    const key = `${peerHex}:${channel}:${dialled ? 'out' : 'in'}`;
    const link = new RelayLink(this.node, peerHex, channel, this.opts.maxFrameBytes, () => this.channels.delete(key), dialled);
    this.channels.set(key, link);
    return link;
  }

  private onRelay(body: unknown, ctx: RequestContext): unknown[] {
    if (!Array.isArray(body) || body.length !== 4) throw invalidMessage('PpspRelayReq must be [channel, seq, frame, from_dialler]');
    const [channel, seq, frame, fromDialler] = body as [unknown, unknown, unknown, unknown];
    if (typeof fromDialler !== 'boolean') throw invalidMessage('relay from_dialler must be a boolean');
    if (typeof channel !== 'number' || !Number.isInteger(channel) || channel < 1 || channel > 0xffffffff) throw invalidMessage('relay channel must be a u32 above 0');
    if (typeof seq !== 'number' || !Number.isInteger(seq) || seq < 0 || seq > CLOSE_SEQ) throw invalidMessage('relay seq must be a u32');
    if (!(frame instanceof Uint8Array) || frame.length > this.opts.maxFrameBytes) throw new ReloadError(ErrorCode.Message_Too_Large, `relay frame above ${this.opts.maxFrameBytes} bytes`);
    const peerHex = ctx.signer.identity.nodeIdHex;
    // A frame from the node that dialled is for our inbound channel; one from the node we dialled
    // answers our outbound channel, which must exist.
    const key = `${peerHex}:${channel}:${fromDialler ? 'in' : 'out'}`;
    let link = this.channels.get(key);
    if (!link) {
      if (seq === CLOSE_SEQ) return [];
      if (!fromDialler) throw new ReloadError(ErrorCode.Not_Found, `no relay channel ${channel} to ${peerHex}`, 'unknown_channel');
      link = this.open(peerHex, channel, false);
      this.opts.onLink(link);
    }
    link.arrived(seq, frame);
    return [];
  }
}

/** One relay channel as a Link. */
export class RelayLink extends EventEmitter implements Link {
  readonly remoteNodeId: Id;
  readonly transport = 'overlay';
  readonly remoteUser = '';
  readonly remoteAddress: string;
  private nextSeq = 0;
  private expected = 0;
  private readonly early = new Map<number, Uint8Array>();
  private inFlight = 0;
  private isOpen = true;

  constructor(
    private readonly node: Node,
    readonly remoteNodeIdHex: string,
    private readonly channel: number,
    private readonly maxFrameBytes: number,
    private readonly onClosed: () => void,
    /** True at the end that dialled: frames to the other end then address its inbound channel. */
    readonly dialled: boolean,
  ) {
    super();
    this.remoteNodeId = idFromHex(remoteNodeIdHex);
    this.remoteAddress = `overlay:${remoteNodeIdHex}`;
  }

  get open(): boolean {
    return this.isOpen;
  }

  get queuedMessages(): number {
    return this.inFlight;
  }

  send(bytes: Uint8Array): boolean {
    if (!this.isOpen || this.inFlight >= RELAY_WINDOW) return false;
    if (bytes.length > this.maxFrameBytes) throw new ReloadError(ErrorCode.Message_Too_Large, `relay frame of ${bytes.length} bytes above ${this.maxFrameBytes}`);
    this.post(this.nextSeq++, bytes);
    return true;
  }

  close(error?: Error): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.post(CLOSE_SEQ, new Uint8Array(0));
    this.early.clear();
    this.onClosed();
    this.emit('close', error);
  }

  /** A frame from the remote end, in whatever order the overlay delivered it. */
  arrived(seq: number, frame: Uint8Array): void {
    if (!this.isOpen) return;
    if (seq === CLOSE_SEQ) {
      this.isOpen = false;
      this.onClosed();
      this.emit('close');
      return;
    }
    if (seq < this.expected || seq >= this.expected + RELAY_WINDOW * 4) return; // a duplicate, or beyond any window we allow
    this.early.set(seq, frame);
    for (let next = this.early.get(this.expected); next; next = this.early.get(this.expected)) {
      this.early.delete(this.expected++);
      this.emit('message', next);
    }
  }

  private post(seq: number, frame: Uint8Array): void {
    this.inFlight++;
    // The flag tells the remote end which of its channels (inbound or outbound) this frame is for.
    this.node.request([{ type: 'node', id: this.remoteNodeId }], PPSP_RELAY_REQ, [this.channel, seq, frame, this.dialled]).then(
      () => {
        this.inFlight--;
      },
      (e: Error) => {
        this.inFlight--;
        if (this.isOpen && seq !== CLOSE_SEQ) this.close(e);
      },
    );
  }
}
