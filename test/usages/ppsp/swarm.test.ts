/**
 * The PPSP data plane end to end over real TLS on 127.0.0.1: nodes of one overlay open data
 * channels to each other with AppAttach and swarm a random file.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Node } from '../../../overlay/node.js';
import { PpspDataUsage } from '../../../usages/ppsp/ppsp-data-usage.js';
import type { SwarmOptions } from '../../../usages/ppsp/swarm.js';
import { startTestnet, type Testnet } from '../../helpers/testnet.js';

const MiB = 1024 * 1024;
/** Fast timers for tests: the defaults are production periods. */
const FAST: SwarmOptions = { tickIntervalMs: 50, rechokeIntervalMs: 300, requestTimeoutMs: 2000, redialIntervalMs: 300 };

describe('PPSP data plane over TLS', function () {
  this.timeout(60_000);
  let net: Testnet;
  let dir: string;
  const usages: PpspDataUsage[] = [];

  async function usageOn(node: Node, swarm: SwarmOptions = {}): Promise<PpspDataUsage> {
    const u = new PpspDataUsage({ swarm: { ...FAST, ...swarm } });
    u.attach(node);
    await u.start();
    usages.push(u);
    return u;
  }

  const peersOf = (nodes: Node[]) => async () => nodes.map((n) => ({ nodeId: n.nodeIdHex }));

  before(async () => {
    net = await startTestnet(8);
  });
  after(async () => {
    await net?.stopAll();
  });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ppsp-swarm-'));
  });
  afterEach(async () => {
    await Promise.all(usages.splice(0).map((u) => u.stop()));
    await rm(dir, { recursive: true, force: true });
  });

  async function randomFile(bytes: number): Promise<{ path: string; content: Buffer }> {
    const content = randomBytes(bytes);
    const path = join(dir, 'source.bin');
    await writeFile(path, content);
    return { path, content };
  }

  it('1 seeder and 3 leechers finish byte-identical, and leechers upload to each other', async () => {
    const { path, content } = await randomFile(3 * MiB);
    const [seedNode, ...leechNodes] = net.nodes.slice(0, 4) as [Node, ...Node[]];
    const seeder = await usageOn(seedNode);
    const meta = await seeder.seed(path);
    const leechers = await Promise.all(leechNodes.map((n) => usageOn(n)));
    const all = net.nodes.slice(0, 4);
    const swarms = leechers.map((u, i) => u.download(meta.swarmId, join(dir, `out${i}.bin`), { peers: peersOf(all) }));
    await Promise.all(swarms.map((s) => s.done));
    for (let i = 0; i < 3; i++) expect((await readFile(join(dir, `out${i}.bin`))).equals(content), `leecher ${i}`).to.equal(true);
    const leechIds = leechNodes.map((n) => n.nodeIdHex);
    const leechToLeech = swarms.reduce((sum, s) => sum + leechIds.reduce((x, id) => x + s.uploadedTo(id), 0), 0);
    expect(leechToLeech, 'bytes leechers uploaded to other leechers').to.be.greaterThan(0);
    for (const s of swarms) expect(s.stats.corruptCaught).to.equal(0);
  });
});
