/**
 * A birthday punch: TCP hole punching when one NAT picks a new port for every destination, so no
 * port can be announced for it. The side whose NAT keeps ports (`fixed`) connects from its one
 * announced port to many random ports of the other side's public address; the other side
 * (`spread`) connects to the announced port from as many sockets, each of which its NAT maps to a
 * new random port. When one of those ports is among the fixed side's targets, both NATs hold a
 * mapping for that pair of ports and one TCP connection opens. With n sockets a side over the
 * ~64,500 ports a NAT picks from, about n²/64,500 pairs meet: 700 a side make a miss about 1 in
 * 2,000 (Tailscale does the same for UDP with 256 ports).
 *
 * Both sides may see more than one connection open. The fixed side keeps its first, closes the
 * rest and writes one marker byte on it; the spread side keeps the connection the marker arrives
 * on. The fixed side is then the TLS server.
 */
import { randomInt } from 'node:crypto';
import net, { type Socket } from 'node:net';

/** The byte that names the connection both sides keep. */
const MARKER = 0x21;
/** Ports a NAT maps to: the unprivileged range. */
const FIRST_PORT = 1024;
const LAST_PORT = 65535;

export interface SprayTarget {
  role: 'fixed' | 'spread';
  /** The other side's public address, and for the spread side the fixed side's announced port. */
  host: string;
  port: number;
  /** The fixed side's announced port. */
  localPort?: number;
  /** Sockets to open. */
  sockets: number;
}

/** One birthday punch; resolves with the connection both sides keep, never once expire() ran. */
export class Spray {
  private readonly sockets = new Set<Socket>();
  /** A connection was kept, or the punch expired: nothing more to do. */
  private done = false;

  constructor(private readonly target: SprayTarget) {}

  open(): Promise<Socket> {
    return new Promise<Socket>((resolve) => {
      const keep = (socket: Socket) => {
        this.sockets.delete(socket);
        this.expire();
        resolve(socket);
      };
      for (let i = 0; i < this.target.sockets; i++) {
        const socket = this.target.role === 'fixed' ? net.connect({ host: this.target.host, port: randomInt(FIRST_PORT, LAST_PORT + 1), localPort: this.target.localPort }) : net.connect({ host: this.target.host, port: this.target.port });
        this.sockets.add(socket);
        socket.once('error', () => {
          socket.destroy();
          this.sockets.delete(socket);
        });
        if (this.target.role === 'fixed') {
          socket.once('connect', () => {
            if (this.done) return;
            socket.write(Buffer.of(MARKER));
            keep(socket);
          });
        } else {
          socket.once('data', (chunk: Buffer) => {
            if (this.done || chunk[0] !== MARKER) return socket.destroy();
            socket.pause();
            if (chunk.length > 1) socket.unshift(chunk.subarray(1));
            keep(socket);
          });
        }
      }
    });
  }

  /** Closes every socket still trying. */
  expire(): void {
    this.done = true;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }
}
