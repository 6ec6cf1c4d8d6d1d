import { createHash, randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { startApi, type ApiServer } from '../../overlay/api/http-api.js';
import { USER_VALUE_KIND } from '../../overlay/config.js';
import { idToHex, resourceIdOf } from '../../overlay/id.js';
import type { Node } from '../../overlay/node.js';
import { settleNodes } from '../helpers/settle.js';
import { RingTruth, startTestnet, type Testnet } from '../helpers/testnet.js';

type Json = Record<string, unknown>;
type Bytes = string | { base64: string };

interface Fetched {
  resource: string;
  kind: string;
  generation: number;
  values: { exists: boolean; value: Bytes; signer: { nodeId: string; user: string }; storageTime: string; storageTimeMs: number; lifetimeSec: number }[];
}

const KIND = USER_VALUE_KIND.name;
const TOKEN = randomBytes(32).toString('hex');
const b64 = (bytes: Uint8Array) => ({ base64: Buffer.from(bytes).toString('base64') });

/** POST /store, /fetch, /stat, /find on an in-process ring of 5 nodes over TLS, through two nodes' HTTP APIs only. */
describe('overlay/api: storage endpoints on a 5-node ring', function () {
  this.timeout(60_000);
  let net: Testnet;
  let truth: RingTruth;
  let a: Node;
  let b: Node;
  const apis: ApiServer[] = [];
  let apiA: string;
  let apiB: string;

  before(async () => {
    net = await startTestnet(5);
    truth = new RingTruth(net.nodes.map((n) => n.nodeId));
    await settleNodes(net.nodes, 20_000);
    [a, b] = [net.nodes[1]!, net.nodes[3]!];
    for (const n of [a, b]) apis.push(await startApi(n, { host: '127.0.0.1', port: 0, token: TOKEN }));
    [apiA, apiB] = apis.map((s) => `http://${s.address}`) as [string, string];
  });

  after(async () => {
    await Promise.all(apis.map((s) => s.close()));
    if (net) await net.stopAll();
  });

  async function post(api: string, path: string, body: unknown): Promise<{ status: number; json: Json }> {
    const res = await fetch(`${api}${path}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as Json };
  }

  /** A 200 answer, or a failure quoting the error. */
  async function ok<T = Json>(api: string, path: string, body: unknown): Promise<T> {
    const r = await post(api, path, body);
    expect(r.status, JSON.stringify(r.json)).to.equal(200);
    return r.json as T;
  }

  /** A refusal: its status and RELOAD error name; returns the message. */
  async function refused(api: string, path: string, body: unknown, status: number, error: string): Promise<string> {
    const r = await post(api, path, body);
    expect(r.status, JSON.stringify(r.json)).to.equal(status);
    expect(r.json.error, JSON.stringify(r.json)).to.equal(error);
    return r.json.message as string;
  }

  const fetchValue = (api: string, user: string) => ok<Fetched>(api, '/fetch', { kind: KIND, resource: user });
  /** What must not change when a store is refused: generation, bytes, signer and storage time (not the lifetime left, which ticks). */
  const snapshot = async (api: string, user: string) => {
    const f = await fetchValue(api, user);
    return { generation: f.generation, values: f.values.map(({ lifetimeSec: _lifetimeSec, ...v }) => v) };
  };
  const storeAt = (api: string, user: string, value: Bytes, extra: Json = {}) => ok(api, '/store', { kind: KIND, resource: user, value, ...extra });

  it('stores text through one node and fetches it byte-identical through another, signed by the storer', async () => {
    const user = a.identity.user;
    const resource = idToHex(resourceIdOf(user, net.config.hash));
    const text = `héllo from ${user} ✓`;
    const stored = await storeAt(apiA, user, text);
    expect(stored).to.include({ resource, kind: KIND, responsible: truth.responsible(resourceIdOf(user, net.config.hash)) });
    expect(stored.replicas).to.have.length(net.config.storage.replicas - 1);
    const f = await fetchValue(apiB, user);
    expect(f).to.include({ resource, kind: KIND, generation: stored.generation });
    expect(f.values).to.have.length(1);
    const v = f.values[0]!;
    expect(v.value).to.equal(text);
    expect(v.signer).to.deep.equal({ nodeId: a.nodeIdHex, user });
    expect(v.exists).to.equal(true);
    expect(new Date(v.storageTime).getTime()).to.equal(v.storageTimeMs);
    expect(Math.abs(v.storageTimeMs - Date.now())).to.be.below(60_000);
  });

  it('stores bytes as base64 and fetches them byte-identical', async () => {
    const user = b.identity.user;
    const bytes = Buffer.concat([Buffer.from([0x00, 0xff, 0xc3]), randomBytes(4093)]);
    await storeAt(apiB, user, b64(bytes));
    const v = (await fetchValue(apiA, user)).values[0]!;
    expect(v.value).to.have.property('base64');
    expect(Buffer.from((v.value as { base64: string }).base64, 'base64').equals(bytes)).to.equal(true);
    expect(v.signer).to.deep.equal({ nodeId: b.nodeIdHex, user });
  });

  it('403 Forbidden when another user\'s node stores at a USER-MATCH resource it does not own; the value is unchanged', async () => {
    const user = a.identity.user;
    await storeAt(apiA, user, 'owned by a');
    const before = await snapshot(apiB, user);
    const message = await refused(apiB, '/store', { kind: KIND, resource: user, value: 'taken over by b' }, 403, 'Forbidden');
    expect(message).to.match(/USER-MATCH/);
    expect(await snapshot(apiA, user)).to.deep.equal(before);
    expect(before.values[0]!.value).to.equal('owned by a');
  });

  it('404 Not_Found for a value nobody stored', async () => {
    await refused(apiA, '/fetch', { kind: KIND, resource: `nobody-${randomBytes(4).toString('hex')}` }, 404, 'Not_Found');
  });

  it('400 Unknown_Kind for a kind name the overlay does not have', async () => {
    const message = await refused(apiA, '/store', { kind: 'no-such-kind', resource: a.identity.user, value: 'x' }, 400, 'Unknown_Kind');
    expect(message).to.match(/no-such-kind/);
    await refused(apiA, '/fetch', { kind: 0xf00000ff, resource: a.identity.user }, 400, 'Unknown_Kind');
  });

  it('413 Data_Too_Large for a value above the kind\'s maxSize, the stored value unchanged; exactly maxSize is stored', async () => {
    const user = a.identity.user;
    await storeAt(apiA, user, 'small');
    const before = await snapshot(apiB, user);
    const message = await refused(apiA, '/store', { kind: KIND, resource: user, value: b64(randomBytes(USER_VALUE_KIND.maxSize + 1)) }, 413, 'Data_Too_Large');
    expect(message).to.include(String(USER_VALUE_KIND.maxSize));
    expect(await snapshot(apiB, user)).to.deep.equal(before);
    const max = randomBytes(USER_VALUE_KIND.maxSize);
    await storeAt(apiA, user, b64(max));
    const v = (await fetchValue(apiB, user)).values[0]!;
    expect(Buffer.from((v.value as { base64: string }).base64, 'base64').equals(max)).to.equal(true);
  });

  it('409 Generation_Counter_Too_Low for a stale generation, and nothing changes', async () => {
    const user = a.identity.user;
    const first = await storeAt(apiA, user, 'v1');
    const g = first.generation as number;
    const second = await storeAt(apiA, user, 'v2', { generation: g });
    expect(second.generation).to.equal(g + 1);
    const before = await snapshot(apiB, user);
    const message = await refused(apiA, '/store', { kind: KIND, resource: user, value: 'v3', generation: g }, 409, 'Generation_Counter_Too_Low');
    expect(message).to.include(`generation ${g + 1}`);
    const after = await snapshot(apiB, user);
    expect(after).to.deep.equal(before);
    expect(after.values[0]!.value).to.equal('v2');
    expect(after.generation).to.equal(g + 1);
  });

  it('delete:true removes the value: fetch is 404, stat shows the tombstone', async () => {
    const user = b.identity.user;
    await storeAt(apiB, user, 'short-lived');
    const deleted = await ok(apiB, '/store', { kind: KIND, resource: user, delete: true });
    expect(deleted).to.include({ kind: KIND });
    await refused(apiA, '/fetch', { kind: KIND, resource: user }, 404, 'Not_Found');
    const stat = await ok<{ values: Json[] }>(apiA, '/stat', { kind: KIND, resource: user });
    expect(stat.values).to.have.length(1);
    expect(stat.values[0]).to.include({ exists: false, length: 0 });
  });

  it('stat gives the length and SHA-256 of the value', async () => {
    const user = a.identity.user;
    const bytes = randomBytes(1234);
    await storeAt(apiA, user, b64(bytes));
    const stat = await ok<{ resource: string; kind: string; values: Json[] }>(apiB, '/stat', { kind: KIND, resource: user });
    expect(stat).to.include({ resource: idToHex(resourceIdOf(user, net.config.hash)), kind: KIND });
    expect(stat.values).to.have.length(1);
    expect(stat.values[0]).to.include({ exists: true, length: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
    expect(stat.values[0]).to.not.have.property('value');
  });

  it('find returns the resource that holds a value of the kind', async () => {
    const user = a.identity.user;
    await storeAt(apiA, user, 'findable');
    const resource = idToHex(resourceIdOf(user, net.config.hash));
    const found = await ok<{ resource: string; results: Json[] }>(apiB, '/find', { kind: KIND, resource: user });
    expect(found).to.deep.equal({ resource, results: [{ kind: KIND, closest: resource }] });
    const byList = await ok<{ results: Json[] }>(apiB, '/find', { kinds: [KIND, USER_VALUE_KIND.id], resource });
    expect(byList.results).to.deep.equal([
      { kind: KIND, closest: resource },
      { kind: KIND, closest: resource },
    ]);
  });

  it('400 Invalid_Message naming the field for a body field of the wrong type', async () => {
    const base = { kind: KIND, resource: a.identity.user, value: 'x' };
    const cases: [string, Json, RegExp][] = [
      ['/store', { ...base, resource: 42 }, /"resource"/],
      ['/store', { ...base, resource: '' }, /"resource"/],
      ['/store', { ...base, value: 42 }, /"value"/],
      ['/store', { ...base, value: { base64: 'not base64!' } }, /"value\.base64"/],
      ['/store', { ...base, lifetime: '60' }, /"lifetime"/],
      ['/store', { ...base, lifetime: 0 }, /"lifetime"/],
      ['/store', { ...base, generation: -1 }, /"generation"/],
      ['/store', { ...base, generation: 1.5 }, /"generation"/],
      ['/store', { resource: a.identity.user, value: 'x' }, /"kind"/],
      ['/store', { ...base, kind: true }, /kind/],
      ['/store', { ...base, index: 0 }, /"index"/],
      ['/fetch', { kind: KIND, resource: [] }, /"resource"/],
      ['/stat', { kind: KIND, resource: a.identity.user, key: 'k' }, /"key"/],
      ['/find', { kinds: KIND, resource: a.identity.user }, /"kinds"/],
    ];
    for (const [path, body, field] of cases) {
      const message = await refused(apiA, path, body, 400, 'Invalid_Message').catch((e: Error) => {
        throw new Error(`${path} ${JSON.stringify(body)}: ${e.message}`);
      });
      expect(message, `${path} ${JSON.stringify(body)}`).to.match(field);
    }
    // None of these reached the storage: the value stored before is still there.
    expect((await fetchValue(apiB, a.identity.user)).values[0]!.value).to.equal('findable');
  });
});
