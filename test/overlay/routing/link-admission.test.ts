import { expect } from 'chai';
import { VirtualClock } from '../../../overlay/clock.js';
import { ErrorCode, type ReloadError } from '../../../overlay/errors.js';
import { randomId } from '../../../overlay/id.js';
import type { Link } from '../../../overlay/link/link.js';
import { memoryLinkPair } from '../../../overlay/link/memory-link.js';
import { silentLogger } from '../../../overlay/log.js';
import { admitSecondLink, duplicateNodeId, judgeSecondLink, type LinkProbe } from '../../../overlay/routing/link-admission.js';
import { RoutingMetrics } from '../../../overlay/routing/metrics.js';

/** Only identity matters to the judge: the probe decides what each link answers. */
const link = (name: string) => ({ remoteAddress: name }) as unknown as Link;

function probeAnswering(answers: Map<Link, Uint8Array | 'silent'>): LinkProbe {
  return async (l) => {
    const a = answers.get(l);
    if (a === undefined || a === 'silent') throw new Error('no answer in time');
    return a;
  };
}

describe('routing/link-admission: a second link for a Node-ID', () => {
  const old = link('old');
  const fresh = link('fresh');
  const one = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
  const other = Uint8Array.from([8, 7, 6, 5, 4, 3, 2, 1]);

  it('is refused when another process (another instance id) answers on each link', async () => {
    expect(await judgeSecondLink(old, fresh, probeAnswering(new Map([[old, one], [fresh, other]])))).to.equal('refuse');
  });

  it('is kept beside the first when both reach one process (both sides dialed at once)', async () => {
    expect(await judgeSecondLink(old, fresh, probeAnswering(new Map([[old, one], [fresh, Uint8Array.from(one)]])))).to.equal('keep');
  });

  it('replaces the first when the first no longer answers (a node that crashed and came back)', async () => {
    expect(await judgeSecondLink(old, fresh, probeAnswering(new Map<Link, Uint8Array | 'silent'>([[old, 'silent'], [fresh, other]])))).to.equal('replace');
  });

  it('is dropped when it does not answer while the first does', async () => {
    expect(await judgeSecondLink(old, fresh, probeAnswering(new Map<Link, Uint8Array | 'silent'>([[old, one], [fresh, 'silent']])))).to.equal('drop');
  });

  it('the refusal is Forbidden, reason duplicate_node_id, naming the Node-ID', () => {
    const e = duplicateNodeId('ab'.repeat(16));
    expect(e.code).to.equal(ErrorCode.Forbidden);
    expect(e.reason).to.equal('duplicate_node_id');
    expect(e.message).to.equal(`Forbidden: Node-ID ${'ab'.repeat(16)} is already in the overlay (another process runs this identity?)`);
  });
});

describe('routing/link-admission: acting on the verdict', () => {
  const self = { nodeId: randomId(), user: 'self@test.reload' };
  const peer = { nodeId: randomId(), user: 'peer@test.reload' };

  /** `answers` says what each link's far end answers a probe with (undefined: nothing). */
  function setup(answers: (which: 'old' | 'fresh') => Uint8Array | undefined) {
    const clock = new VirtualClock();
    const [old] = memoryLinkPair(self, peer, { clock });
    const [fresh] = memoryLinkPair(self, peer, { clock });
    const refused: [Link, ReloadError][] = [];
    const metrics = new RoutingMetrics();
    const admitted = admitSecondLink(old, fresh, {
      clock,
      log: silentLogger,
      metrics,
      probe: async (l) => answers(l === fresh ? 'fresh' : 'old') ?? Promise.reject(new Error('no answer')),
      refuseLink: (l, e) => refused.push([l, e]),
      refusalGraceMs: 6000,
      running: () => true,
    });
    return { clock, old, fresh, refused, metrics, admitted };
  }

  it('refuse: the newcomer\'s requests get duplicate_node_id for the grace period, then its link closes; the first link stays', async () => {
    const { clock, old, fresh, refused, metrics, admitted } = setup((which) => Uint8Array.of(which === 'fresh' ? 2 : 1));
    await admitted;
    expect(refused.map(([l, e]) => [l, e.reason])).to.deep.equal([[fresh, 'duplicate_node_id']]);
    expect(metrics.errorCount(ErrorCode.Forbidden, 'duplicate_node_id')).to.equal(1);
    clock.advance(5999);
    expect(fresh.open).to.equal(true);
    clock.advance(1);
    expect(fresh.open).to.equal(false);
    expect(old.open).to.equal(true);
    clock.advance(1); // the memory link delivers its close
    expect(clock.pendingCount).to.equal(0);
  });

  it('refuse: a newcomer that goes away during the grace period leaves no timer behind', async () => {
    const { clock, fresh, admitted } = setup((which) => Uint8Array.of(which === 'fresh' ? 2 : 1));
    await admitted;
    fresh.close();
    clock.advance(1); // the memory link delivers its close
    expect(clock.pendingCount).to.equal(0);
  });

  it('replace: the first link, which no longer answers, is closed; the newcomer stays', async () => {
    const { old, fresh, refused, admitted } = setup((which) => (which === 'fresh' ? Uint8Array.of(1) : undefined));
    await admitted;
    expect(old.open).to.equal(false);
    expect(fresh.open).to.equal(true);
    expect(refused).to.deep.equal([]);
  });

  it('keep: both links to one process stay open', async () => {
    const { old, fresh, refused, admitted } = setup(() => Uint8Array.of(1));
    await admitted;
    expect([old.open, fresh.open]).to.deep.equal([true, true]);
    expect(refused).to.deep.equal([]);
  });
});
