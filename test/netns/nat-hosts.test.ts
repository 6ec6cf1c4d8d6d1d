/**
 * The NAT lab (scripts/nat-hosts.sh, test/helpers/nat-hosts.ts) behaves like the NATs and firewalls
 * that the overlay's NAT-traversal tests mean to meet: plain masquerade maps endpoint-independently
 * and keeps the port, the symmetric NAT does neither, nothing unsolicited gets in, and two hosts
 * behind port-keeping NATs can open a TCP connection to each other by dialling at the same time.
 *
 * Small `node -e` programs run in the hosts, each with its own time limit (and a second one here
 * that kills it), so nothing can hang. Needs root and nft (.ci/run installs nftables).
 */
import { expect } from 'chai';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { NatHosts } from '../../scripts/netns/nat-hosts.js';

const PUB0 = 0;
const PUB1 = 1;
const EIM0 = 2;
const EIM1 = 3;
const SYM = 4;
const FIREWALL = 5;
/** The port every test server listens on, in the public hosts, the eim host EIM0 and the firewall host. */
const ECHO_PORT = 7000;
/** How long a connection attempt that should fail is given: a dropped SYN gives no answer at all. */
const ATTEMPT_MS = 3000;

/** A TCP server that answers every connection with the address:port it sees the client from. */
const SERVER = `
  const { host, port, lifeMs } = JSON.parse(process.argv[1]);
  setTimeout(() => process.exit(0), lifeMs);
  require('node:net')
    .createServer((s) => { s.on('error', () => {}); s.end(s.remoteAddress + ':' + s.remotePort + '\\n'); })
    .listen(port, host, () => console.log('ready'));`;

/**
 * Connects to each target in turn, from one fixed local port when given one (the next connection
 * starts after the last one closed), and prints one JSON line: per target, whether it connected and
 * what the server said, or the error (TIMEOUT when nothing answered within attemptMs).
 */
const CLIENT = `
  const net = require('node:net');
  const { targets, localPort, attemptMs } = JSON.parse(process.argv[1]);
  setTimeout(() => { console.log(JSON.stringify({ error: 'program time limit' })); process.exit(2); }, targets.length * attemptMs + 2000);
  const attempt = ({ host, port }) => new Promise((resolve) => {
    const s = net.connect({ host, port, localPort });
    let reply = '', connected = false;
    const timer = setTimeout(() => { s.destroy(); resolve({ ok: false, error: 'TIMEOUT' }); }, attemptMs);
    s.setEncoding('utf8').on('data', (d) => (reply += d));
    s.on('connect', () => (connected = true));
    s.on('error', (e) => { clearTimeout(timer); resolve({ ok: false, error: e.code || String(e) }); });
    s.on('close', () => { clearTimeout(timer); resolve(connected ? { ok: true, reply: reply.trim() } : { ok: false, error: 'closed' }); });
  });
  (async () => {
    const results = [];
    for (const t of targets) results.push(await attempt(t));
    console.log(JSON.stringify({ results }));
    process.exit(0);
  })();`;

/**
 * One side of a simultaneous open: dials host:port from localPort until connected or deadlineMs has
 * passed (again after ECONNREFUSED, ETIMEDOUT or an unreachable network, from the same port), sends
 * a line with its name and waits for the other side's. Prints one JSON line.
 */
const PEER = `
  const net = require('node:net');
  const { host, port, localPort, name, deadlineMs } = JSON.parse(process.argv[1]);
  const started = Date.now(), deadline = started + deadlineMs;
  let tries = 0, last = '';
  const done = (r) => { console.log(JSON.stringify({ ...r, tries, ms: Date.now() - started })); process.exit(0); };
  setTimeout(() => done({ ok: false, error: last || 'TIMEOUT' }), deadlineMs);
  const dial = () => {
    tries++;
    const s = net.connect({ host, port, localPort });
    let buffered = '';
    s.setEncoding('utf8');
    s.on('connect', () => s.write('hello from ' + name + '\\n'));
    s.on('data', (d) => {
      buffered += d;
      if (buffered.includes('\\n')) { s.end(); done({ ok: true, got: buffered.trim(), local: s.localAddress + ':' + s.localPort, remote: s.remoteAddress + ':' + s.remotePort }); }
    });
    s.on('error', (e) => {
      last = e.code || String(e);
      if (['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET'].includes(e.code) && Date.now() + 200 < deadline) setTimeout(dial, 100);
    });
  };
  dial();`;

