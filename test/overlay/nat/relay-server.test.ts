/**
 * The relay on loopback, with real TCP connections: it splices a CONNECT to the reserved node's
 * ACCEPT, refuses what it must with a reason, and holds to its bounds (reservations, circuits,
 * bytes per circuit). The overlay side (the link a reservation is made over, RelayIncoming) is a
 * stand-in here; test/netns/nat-traversal.test.ts runs it all between node processes behind NATs.
 */
import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import net, { type Socket } from 'node:net';
import { systemClock } from '../../../overlay/clock.js';
import { ErrorCode } from '../../../overlay/errors.js';
import type { Link } from '../../../overlay/link/link.js';
import { silentLogger } from '../../../overlay/log.js';
import { relayHandshake } from '../../../overlay/nat/relay-line.js';
import { RelayServer, type RelayLimits } from '../../../overlay/nat/relay-server.js';
import { expectReloadError } from '../../helpers/expect-reload-error.js';
import { rejection } from '../../helpers/rejection.js';
import { waitFor } from '../../helpers/wait.js';

const TARGET = 'a'.repeat(32);
const SOURCE = 'b'.repeat(32);

/** The reserved node's overlay link, as far as the relay sees it. */
class StandInLink extends EventEmitter {
  open = true;
  constructor(readonly remoteNodeIdHex: string) {
    super();
  }
  close(): void {
    this.open = false;
    this.emit('close');
  }
}

/** Sends one line to the relay and resolves with its one-line answer (and the socket). */
async function ask(port: number, line: string): Promise<{ answer: string; socket: Socket }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.write(line + '\n');
  let got = '';
  await new Promise<void>((resolve) => {
    socket.on('data', (d) => {
      got += d.toString();
      if (got.includes('\n')) resolve();
    });
    socket.once('close', () => resolve());
  });
  return { answer: got.split('\n')[0]!, socket };
}

describe('the relay (overlay/nat/relay-server.ts)', function () {
  this.timeout(20_000);
  let relay: RelayServer;
  const notified: { circuit: string; source: string; app: number | undefined }[] = [];
  const limits: RelayLimits = { relayReservations: 2, relayCircuits: 2, relayCircuitBytes: 64 * 1024, relayCircuitMs: 60_000, traversalTimeoutMs: 2000 };
  const open: Socket[] = [];

  beforeEach(async () => {
    notified.length = 0;
    relay = new RelayServer({ host: '127.0.0.1', port: 0, clock: systemClock, log: silentLogger, limits, notify: async (_link, circuit, source, app) => void notified.push({ circuit, source, app }) });
    await relay.listen();
  });
  afterEach(async () => {
    for (const s of open) s.destroy();
    open.length = 0;
    await relay.close();
  });

  /** A CONNECT to TARGET, the ACCEPT the reserved node makes when told, both ends once spliced. */
  async function circuit(app?: number): Promise<[Socket, Socket]> {
    const asking = relayHandshake({ host: '127.0.0.1', port: relay.port! }, `CONNECT ${TARGET} ${SOURCE}${app === undefined ? '' : ` ${app}`}`, systemClock, 2000);
    await waitFor(() => notified.length > 0, 2000, 'the reserved node is told');
    const told = notified.shift()!;
    expect(told).to.deep.equal({ circuit: told.circuit, source: SOURCE, app });
    const accepting = relayHandshake({ host: '127.0.0.1', port: relay.port! }, `ACCEPT ${told.circuit}`, systemClock, 2000);
    const ends = await Promise.all([asking, accepting]);
    open.push(...ends);
    // relayHandshake leaves each socket paused for whoever reads next (TLS, in a node).
    for (const end of ends) end.resume();
    return ends;
  }

  it('splices a CONNECT to the reserved node\'s ACCEPT: bytes pass both ways, for overlay links and application channels', async () => {
    relay.reserve(new StandInLink(TARGET) as unknown as Link);
    for (const app of [undefined, 61500]) {
      const [asker, accepter] = await circuit(app);
      const heard = new Promise<string>((resolve) => accepter.once('data', (d) => resolve(d.toString())));
      asker.write('hello through the relay');
      expect(await heard).to.equal('hello through the relay');
      const back = new Promise<string>((resolve) => asker.once('data', (d) => resolve(d.toString())));
      accepter.write('and back');
      expect(await back).to.equal('and back');
    }
    expect(relay.bytesRelayed).to.equal('hello through the relay'.length * 2 + 'and back'.length * 2);
  });

  it('refuses with a reason: no reservation, a malformed line, an unknown circuit; a reservation ends with its link', async () => {
    expect((await ask(relay.port!, `CONNECT ${TARGET} ${SOURCE}`)).answer).to.equal('ERR not_reserved');
    expect((await ask(relay.port!, 'CONNECT somebody')).answer).to.equal('ERR bad_request');
    expect((await ask(relay.port!, `CONNECT ${TARGET} ${SOURCE} 70000`)).answer).to.equal('ERR bad_request');
    expect((await ask(relay.port!, 'ACCEPT 0123456789abcdef')).answer).to.equal('ERR unknown_circuit');
    const link = new StandInLink(TARGET);
    relay.reserve(link as unknown as Link);
    link.close();
    expect((await ask(relay.port!, `CONNECT ${TARGET} ${SOURCE}`)).answer).to.equal('ERR not_reserved');
    // The client's side of a refusal: a typed error that names the relay.
    const refused = await rejection(relayHandshake({ host: '127.0.0.1', port: relay.port! }, `CONNECT ${TARGET} ${SOURCE}`, systemClock, 2000));
    expect(refused.message).to.match(/refused: ERR not_reserved/);
  });

  it('a line longer than the handshake allows closes the connection unanswered', async () => {
    expect((await ask(relay.port!, 'CONNECT ' + 'f'.repeat(300))).answer).to.equal('');
  });

  it('is bounded: reservations, circuits at once, and bytes per circuit', async () => {
    relay.reserve(new StandInLink(TARGET) as unknown as Link);
    relay.reserve(new StandInLink('c'.repeat(32)) as unknown as Link);
    expectReloadError(() => relay.reserve(new StandInLink('d'.repeat(32)) as unknown as Link), ErrorCode.Forbidden, { reason: 'relay_full' });
    const [a1] = await circuit();
    await circuit();
    expect((await ask(relay.port!, `CONNECT ${TARGET} ${SOURCE}`)).answer).to.equal('ERR busy');
    // Past relayCircuitBytes the circuit is closed, which frees its place.
    const closed = new Promise<void>((resolve) => a1.once('close', () => resolve()));
    a1.write(Buffer.alloc(limits.relayCircuitBytes + 1));
    await closed;
    await circuit();
  });

  it('a reserved node that never accepts: the asker is refused after the traversal timeout, and the circuit freed', async () => {
    relay.reserve(new StandInLink(TARGET) as unknown as Link);
    const started = Date.now();
    expect((await ask(relay.port!, `CONNECT ${TARGET} ${SOURCE}`)).answer).to.equal('ERR no_answer');
    expect(Date.now() - started).to.be.at.least(limits.traversalTimeoutMs - 100);
    notified.length = 0;
    await circuit();
    await circuit();
  });
});
