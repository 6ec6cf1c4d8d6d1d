/**
 * The programs `npm run bench -- ppspp` runs inside its network-namespace hosts (not a suite of its
 * own): `node ppspp-lab-peer.js ROLE ARGS...`, each printing one JSON object a line on stdout.
 *
 *   seed HOST PORT FILE      PPSPP seeder of FILE (SHA-1, 1 KiB chunks): {"root":HEX} once ready,
 *                            then every SAMPLE_MS {"bytesSent","congestion":[{queueingDelayUs,cwndBytes}]}
 *   leech HOST PORT ROOT OUT downloads ROOT from the seeder at HOST:PORT: {"done":ms} at the end
 *   tcp-sink HOST PORT       takes one TCP connection: {"ready":true}, then every SAMPLE_MS {"bytes"}
 *   tcp-source HOST PORT     sends bulk to the sink until killed
 *   echo HOST PORT           echoes UDP datagrams: {"ready":true}
 *   probe HOST PORT          a small UDP datagram to the echo every PROBE_MS: {"rttMs"} per answer
 */
import { createSocket } from 'node:dgram';
import { createConnection, createServer } from 'node:net';
import { PpsppContent } from '../../usages/ppsp/ppspp/ppspp-content.js';
import { downloadPpspp } from '../../usages/ppsp/ppspp/ppspp-download.js';
import { PpsppEndpoint } from '../../usages/ppsp/ppspp/ppspp-endpoint.js';
import { PpsppServer } from '../../usages/ppsp/ppspp/ppspp-server.js';

/** How often the seeder and the TCP sink report, ms. */
const SAMPLE_MS = 50;
/** How often the prober sends, ms. */
const PROBE_MS = 50;

const line = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');

async function main(role: string | undefined, args: string[]): Promise<void> {
  const [host = '', portText = '', ...rest] = args;
  const port = Number(portText);
  switch (role) {
    case 'seed': {
      const endpoint = await PpsppEndpoint.bind(host, port);
      const content = await PpsppContent.open(rest[0]!);
      const server = new PpsppServer(endpoint);
      server.add(content);
      line({ root: content.root.toString('hex') });
      setInterval(() => {
        const s = server.stats;
        line({ bytesSent: s.bytesSent, chunksLost: s.chunksLost, congestion: s.congestion });
      }, SAMPLE_MS);
      return;
    }
    case 'leech': {
      const endpoint = await PpsppEndpoint.bind('0.0.0.0', 0);
      const result = await downloadPpspp({ endpoint, peers: [{ host, port }], root: Buffer.from(rest[0]!, 'hex'), out: rest[1]! });
      line({ done: result.ms });
      await endpoint.close();
      return;
    }
    case 'tcp-sink': {
      let bytes = 0;
      createServer((c) => c.on('data', (d: Buffer) => (bytes += d.length))).listen(port, host, () => line({ ready: true }));
      setInterval(() => line({ bytes }), SAMPLE_MS);
      return;
    }
    case 'tcp-source': {
      const block = Buffer.alloc(64 * 1024, 7);
      const c = createConnection(port, host);
      const pump = () => {
        while (c.write(block)) {
          // until the socket holds all it will take
        }
      };
      c.on('connect', pump).on('drain', pump);
      return;
    }
    case 'echo': {
      const s = createSocket('udp4');
      s.on('message', (m, from) => s.send(m, from.port, from.address));
      s.bind(port, host, () => line({ ready: true }));
      return;
    }
    case 'probe': {
      const s = createSocket('udp4');
      s.on('message', (m) => line({ rttMs: performance.now() - m.readDoubleBE(0) }));
      setInterval(() => {
        const b = Buffer.alloc(64);
        b.writeDoubleBE(performance.now(), 0);
        s.send(b, port, host);
      }, PROBE_MS);
      return;
    }
    default:
      throw new Error(`ppspp-lab-peer: unknown role ${role}`);
  }
}

main(process.argv[2], process.argv.slice(3)).catch((e: unknown) => {
  process.stderr.write(`ppspp-lab-peer: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
