import { expect } from 'chai';
import { VirtualClock } from '../../../overlay/clock.js';
import { randomId } from '../../../overlay/id.js';
import { memoryLinkPair } from '../../../overlay/link/memory-link.js';
import { ApplicationLinkQuota } from '../../../overlay/routing/application-link-quota.js';

describe('routing/application-link-quota', () => {
  const clock = new VirtualClock();
  const self = { nodeId: randomId(), user: 'self@test.reload' };
  const peer = (user: string) => ({ nodeId: randomId(), user });
  const linkFrom = (p: ReturnType<typeof peer>) => memoryLinkPair(self, p, { clock })[0];

  it('refuses a Node-ID beyond its share and the channel beyond its total, and frees a slot when a link closes', () => {
    const quota = new ApplicationLinkQuota(3, 2);
    const alice = peer('alice@test.reload');
    const [a1, a2] = [linkFrom(alice), linkFrom(alice)];
    expect(quota.admit(a1)).to.equal(undefined);
    expect(quota.admit(a2)).to.equal(undefined);
    expect(quota.admit(linkFrom(alice))?.reason).to.equal('application_per_node_limit');
    expect(quota.admit(linkFrom(peer('bob@test.reload')))).to.equal(undefined);
    expect(quota.admit(linkFrom(peer('carol@test.reload')))?.reason).to.equal('application_table_full');
    a1.close();
    expect(quota.admit(linkFrom(alice)), 'a slot freed by a close').to.equal(undefined);
  });
});
