import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { API_MAX_BODY_BYTES, bindApi, startApi, type ApiExtension, type ApiServer } from '../../overlay/api/http-api.js';
import { newOverlayConfig } from '../../overlay/config.js';
import { ErrorCode, ReloadError } from '../../overlay/errors.js';
import { randomId, idToHex } from '../../overlay/id.js';
import { Node } from '../../overlay/node.js';
import { httpRequest } from '../helpers/http.js';
import { sharedPki, TEST_OVERLAY } from '../helpers/pki.js';

describe('overlay/api', function () {
  this.timeout(20_000);
  let a: Node;
  let b: Node;
  let api: ApiServer;
  let base: string;
  const token = randomBytes(32).toString('hex');
  const auth = { authorization: `Bearer ${token}` };
  const json = { ...auth, 'content-type': 'application/json' };

  before(async () => {
    const pki = await sharedPki();
    const config = newOverlayConfig(TEST_OVERLAY, pki.ca.certPem);
    a = new Node({ config, identity: await pki.enroll(), listen: { host: '127.0.0.1', port: 0 } });
    await a.start();
    const port = Number(/:(\d+)$/.exec(a.listenAddress!)![1]);
    b = new Node({ config, identity: await pki.enroll(), bootstrap: [{ host: '127.0.0.1', port }] });
    await b.start();
    api = await startApi(b, { host: '127.0.0.1', port: 0, token });
    base = `http://${api.address}`;
  });

  after(async () => {
    await api.close();
    await b.stop();
    await a.stop();
  });

  it('GET /status tells identity, state, listen address and links', async () => {
    const res = await fetch(`${base}/status`, { headers: auth });
    expect(res.status).to.equal(200);
    const s = (await res.json()) as Record<string, unknown>;
    expect(s).to.include({ nodeId: b.nodeIdHex, overlay: TEST_OVERLAY, state: 'joined', listen: null, user: b.identity.user });
    expect(s.links).to.deep.equal([{ nodeId: a.nodeIdHex, user: a.identity.user, address: `127.0.0.1:${/:(\d+)$/.exec(a.listenAddress!)![1]}`, transport: 'tls', mechanism: 'direct', setupMs: null }]);
    // b has no listener: whatever a sees it as, it cannot be dialled, so it holds a place at a's relay.
    const r = s.reachability as { relay: { nodeId: string; address: string } };
    expect(r).to.deep.include({ observed: b.linkList()[0]!.localAddress, dialable: false, mapping: 'none' });
    expect(r.relay.nodeId).to.equal(a.nodeIdHex);
    expect(r.relay.address).to.match(/^127\.0\.0\.1:\d+$/);
  });

  it('POST /attach links to a node and says how', async () => {
    const res = await fetch(`${base}/attach`, { method: 'POST', headers: json, body: JSON.stringify({ destination: a.nodeIdHex }) });
    expect(res.status).to.equal(200);
    const r = (await res.json()) as Record<string, unknown>;
    expect(r).to.include({ destination: a.nodeIdHex, mechanism: 'direct', address: b.linkList()[0]!.remoteAddress });
    const bad = await fetch(`${base}/attach`, { method: 'POST', headers: json, body: JSON.stringify({ destination: 7 }) });
    expect(bad.status).to.equal(400);
  });

  it('POST /ping pings through the node', async () => {
    const res = await fetch(`${base}/ping`, { method: 'POST', headers: json, body: JSON.stringify({ destination: a.nodeIdHex }) });
    expect(res.status).to.equal(200);
    const r = (await res.json()) as { destination: string; hops: number; rttMs: number };
    expect(r.destination).to.equal(a.nodeIdHex);
    expect(r.hops).to.equal(1);
    expect(r.rttMs).to.be.a('number');
  });

  it('answers RELOAD errors with a 4xx status and the error name', async () => {
    const post = (body: string) => fetch(`${base}/ping`, { method: 'POST', headers: json, body });
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
    // Declared too large: refused before the body is read (none is sent).
    const declared = await httpRequest(base, '/ping', { method: 'POST', headers: { ...json, 'content-length': String(API_MAX_BODY_BYTES + 1) } });
    expect([declared.status, JSON.parse(declared.text).error]).to.deep.equal([413, 'Message_Too_Large']);
    // Sent in chunks with no declared size: refused once the bound is passed.
    const chunked = await httpRequest(base, '/ping', { method: 'POST', headers: { ...json, 'transfer-encoding': 'chunked' }, body: 'x'.repeat(API_MAX_BODY_BYTES + 1) });
    expect(chunked.status).to.equal(413);
    expect((await fetch(`${base}/nope`, { headers: auth })).status).to.equal(404);
    const get = await fetch(`${base}/ping`, { headers: auth });
    expect(get.status).to.equal(405);
    expect(get.headers.get('allow')).to.equal('POST');
    const del = await fetch(`${base}/status`, { method: 'DELETE', headers: auth });
    expect(del.status).to.equal(405);
    expect(del.headers.get('allow')).to.equal('GET, HEAD');
    expect((await fetch(`${base}/status`, { method: 'PUT', headers: auth })).status).to.equal(405);
  });

  it('maps what a handler throws: a defect to 500, Request_Timeout to 504, Data_Too_Old to 409; a body that is not a JSON object to 400', async () => {
    const failing: ApiExtension = (_method, path) => {
      if (path === '/defect') return Promise.reject(new TypeError('a defect'));
      if (path === '/slow') return Promise.reject(new ReloadError(ErrorCode.Request_Timeout, 'no answer'));
      if (path === '/old') return Promise.reject(new ReloadError(ErrorCode.Data_Too_Old, 'older than what is stored'));
      return undefined;
    };
    const s = await startApi(b, { host: '127.0.0.1', port: 0, token }, [failing]);
    try {
      const at = `http://${s.address}`;
      const answer = async (path: string) => {
        const res = await fetch(`${at}${path}`, { headers: auth });
        return [res.status, ((await res.json()) as { error: string }).error];
      };
      expect(await answer('/defect')).to.deep.equal([500, 'Internal']);
      expect(await answer('/slow')).to.deep.equal([504, 'Request_Timeout']);
      expect(await answer('/old')).to.deep.equal([409, 'Data_Too_Old']);
      for (const body of ['[1]', '"text"', 'null', '7']) {
        const res = await fetch(`${at}/ping`, { method: 'POST', headers: json, body });
        expect(res.status, body).to.equal(400);
        expect(((await res.json()) as { message: string }).message, body).to.match(/must be a JSON object/);
      }
    } finally {
      await s.close();
    }
  });

  it('GET /metrics serves Prometheus text with message and link counts', async () => {
    const res = await fetch(`${base}/metrics`, { headers: auth });
    expect(res.headers.get('content-type')).to.match(/^text\/plain/);
    const text = await res.text();
    expect(text).to.match(/^reload_links 1$/m);
    expect(text).to.match(/^reload_messages_total\{direction="in",code="PingAns"\} [1-9]/m);
    expect(text).to.match(/^reload_request_rtt_ms_count [1-9]/m);
  });

  describe('access', () => {
    const SWARM = 'ab'.repeat(32);
    const OTHER = 'cd'.repeat(32);
    /** Stands in for the PPSP endpoints: GET /swarms/<id> answers the id it was asked for. */
    const swarms: ApiExtension = (method, path) => {
      const m = /^\/swarms\/([0-9a-f]{64})$/.exec(path);
      return m && method === 'GET' ? Promise.resolve({ swarmId: m[1] }) : undefined;
    };
    const servers: ApiServer[] = [];
    const serve = async (opts: Partial<Parameters<typeof startApi>[1]> = {}) => {
      const s = await startApi(b, { host: '127.0.0.1', port: 0, token, ...opts }, [swarms]);
      servers.push(s);
      return `http://${s.address}`;
    };
    after(() => Promise.all(servers.map((s) => s.close())));

    async function mint(at: string, swarmId: string): Promise<string> {
      const res = await fetch(`${at}/swarms/${swarmId}/capability`, { method: 'POST', headers: json });
      expect(res.status).to.equal(200);
      const { url } = (await res.json()) as { url: string };
      expect(url.startsWith(`${at}/swarms/${swarmId}?cap=`), url).to.equal(true);
      return url;
    }

    it('a capability URL reads its own swarm by GET and HEAD, and nothing else', async () => {
      const at = await serve();
      const url = await mint(at, SWARM);
      const cap = new URL(url).searchParams.get('cap')!;
      const got = await fetch(url);
      expect(got.status).to.equal(200);
      expect(await got.json()).to.deep.equal({ swarmId: SWARM });
      expect((await fetch(url, { method: 'HEAD' })).status).to.equal(200);
      for (const [method, path] of [
        ['GET', `/swarms/${OTHER}`],
        ['GET', '/status'],
        ['GET', '/metrics'],
        ['POST', `/swarms/${SWARM}/download`],
        ['POST', `/swarms/${SWARM}/capability`],
      ] as const) {
        const res = await fetch(`${at}${path}?cap=${cap}`, { method, ...(method === 'POST' ? { headers: { 'content-type': 'application/json' }, body: '{}' } : {}) });
        expect(res.status, `${method} ${path}`).to.equal(401);
      }
      expect((await fetch(`${at}/swarms/${SWARM}/capability`, { method: 'POST', headers: { 'content-type': 'application/json' } })).status).to.equal(401);
      // A path that a resolver would turn into /status (fetch would normalise it first, so sent raw).
      expect((await httpRequest(at, `/swarms/${SWARM}/../../status?cap=${cap}`)).status).to.equal(401);
    });

    it('a capability dies with the API that minted it (a new secret at each start)', async () => {
      const url = await mint(await serve(), SWARM);
      const again = await serve();
      expect((await fetch(`${again}${new URL(url).pathname}${new URL(url).search}`)).status).to.equal(401);
    });

    it('Host and Origin checks apply to capability URLs too', async () => {
      const at = await serve();
      const url = await mint(at, SWARM);
      expect((await fetch(url, { headers: { origin: 'http://evil.example' } })).status).to.equal(403);
      const u = new URL(url);
      expect((await httpRequest(at, u.pathname + u.search, { headers: { host: 'evil.example' } })).status).to.equal(403);
      expect((await httpRequest(at, u.pathname + u.search, { headers: { host: `localhost:${u.port}` } })).status).to.equal(200);
    });

    it('an allowed origin gets its CORS preflight answered and its responses marked; another origin gets 403', async () => {
      const at = await serve({ allowOrigins: ['http://localhost:3000'] });
      const preflight = await fetch(`${at}/status`, { method: 'OPTIONS', headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } });
      expect(preflight.status).to.equal(204);
      expect(preflight.headers.get('access-control-allow-origin')).to.equal('http://localhost:3000');
      expect(preflight.headers.get('access-control-allow-headers')).to.match(/authorization/);
      const status = await fetch(`${at}/status`, { headers: { ...auth, origin: 'http://localhost:3000' } });
      expect(status.status).to.equal(200);
      expect(status.headers.get('access-control-allow-origin')).to.equal('http://localhost:3000');
      const other = await fetch(`${at}/status`, { method: 'OPTIONS', headers: { origin: 'http://localhost:3001', 'access-control-request-method': 'GET' } });
      expect(other.status).to.equal(403);
      expect(other.headers.get('access-control-allow-origin')).to.equal(null);
    });

    it('answers 503 until the node is attached, after checking the token', async () => {
      const bound = await bindApi({ host: '127.0.0.1', port: 0, token });
      servers.push(bound);
      expect((await fetch(`http://${bound.address}/status`)).status).to.equal(401);
      expect((await fetch(`http://${bound.address}/status`, { headers: auth })).status).to.equal(503);
      bound.attach(b);
      expect((await fetch(`http://${bound.address}/status`, { headers: auth })).status).to.equal(200);
    });
  });
});
