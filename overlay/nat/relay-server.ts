/**
 * A relay for nodes nobody can dial and no punch reaches (both behind NATs that change ports),
 * after Circuit Relay v2: a node reserves a place here over its overlay link; a peer that wants a
 * link to it connects to the relay's port and asks for it (relay-line.ts); the relay tells the
 * reserved node over the overlay, which connects too, and the relay splices the two connections.
 * Bounded in reservations, circuits, and each circuit's bytes and lifetime; a reservation ends
 * with the link it was made over.
 */
import { randomBytes } from 'node:crypto';
import net, { type Socket } from 'node:net';
import type { Clock, Timer } from '../clock.js';
import { ErrorCode, ReloadError } from '../errors.js';
import { isHexId } from '../id.js';
import type { Link } from '../link/link.js';
import type { Logger } from '../log.js';
import { readLine } from './relay-line.js';

export interface RelayLimits {
  /** Nodes holding a reservation at once. */
  relayReservations: number;
  /** Circuits spliced (or waiting for the reserved side) at once. */
  relayCircuits: number;
  /** Bytes one circuit carries, both ways together, before it is closed. */
  relayCircuitBytes: number;
  /** A circuit is closed this long after it opened, ms. */
  relayCircuitMs: number;
  /** The reserved side must connect, and each handshake line arrive, within this, ms. */
  traversalTimeoutMs: number;
}

export interface RelayServerOptions {
  host: string;
  /** 0: a free port. */
  port: number;
  clock: Clock;
  log: Logger;
  limits: RelayLimits;
  /** Tells the reserved node over its link to connect for `circuit`, asked by `source` (for an application's channel: `app`). */
  notify(link: Link, circuit: string, source: string, app: number | undefined): Promise<void>;
}

interface PendingCircuit {
  timer: Timer;
  resolve(accepter: Socket): void;
}

export class RelayServer {
  private server: net.Server | undefined;
  private readonly reservations = new Map<string, Link>();
  private readonly pending = new Map<string, PendingCircuit>();
  private readonly sockets = new Set<Socket>();
  private circuits = 0;
  /** Bytes spliced over all circuits, for the metrics and tests. */
  bytesRelayed = 0;

  constructor(private readonly opts: RelayServerOptions) {}

  get port(): number | undefined {
    return (this.server?.address() as net.AddressInfo | null)?.port;
  }

  async listen(): Promise<void> {
    const server = net.createServer((socket) => void this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    server.on('error', (e) => this.opts.log.warn(`relay: ${e.message}`));
    this.server = server;
  }

  /** A node reserves over `link`; refused when the relay holds relayReservations already. */
  reserve(link: Link): void {
    const key = link.remoteNodeIdHex;
    if (!this.reservations.has(key) && this.reservations.size >= this.opts.limits.relayReservations) {
      throw new ReloadError(ErrorCode.Forbidden, `this relay holds ${this.reservations.size} reservations (its limit)`, 'relay_full');
    }
    this.reservations.set(key, link);
    link.once('close', () => {
      if (this.reservations.get(key) === link) this.reservations.delete(key);
    });
  }

  async close(): Promise<void> {
    for (const p of this.pending.values()) p.timer.cancel();
    this.pending.clear();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }

  private async accept(socket: Socket): Promise<void> {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const refuse = (reason: string) => {
      socket.end(`ERR ${reason}\n`);
      this.opts.clock.after(this.opts.limits.traversalTimeoutMs, () => socket.destroy());
    };
    let line: string;
    try {
      line = await readLine(socket, this.opts.clock, this.opts.limits.traversalTimeoutMs);
    } catch {
      socket.destroy();
      return;
    }
    const [verb, a, b, appText] = line.split(' ');
    if (verb === 'ACCEPT' && a !== undefined && /^[0-9a-f]{16}$/.test(a)) {
      const waiting = this.pending.get(a);
      if (!waiting) return refuse('unknown_circuit');
      this.pending.delete(a);
      waiting.timer.cancel();
      return waiting.resolve(socket);
    }
    const app = appText === undefined ? undefined : Number(appText);
    if (verb !== 'CONNECT' || a === undefined || b === undefined || !isHexId(a) || !isHexId(b) || (app !== undefined && !(Number.isInteger(app) && app >= 0 && app <= 0xffff))) return refuse('bad_request');
    const target = this.reservations.get(a.toLowerCase());
    if (!target?.open) return refuse('not_reserved');
    if (this.circuits >= this.opts.limits.relayCircuits) return refuse('busy');
    this.circuits++;
    const circuit = randomBytes(8).toString('hex');
    const accepted = new Promise<Socket | undefined>((resolve) => {
      const timer = this.opts.clock.after(this.opts.limits.traversalTimeoutMs, () => {
        this.pending.delete(circuit);
        resolve(undefined);
      });
      this.pending.set(circuit, { timer, resolve });
    });
    this.opts.notify(target, circuit, b.toLowerCase(), app).catch((e: Error) => this.opts.log.debug(`relay: could not tell ${a} of circuit ${circuit}: ${e.message}`));
    const accepter = await accepted;
    if (!accepter || socket.destroyed) {
      this.circuits--;
      accepter?.destroy();
      return refuse('no_answer');
    }
    this.splice(socket, accepter);
  }

  /** Both sides get OK, then each other's bytes, until either closes or a limit is reached. */
  private splice(asker: Socket, accepter: Socket): void {
    const { relayCircuitBytes, relayCircuitMs } = this.opts.limits;
    let carried = 0;
    const end = () => {
      timer.cancel();
      asker.destroy();
      accepter.destroy();
    };
    const timer = this.opts.clock.after(relayCircuitMs, end);
    let ended = false;
    const closed = () => {
      if (ended) return;
      ended = true;
      this.circuits--;
      end();
    };
    asker.once('close', closed);
    accepter.once('close', closed);
    // Before any spliced byte: neither side sends before its OK, so nothing can pass them.
    asker.write('OK\n');
    accepter.write('OK\n');
    for (const [from, to] of [
      [asker, accepter],
      [accepter, asker],
    ] as const) {
      from.on('data', (chunk: Buffer) => {
        carried += chunk.length;
        this.bytesRelayed += chunk.length;
        if (carried > relayCircuitBytes) return closed();
        if (!to.write(chunk)) from.pause();
      });
      to.on('drain', () => from.resume());
      from.resume();
    }
  }
}