interface Attempt {
  ok: boolean;
  reply?: string;
  error?: string;
}

interface PeerResult {
  ok: boolean;
  got?: string;
  error?: string;
  local?: string;
  remote?: string;
  tries: number;
  ms: number;
}

describe('NAT lab: hosts behind real NATs in network namespaces (scripts/nat-hosts.sh)', function () {
  this.timeout(30_000);
  let hosts: NatHosts | undefined;
  const servers: ChildProcessWithoutNullStreams[] = [];

  /** Runs a program to its end in host i and returns the JSON of its last line; killed if it outlives limitMs. */
  const runIn = async <T>(i: number, program: string, spec: object, limitMs: number): Promise<T> => {
    const child = hosts!.spawnIn(i, process.execPath, ['-e', program, JSON.stringify(spec)]);
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    // 'close', not 'exit': a child's last stdout may still be on its way when it has exited.
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    clearTimeout(killer);
    const last = out.trim().split('\n').at(-1);
    if (!last) throw new Error(`the program in h${i} exited with ${code} and said nothing: ${err}`);
    return JSON.parse(last) as T;
  };

  /** Connects from host i to each target in turn (from one local port when given) and says what came of it. */
  const connect = (i: number, targets: { host: string; port: number }[], localPort?: number) =>
    runIn<{ results: Attempt[] }>(i, CLIENT, { targets, localPort, attemptMs: ATTEMPT_MS }, targets.length * ATTEMPT_MS + 15_000).then((r) => r.results);

  /** Both sides of a simultaneous open, started together; each dials the other's public address and local port. */
  const simultaneousOpen = (a: number, aPort: number, b: number, bPort: number, deadlineMs: number) =>
    Promise.all([
      runIn<PeerResult>(a, PEER, { host: hosts!.publicAddress(b), port: bPort, localPort: aPort, name: `h${a}`, deadlineMs }, deadlineMs + 15_000),
      runIn<PeerResult>(b, PEER, { host: hosts!.publicAddress(a), port: aPort, localPort: bPort, name: `h${b}`, deadlineMs }, deadlineMs + 15_000),
    ]);

  const seen = (a: Attempt) => {
    expect(a.ok, JSON.stringify(a)).to.equal(true);
    const [address, port] = a.reply!.split(':');
    return { address, port: Number(port) };
  };

  before(async () => {
    hosts = await NatHosts.up(['public', 'public', 'eim', 'eim', 'symmetric', 'firewall']);
    await Promise.all([PUB0, PUB1, EIM0, FIREWALL].map((i) => {
      const child = hosts!.spawnIn(i, process.execPath, ['-e', SERVER, JSON.stringify({ host: hosts!.address(i), port: ECHO_PORT, lifeMs: 120_000 })]);
      servers.push(child);
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the server in h${i} did not start`)), 15_000);
        createInterface({ input: child.stdout }).once('line', () => {
          clearTimeout(timer);
          resolve();
        });
        child.once('exit', (code) => reject(new Error(`the server in h${i} exited with ${code}`)));
      });
    }));
  });

  after(async () => {
    const running = servers.filter((child) => child.exitCode === null && child.signalCode === null);
    await Promise.all(running.map((child) => {
      const exited = once(child, 'exit');
      child.kill();
      return exited;
    }));
    await hosts?.down();
    if (hosts) expect(await hosts.namespaces()).to.deep.equal([]);
  });

  it('an eim host is seen from its NAT WAN address with the same port, its own, by every destination', async () => {
    const localPort = 41000;
    const [a, b] = await connect(EIM0, [PUB0, PUB1].map((i) => ({ host: hosts!.address(i), port: ECHO_PORT })), localPort);
    expect(seen(a!)).to.deep.equal({ address: hosts!.publicAddress(EIM0), port: localPort });
    expect(seen(b!)).to.deep.equal({ address: hosts!.publicAddress(EIM0), port: localPort });
  });

  it('a symmetric host is seen from its NAT WAN address with a different port by each destination', async () => {
    const localPort = 42000;
    const [a, b] = await connect(SYM, [PUB0, PUB1].map((i) => ({ host: hosts!.address(i), port: ECHO_PORT })), localPort);
    const [sa, sb] = [seen(a!), seen(b!)];
    expect(sa.address).to.equal(hosts!.publicAddress(SYM));
    expect(sb.address).to.equal(hosts!.publicAddress(SYM));
    expect(sa.port, 'the two mappings').to.not.equal(sb.port);
    expect([sa.port, sb.port].some((p) => p !== localPort), 'a port other than its own').to.equal(true);
  });

  it('nothing from the internet reaches an eim host or the firewall host; the firewall host dials out', async () => {
    const to = (i: number, host: string) => connect(i, [{ host, port: ECHO_PORT }]).then((r) => r[0]!);
    const [wan, private_, ownListener, firewalled, fromFirewall, firewallItself] = await Promise.all([
      to(PUB0, hosts!.publicAddress(EIM0)),
      to(PUB0, hosts!.address(EIM0)),
      to(EIM0, hosts!.address(EIM0)),
      to(PUB0, hosts!.address(FIREWALL)),
      to(FIREWALL, hosts!.address(PUB0)),
      to(FIREWALL, hosts!.address(FIREWALL)),
    ]);
    // The listeners are there (a host reaches its own over loopback) ...
    expect(ownListener.ok, `eim host to its own listener: ${JSON.stringify(ownListener)}`).to.equal(true);
    expect(firewallItself.ok, `firewall host to its own listener: ${JSON.stringify(firewallItself)}`).to.equal(true);
    // ... but the NAT box drops what nobody inside asked for (no answer, not a refusal), the private
    // address has no route on the internet, and the firewall drops new connections.
    expect(wan, 'public host to the eim NAT WAN address').to.deep.equal({ ok: false, error: 'TIMEOUT' });
    expect(private_.ok, 'public host to the eim private address').to.equal(false);
    expect(private_.error).to.be.oneOf(['ENETUNREACH', 'EHOSTUNREACH', 'TIMEOUT']);
    expect(firewalled, 'public host to the firewall host').to.deep.equal({ ok: false, error: 'TIMEOUT' });
    expect(seen(fromFirewall).address, 'firewall host to a public host').to.equal(hosts!.address(FIREWALL));
  });

  it('TCP simultaneous open between two eim hosts works (the premise of TCP hole punching)', async () => {
    // Each side dials the other's NAT WAN address and local port (which its port-keeping NAT also
    // uses outside) at about the same time. Counted on the NAT boxes, one of two things happens,
    // both within milliseconds and without a SYN retransmission:
    // - The SYNs cross: each leaves through its own NAT, making the mapping, and reaches the other
    //   NAT after that one's own SYN made its mapping there, so it passes as the answer to it (same
    //   address and port pair). Each host, in SYN-SENT, gets a SYN where it awaited a SYN-ACK: a
    //   simultaneous open (RFC 9293, 3.5); both answer SYN-ACK and both connects complete.
    // - One SYN, say A's, reaches B's NAT first, before B's own SYN made the mapping: the NAT drops
    //   it without an answer (and without keeping a conntrack entry), A stays in SYN-SENT, B's SYN
    //   then passes A's NAT as above, A answers SYN-ACK, B's NAT lets that in, B answers ACK.
    // A NAT that refused instead of dropping would send A a RST (ECONNREFUSED): PEER dials again then.
    const [a, b] = await simultaneousOpen(EIM0, 43002, EIM1, 43003, 8000);
    console.log(`      eim <-> eim: h${EIM0} ${JSON.stringify(a)}, h${EIM1} ${JSON.stringify(b)}`);
    expect(a.ok, JSON.stringify(a)).to.equal(true);
    expect(b.ok, JSON.stringify(b)).to.equal(true);
    expect(a.got).to.equal(`hello from h${EIM1}`);
    expect(b.got).to.equal(`hello from h${EIM0}`);
    // Each sees the other at its NAT's WAN address, on the port it dialled: the mappings kept the ports.
    expect(a.remote).to.equal(`${hosts!.publicAddress(EIM1)}:43003`);
    expect(b.remote).to.equal(`${hosts!.publicAddress(EIM0)}:43002`);
  });

  it('TCP simultaneous open between an eim and a symmetric host fails: the case the birthday punch is for', async () => {
    // The symmetric NAT maps the host's connection to a fresh port, so the eim host's NAT sees its
    // SYN come from a port it never dialled and drops it, and the eim host's SYN to the symmetric
    // host's own port finds no mapping there: both give up (overlay/link/tcp-spray.ts takes over).
    // The symmetric NAT would have to pick port 44004 by chance, about 1 time in 64,500.
    const [a, b] = await simultaneousOpen(EIM0, 44002, SYM, 44004, 3000);
    expect(a.ok, JSON.stringify(a)).to.equal(false);
    expect(b.ok, JSON.stringify(b)).to.equal(false);
  });
});
