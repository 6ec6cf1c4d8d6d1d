/**
 * The relay's handshake (relay-server.ts): one line each way before a circuit's bytes flow.
 *
 *   to the relay:   "CONNECT <target Node-ID hex> <source Node-ID hex> [<application>]\n"   (the side that asks)
 *                   "ACCEPT <circuit id hex>\n"                              (the reserved side)
 *   from the relay: "OK\n", then the other end's bytes; or "ERR <reason>\n" and the close.
 *
 * TLS runs end to end over the spliced connection, so the relay sees only ciphertext and cannot
 * pose as either end.
 */
import net, { type Socket } from 'node:net';
import type { BootstrapNode } from '../config.js';
import type { Clock } from '../clock.js';
import { ErrorCode, ReloadError } from '../errors.js';

/** Longest handshake line accepted. */
export const MAX_RELAY_LINE = 128;

/**
 * Reads one line from `socket`; what follows it is put back for the next reader (a TLS
 * handshake may follow the OK in the same packet). Rejects on a longer line, a close or timeoutMs.
 */
export function readLine(socket: Socket, clock: Clock, timeoutMs: number): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let got = Buffer.alloc(0);
    const done = (error: Error | undefined, line?: string) => {
      timer.cancel();
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onError);
      if (error) reject(error);
      else resolve(line!);
    };
    const onData = (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      const end = got.indexOf(0x0a);
      if ((end < 0 ? got.length : end) > MAX_RELAY_LINE) return done(new ReloadError(ErrorCode.Invalid_Message, `relay handshake line over ${MAX_RELAY_LINE} bytes`, 'relay_protocol'));
      if (end < 0) return;
      socket.pause();
      const rest = got.subarray(end + 1);
      if (rest.length > 0) socket.unshift(rest);
      done(undefined, got.subarray(0, end).toString('latin1'));
    };
    const onClose = () => done(new Error('the relay connection closed during its handshake'));
    const onError = (e: Error) => done(e);
    const timer = clock.after(timeoutMs, () => done(new ReloadError(ErrorCode.Request_Timeout, `no relay handshake within ${timeoutMs} ms`, 'relay_timeout')));
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('error', onError);
  });
}

/**
 * Opens a connection to a relay, sends one handshake line and waits for its OK: the connection
 * then carries the other end's bytes. Rejects with ReloadError(Not_Found `relay_refused`) on ERR.
 */
export async function relayHandshake(relay: BootstrapNode, line: string, clock: Clock, timeoutMs: number): Promise<Socket> {
  const socket = net.connect({ host: relay.host, port: relay.port });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.removeAllListeners('error');
    socket.write(line + '\n');
    const answer = await readLine(socket, clock, timeoutMs);
    if (answer !== 'OK') throw new ReloadError(ErrorCode.Not_Found, `the relay at ${relay.host}:${relay.port} refused: ${answer.slice(0, 80)}`, 'relay_refused');
    return socket;
  } catch (e) {
    socket.destroy();
    throw e;
  }
}
