import { expect } from 'chai';
import { idToHex, randomId } from '../../overlay/id.js';
import type { Node } from '../../overlay/node.js';
import { RingTruth, startTestnet, type Testnet } from '../helpers/testnet.js';
import { allPairsPing } from '../helpers/ping.js';
import { waitFor } from '../helpers/wait.js';
import { wrongNeighbours } from '../helpers/ring-check.js';
import { fuzzSeed, printReplayOnFailure, Prng } from '../helpers/prng.js';

const PEERS = 32;

/** Routes random Resource-IDs from random nodes and compares with the ground-truth owner. */
async function misroutes(nodes: Node[], count: number, rng: Prng): Promise<string[]> {
  const truth = new RingTruth(nodes.map((n) => n.nodeId));
  const wrong: string[] = [];
  for (let i = 0; i < count; i += 20) {
    await Promise.all(
      Array.from({ length: Math.min(20, count - i) }, async () => {
        const key = randomId();
        const from = rng.pick(nodes);
        try {
          const r = await from.route(key);
          if (r.responsible !== truth.responsible(key)) wrong.push(`${idToHex(key)}: ${r.responsible}, truth ${truth.responsible(key)}`);
        } catch (e) {
          wrong.push(`${idToHex(key)}: ${(e as Error).message}`);
        }
      }),
    );
  }
  return wrong;
}

describe(`the overlay: ${PEERS} peers over TLS`, function () {
  this.timeout(300_000);
  let net: Testnet;
  const seed = fuzzSeed();
  printReplayOnFailure(seed, import.meta.url);
  const rng = new Prng(seed);
  const k = () => net.config.chord.neighbourCount;
  /**
   * How long repair may take, from the config: stabilization rounds plus the failure timeout,
   * generous for a loaded 2-core machine (waitFor returns as soon as the tables are right).
   */
  const repairBoundMs = () => 20 * net.config.chord.updateIntervalMs + net.config.chord.neighbourTimeoutMs;

  before(async () => {
    net = await startTestnet(PEERS, { batch: 4 });
  });

  after(async () => net && (await net.stopAll()));

  it('joins through one bootstrap node in batches; every neighbour table equals the ground truth', async () => {
    expect(net.nodes.every((n) => n.state === 'joined')).to.equal(true);
    await waitFor(() => wrongNeighbours(net.nodes, k()).length === 0, repairBoundMs(), 'neighbour tables').catch((e: Error) => {
      throw new Error(`${e.message}:\n${wrongNeighbours(net.nodes, k()).join('\n')}`);
    });
  });

  it(`every ordered pair pings (${PEERS * (PEERS - 1)} pings), zero failures`, async () => {
    expect(await allPairsPing(net.nodes)).to.deep.equal([]);
  });

  it('500 random Resource-IDs route to the node the ground truth holds responsible', async () => {
    expect(await misroutes(net.nodes, 500, rng), `seed ${seed}`).to.deep.equal([]);
  });

  it('10 peers killed abruptly: tables repair to the ground truth and survivors all ping each other', async () => {
    const victims = [...net.nodes].sort(() => rng.next() - 0x80000000).slice(0, 10);
    await Promise.all(victims.map((v) => v.stop({ leave: false })));
    const survivors = net.nodes.filter((n) => !victims.includes(n));
    await waitFor(() => wrongNeighbours(survivors, k()).length === 0, repairBoundMs(), 'repaired neighbour tables').catch((e: Error) => {
      throw new Error(`${e.message} (seed ${seed}):\n${wrongNeighbours(survivors, k()).join('\n')}`);
    });
    expect(await allPairsPing(survivors)).to.deep.equal([]);
    expect(await misroutes(survivors, 200, rng), `seed ${seed}`).to.deep.equal([]);
    net.nodes.splice(0, net.nodes.length, ...survivors);
  });

  it('5 more leave gracefully, one after another: no failed route right after each', async () => {
    const leaving = net.nodes.slice(1, 6);
    let rest = net.nodes;
    // Leave hands the neighbours over, so the ring is right without waiting for stabilization.
    // One at a time: when adjacent nodes leave at once, each may hand over a neighbour that is
    // itself on its way out, and only stabilization (tested above, after abrupt failures) can
    // mend that.
    for (const node of leaving) {
      await node.stop({ leave: true });
      rest = rest.filter((n) => n !== node);
      expect(await misroutes(rest, 100, rng), `seed ${seed}, after ${node.nodeIdHex} left`).to.deep.equal([]);
    }
    expect(await allPairsPing(rest)).to.deep.equal([]);
    await waitFor(() => wrongNeighbours(rest, k()).length === 0, repairBoundMs(), 'neighbour tables after leave');
    net.nodes.splice(0, net.nodes.length, ...rest);
  });
});
