import { expect } from 'chai';
import { ErrorCode } from '../../../overlay/errors.js';
import type { Link } from '../../../overlay/link/link.js';
import { duplicateNodeId, judgeSecondLink, type LinkProbe } from '../../../overlay/routing/link-admission.js';

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
