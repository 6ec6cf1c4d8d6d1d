import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Node } from '../../../../overlay/node.js';
import { PpspUsage } from '../../../../usages/ppsp/ppsp-usage.js';
import { startTestnet, type Testnet } from '../../../helpers/testnet.js';

const PROPS = { accessType: 'fixed' as const, upKbps: 10_000, downKbps: 10_000, nat: 'unknown' as const, uptimeSec: 0 };

describe('PPSP transport negotiation end to end (seed §4.5)', function () {
  this.timeout(120_000);
  let net: Testnet;
  let dir: string;
  const usages = new Map<Node, PpspUsage>();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ppsp-transport-'));
    // Node 0 seeds with a direct TLS channel; node 5 offers no direct channel at all (only relay).
    net = await startTestnet(6, {
      batch: 3,
      beforeStart: (node, i) => {
        const usage = new PpspUsage({ properties: PROPS, data: { directChannel: i !== 5 } });
        usage.attach(node);
        usages.set(node, usage);
      },
    });
    for (const u of usages.values()) await u.start();
  });

  after(async () => {
    for (const u of usages.values()) await u.stop();
    await net?.stopAll();
    await rm(dir, { recursive: true, force: true });
  });

  it('two peers with no common direct transport negotiate overlay and still transfer, byte-identical', async () => {
    const content = randomBytes(1024 * 1024 + 321);
    await writeFile(join(dir, 'in.bin'), content);
    const seeder = usages.get(net.nodes[0]!)!;
    const meta = await seeder.seed(join(dir, 'in.bin'));
    const leecher = usages.get(net.nodes[5]!)!;
    const swarm = await leecher.download(meta.swarmId, join(dir, 'out.bin'));
    await swarm.done;
    expect((await readFile(join(dir, 'out.bin'))).equals(content)).to.equal(true);
    expect(leecher.channelsOpened.overlay, 'channels the leecher opened by relay').to.be.greaterThan(0);
    expect(swarm.stats.corruptCaught).to.equal(0);
  });

  it('two peers that both have TLS use the direct channel', async () => {
    const content = randomBytes(200 * 1024);
    await writeFile(join(dir, 'in2.bin'), content);
    const meta = await usages.get(net.nodes[0]!)!.seed(join(dir, 'in2.bin'));
    const leecher = usages.get(net.nodes[1]!)!;
    const swarm = await leecher.download(meta.swarmId, join(dir, 'out2.bin'));
    await swarm.done;
    expect((await readFile(join(dir, 'out2.bin'))).equals(content)).to.equal(true);
    expect(leecher.channelsOpened.overlay).to.equal(0);
  });
});
