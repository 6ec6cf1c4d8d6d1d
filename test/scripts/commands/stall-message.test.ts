import { expect } from 'chai';
import { stallMessage, type SwarmStatus } from '../../../scripts/commands/swarm.js';

/** What `get` says when a download stops moving: the cause when it is known, a retry only when it can help. */
describe('get: the stall message', () => {
  const base: SwarmStatus = {
    swarmId: 'ab'.repeat(32),
    complete: false,
    contentLength: 1000,
    have: 3,
    total: 10,
    percent: 30,
    bytesPerSec: 0,
    peers: [],
    uploadedBytes: 0,
    downloadedBytes: 3000,
    corruptCaught: 0,
    resumedChunks: 0,
    banned: [],
    peerErrors: {},
    outputs: [],
  };
  const peer = 'c'.repeat(32);

  it('names a peer whose data failed the root, and does not suggest running the command again', () => {
    const text = stallMessage({ ...base, corruptCaught: 1, banned: [peer] }, 5);
    expect(text).to.match(/^no new chunk for 5 s \(0 peers connected\): peer c{16} sent data that does not match the swarm's root: its copy changed or is corrupt\./);
    expect(text).not.to.match(/run the same command again/);
  });

  it('names a seeder that stopped because its file changed', () => {
    const text = stallMessage({ ...base, peerErrors: { [peer]: "seed_changed: the seeder's copy of the file changed" } }, 5);
    expect(text).to.match(/peer c{16} stopped serving the swarm: its copy of the file changed after it was seeded/);
    expect(text).not.to.match(/run the same command again/);
  });

  it('suggests a retry when nothing says it cannot help, and asks whether anyone seeds a swarm with no metadata', () => {
    expect(stallMessage({ ...base, peerErrors: { [peer]: 'unknown_swarm: not served here' } }, 5)).to.match(/run the same command again to resume$/);
    expect(stallMessage({ ...base, total: 0 }, 2)).to.match(/is anyone seeding it\?\); run the same command again to resume$/);
  });
});
