/**
 * Stalled clients cannot lock the user out of the node API (issue 11): connections that send half
 * a request and then nothing are evicted for newcomers, while a request in progress is not.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { startApi, type ApiServer } from '../../overlay/api/http-api.js';
import { newOverlayConfig } from '../../overlay/config.js';
import { Node } from '../../overlay/node.js';
import { sharedPki, TEST_OVERLAY } from '../helpers/pki.js';
import { waitFor } from '../helpers/wait.js';

const TOKEN = randomBytes(32).toString('hex');

describe('overlay/api: stalled clients', function () {
  this.timeout(60_000);
  let node: Node;
  let api: ApiServer | undefined;
  const sockets: Socket[] = [];

  before(async () => {
    const pki = await sharedPki();
    node = new Node({ config: newOverlayConfig(TEST_OVERLAY, pki.ca.certPem), identity: await pki.enroll() });
    await node.start();
  });

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await api?.close();
    api = undefined;
  });

  after(() => node.stop({ leave: false }));

  const port = () => Number(/:(\d+)$/.exec(api!.address)![1]);
  const dropped = (reason: string) => Number(new RegExp(`^reload_api_connections_dropped_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(node.metrics.render())?.[1] ?? 0);

  /** Opens `count` connections that send a request line and one header, then nothing. */
  async function stall(count: number): Promise<void> {
    await Promise.all(
      Array.from({ length: count }, () =>
        new Promise<void>((resolve, reject) => {
          const s = connect(port(), '127.0.0.1', () => {
            s.write('GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n');
            resolve();
          });
          s.on('error', () => {}); // evicted ones are reset; that is the point
          s.once('error', reject);
          sockets.push(s);
        }),
      ),
    );
  }

  it('300 stalled requests: GET /status still answers within a second, and the evictions are counted on /metrics', async () => {
    api = await startApi(node, { host: '127.0.0.1', port: 0, token: TOKEN });
    await stall(300);
    // Every one of them reached the server: all but the 64 it keeps were evicted by the next.
    await waitFor(() => dropped('stalled') >= 300 - 64, 10_000, 'the stalled connections seen');
    const res = await fetch(`http://${api.address}/status`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: AbortSignal.timeout(1000) });
    expect(res.status).to.equal(200);
    expect(((await res.json()) as { nodeId: string }).nodeId).to.equal(node.nodeIdHex);
  });

  it('a request in progress is not evicted by newcomers, however many', async () => {
    api = await startApi(node, { host: '127.0.0.1', port: 0, token: TOKEN, limits: { maxConnections: 8 } });
    const body = JSON.stringify({ kind: 'no-such-kind', resource: 'x', value: 'v' });
    const slow = connect(port(), '127.0.0.1');
    sockets.push(slow);
    const answer = new Promise<string>((resolve, reject) => {
      let text = '';
      slow.on('data', (d) => (text += d.toString()));
      slow.on('end', () => resolve(text));
      slow.on('close', () => resolve(text));
      slow.on('error', reject);
    });
    await new Promise<void>((resolve) => slow.once('connect', () => resolve()));
    // Headers and half the body: the request is in its handler, reading.
    slow.write(`POST /store HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.slice(0, 10)}`);
    await stall(40);
    await waitFor(() => dropped('stalled') >= 40 - 7, 10_000, 'the stalled connections seen');
    slow.write(body.slice(10));
    expect(await answer).to.match(/^HTTP\/1\.1 400 /);
  });

  it('a stalled connection below the bound is closed once its header timeout runs out, not at Node\'s 30 s check', async () => {
    api = await startApi(node, { host: '127.0.0.1', port: 0, token: TOKEN, limits: { headersTimeoutMs: 500, checkIntervalMs: 200 } });
    await stall(1);
    const socket = sockets[0]!;
    socket.resume(); // read the server's answer, so that the close is seen
    // Timeout plus one check round, with room for a loaded machine; the old 30 s round would miss it.
    await waitFor(() => socket.destroyed || socket.readableEnded, 10_000, 'the stalled connection closed');
  });
});
