import { expect } from 'chai';
import { API_MAX_BODY_BYTES, startApi, type ApiServer } from '../../overlay/api/http-api.js';
import { newOverlayConfig } from '../../overlay/config.js';
import { randomId, idToHex } from '../../overlay/id.js';
import { Node } from '../../overlay/node.js';
import { sharedPki, TEST_OVERLAY } from '../helpers/pki.js';

describe('overlay/api', function () {
  this.timeout(20_000);
  let a: Node;
  let b: Node;
  let api: ApiServer;
  let base: string;

  before(async () => {
    const pki = await sharedPki();
    const config = newOverlayConfig(TEST_OVERLAY, pki.ca.certPem);
    a = new Node({ config, identity: await pki.enroll(), listen: { host: '127.0.0.1', port: 0 } });
    await a.start();
    const port = Number(/:(\d+)$/.exec(a.listenAddress!)![1]);
    b = new Node({ config, identity: await pki.enroll(), bootstrap: [{ host: '127.0.0.1', port }] });
    await b.start();
    api = await startApi(b, '127.0.0.1', 0);
    base = `http://${api.address}`;
  });

  after(async () => {
    await api.close();
    await b.stop();
    await a.stop();
  });

  it('GET /status tells identity, state, listen address and links', async () => {
    const res = await fetch(`${base}/status`);
    expect(res.status).to.equal(200);
    const s = (await res.json()) as Record<string, unknown>;
    expect(s).to.include({ nodeId: b.nodeIdHex, overlay: TEST_OVERLAY, state: 'joined', listen: null, user: b.identity.user });
    expect(s.links).to.deep.equal([{ nodeId: a.nodeIdHex, user: a.identity.user, address: `127.0.0.1:${/:(\d+)$/.exec(a.listenAddress!)![1]}`, transport: 'tls' }]);
  });

  it('POST /ping pings through the node', async () => {
    const res = await fetch(`${base}/ping`, { method: 'POST', body: JSON.stringify({ destination: a.nodeIdHex }) });
    expect(res.status).to.equal(200);
    const r = (await res.json()) as { destination: string; hops: number; rttMs: number };
    expect(r.destination).to.equal(a.nodeIdHex);
    expect(r.hops).to.equal(1);
    expect(r.rttMs).to.be.a('number');
  });

  it('answers RELOAD errors with a 4xx status and the error name', async () => {
    const post = (body: string) => fetch(`${base}/ping`, { method: 'POST', body });
    const noRoute = await post(JSON.stringify({ destination: idToHex(randomId()) }));
    expect(noRoute.status).to.equal(404);
    expect(await noRoute.json()).to.include({ error: 'Not_Found', reason: 'no_route' });
    const badId = await post(JSON.stringify({ destination: 'xyz' }));
    expect(badId.status).to.equal(400);
    expect(await badId.json()).to.include({ error: 'Invalid_Message', reason: 'bad_node_id' });
    const notJson = await post('{');
    expect(notJson.status).to.equal(400);
    expect(((await notJson.json()) as { message: string }).message).to.match(/not valid JSON/);
    const missing = await post('{}');
    expect(missing.status).to.equal(400);
  });

  it('refuses an over-size body with 413, unknown paths with 404, wrong methods with 405', async () => {
    const big = await fetch(`${base}/ping`, { method: 'POST', body: 'x'.repeat(API_MAX_BODY_BYTES + 1) }).catch((e: Error) => e);
    if (big instanceof Error) expect(big.message).to.match(/fetch failed|socket/); // the server may cut the upload short
    else expect(big.status).to.equal(413);
    expect((await fetch(`${base}/nope`)).status).to.equal(404);
    expect((await fetch(`${base}/ping`)).status).to.equal(405);
  });

  it('GET /metrics serves Prometheus text with message and link counts', async () => {
    const res = await fetch(`${base}/metrics`);
    expect(res.headers.get('content-type')).to.match(/^text\/plain/);
    const text = await res.text();
    expect(text).to.match(/^reload_links 1$/m);
    expect(text).to.match(/^reload_messages_total\{direction="in",code="PingAns"\} [1-9]/m);
    expect(text).to.match(/^reload_request_rtt_ms_count [1-9]/m);
  });
});
