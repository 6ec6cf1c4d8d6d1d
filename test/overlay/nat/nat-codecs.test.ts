/**
 * The NAT-traversal fields of Attach and AppAttach, and the Reachability answer: what goes out
 * comes back, and every malformed field is refused as Invalid_Message naming it.
 */
import { expect } from 'chai';
import { ErrorCode } from '../../../overlay/errors.js';
import type { Link } from '../../../overlay/link/link.js';
import { appAttachRequestBody, parseAppAttachAnswer } from '../../../overlay/methods/app-attach.js';
import { attachAnswerBody, attachRequestBody, parseAttachAnswer, parseAttachRequest, type AttachPlan } from '../../../overlay/methods/attach.js';
import { judgeReachability, parseReachabilityAnswer } from '../../../overlay/nat/reachability.js';
import { parseRelayReserveAnswer, relayIncomingBody } from '../../../overlay/nat/relay-methods.js';
import { expectReloadError } from '../../helpers/expect-reload-error.js';

const invalid = (fn: () => unknown, message: RegExp) => expectReloadError(fn, ErrorCode.Invalid_Message, { message });

describe('NAT traversal fields (Attach, AppAttach, Reachability, relay)', () => {
  it('an Attach offer and every plan round-trip', () => {
    const candidates = [{ host: '10.1.0.10', port: 4000 }];
    const offer = { dialable: false, punch: { host: '203.0.113.102', port: 40001 } };
    expect(parseAttachRequest(attachRequestBody(candidates, offer))).to.deep.equal({ candidates, traversal: offer });
    expect(parseAttachRequest(attachRequestBody(candidates, { dialable: null, punch: undefined }))).to.deep.equal({ candidates, traversal: { dialable: null, punch: undefined } });
    // A lookup wants no link: no traversal, and the answerer plans direct.
    expect(parseAttachRequest(attachRequestBody(candidates))).to.deep.equal({ candidates, traversal: undefined });
    const sprayed = { dialable: false, punch: undefined, spray: '203.0.113.105' };
    expect(parseAttachRequest(attachRequestBody(candidates, sprayed))).to.deep.equal({ candidates, traversal: sprayed });
    const relay = { host: '203.0.113.10', port: 7000 };
    const plans: AttachPlan[] = [
      { kind: 'direct' },
      { kind: 'reverse' },
      { kind: 'none' },
      { kind: 'punch', at: offer.punch, relay },
      { kind: 'punch', at: offer.punch, relay: undefined },
      { kind: 'relay', at: relay },
      { kind: 'spray', at: offer.punch, relay },
      { kind: 'spray', at: offer.punch, relay: undefined },
    ];
    for (const plan of plans) expect(parseAttachAnswer(attachAnswerBody({ candidates, plan }))).to.deep.equal({ candidates, plan });
    // An answer without a plan (an older answerer) is direct.
    expect(parseAttachAnswer([['1.2.3.4:5']]).plan).to.deep.equal({ kind: 'direct' });
    const app = appAttachRequestBody(61500, candidates, offer);
    expect(app).to.deep.equal([61500, ['10.1.0.10:4000'], [false, '203.0.113.102:40001']]);
    expect(parseAppAttachAnswer([61500, ['1.2.3.4:5'], ['relay', '203.0.113.10:7000']], 61500)).to.deep.equal({ candidates: [{ host: '1.2.3.4', port: 5 }], plan: { kind: 'relay', at: { host: '203.0.113.10', port: 7000 } } });
  });

  it('refuses malformed traversal fields and plans', () => {
    invalid(() => parseAttachRequest([[], false, [false]]), /traversal must be/);
    invalid(() => parseAttachRequest([[], false, ['yes', null]]), /traversal must be/);
    invalid(() => parseAttachRequest([[], false, [false, 7]]), /punch address must be a "host:port" string/);
    invalid(() => parseAttachRequest([[], false, [false, 'nowhere']]), /not host:port/);
    invalid(() => parseAttachRequest([[], false, null, 4]), /AttachReq must be/);
    invalid(() => parseAttachAnswer([[], 'teleport']), /plan must be/);
    invalid(() => parseAttachAnswer([[], ['punch']]), /plan must be/);
    invalid(() => parseAttachAnswer([[], ['punch', '1.2.3.4:5']]), /plan must be/);
    invalid(() => parseAttachAnswer([[], ['relay', '1.2.3.4:99999']]), /not host:port/);
    invalid(() => parseAttachAnswer([[], ['spray', '1.2.3.4:5']]), /plan must be/);
    invalid(() => parseAttachAnswer([[], ['spray', '1.2.3.4:5', 'nowhere']]), /spray's relay address/);
    invalid(() => parseAttachRequest([[], false, [false, null, 'not an address']]), /spray address/);
    invalid(() => parseAttachRequest([[], false, [false, null, '1.2.3.4', 5]]), /traversal must be/);
    invalid(() => parseAppAttachAnswer([61500, [], 'reverse', 1], 61500), /AppAttachAns must be/);
    invalid(() => parseAppAttachAnswer([61501, []], 61500), /AppAttachAns must be/);
  });

  it('refuses malformed Reachability and RelayReserve answers', () => {
    expect(parseReachabilityAnswer(['203.0.113.102:41234', false])).to.deep.equal({ observed: { host: '203.0.113.102', port: 41234 }, dialledBack: false });
    expect(parseReachabilityAnswer(['[::1]:6084', null]).observed).to.deep.equal({ host: '::1', port: 6084 });
    invalid(() => parseReachabilityAnswer(['203.0.113.102:41234']), /ReachabilityAns must be/);
    invalid(() => parseReachabilityAnswer(['203.0.113.102:41234', 'yes']), /ReachabilityAns must be/);
    invalid(() => parseReachabilityAnswer(['somewhere', true]), /not ip:port/);
    invalid(() => parseReachabilityAnswer(['x'.repeat(101), true]), /ReachabilityAns must be/);
    expect(parseRelayReserveAnswer(['203.0.113.10:7000'])).to.deep.equal({ host: '203.0.113.10', port: 7000 });
    invalid(() => parseRelayReserveAnswer([]), /RelayReserveAns must be/);
    invalid(() => parseRelayReserveAnswer(['7000']), /not ip:port/);
    expect(relayIncomingBody('00112233445566ff', 'ab'.repeat(16), undefined)).to.deep.equal(['00112233445566ff', 'ab'.repeat(16), null]);
  });

  describe('judging reachability from the answers', () => {
    const link = (localAddress?: string) => ({ localAddress }) as unknown as Link;
    const answer = (observed: string, dialledBack: boolean | null) => parseReachabilityAnswer([observed, dialledBack]);

    it('seen at its own address and dialled back: dialable, no NAT', () => {
      expect(judgeReachability([{ answer: answer('203.0.113.10:40000', true), link: link('203.0.113.10:40000') }])).to.deep.equal({ observed: '203.0.113.10:40000', dialable: true, mapping: 'none' });
    });

    it('behind a NAT that keeps ports: another address, the same ports, not dialable', () => {
      const answers = [
        { answer: answer('203.0.113.102:40000', false), link: link('10.3.0.10:40000') },
        { answer: answer('203.0.113.102:40100', false), link: link('10.3.0.10:40100') },
      ];
      expect(judgeReachability(answers)).to.deep.equal({ observed: '203.0.113.102:40000', dialable: false, mapping: 'port-preserving' });
    });

    it('one port changed is enough to call the NAT port-changing; one dial-back through is enough to be dialable', () => {
      const answers = [
        { answer: answer('203.0.113.105:40000', false), link: link('10.6.0.10:40000') },
        { answer: answer('203.0.113.105:51234', true), link: link('10.6.0.10:40100') },
      ];
      expect(judgeReachability(answers)).to.deep.include({ dialable: true, mapping: 'port-changing' });
    });

    it('IPv4-mapped local addresses compare equal; no answers, or no dial-back tried, know nothing', () => {
      expect(judgeReachability([{ answer: answer('127.0.0.1:5000', null), link: link('[::ffff:127.0.0.1]:5000') }])).to.deep.equal({ observed: '127.0.0.1:5000', dialable: null, mapping: 'none' });
      expect(judgeReachability([])).to.deep.equal({ observed: null, dialable: null, mapping: null });
      // A link with no local address (a memory link) says nothing of the mapping.
      expect(judgeReachability([{ answer: answer('1.2.3.4:5', true), link: link() }]).mapping).to.equal(null);
    });
  });
});
