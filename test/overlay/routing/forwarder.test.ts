import { expect } from 'chai';
import { ErrorCode, ReloadError } from '../../../overlay/errors.js';
import type { Id } from '../../../overlay/id.js';
import { silentLogger } from '../../../overlay/log.js';
import { pingRequestBody } from '../../../overlay/methods/ping.js';
import { Forwarder, type ForwarderOptions } from '../../../overlay/routing/forwarder.js';
import { RoutingMetrics } from '../../../overlay/routing/metrics.js';
import { encodeCbor } from '../../../overlay/wire/cbor.js';
import { encodeMessage, overlayHash } from '../../../overlay/wire/codec.js';
import { MessageCode } from '../../../overlay/wire/codes.js';
import { newHeader } from '../../../overlay/wire/header.js';
import { signMessage } from '../../../overlay/wire/sign.js';
import { sharedPki, TEST_OVERLAY } from '../../helpers/pki.js';
import { RecordingLink } from '../../helpers/recording-link.js';

const MAX_MESSAGE = 64 * 1024;

/** A forwarder for `self` with the test overlay's header values; `parts` says how it routes and delivers. */
function forwarderFor(self: Id, parts: Pick<ForwarderOptions, 'policy' | 'deliver' | 'sendError'> & Partial<ForwarderOptions>): Forwarder {
  return new Forwarder({ self, overlayHash: overlayHash(TEST_OVERLAY), configSequence: 1, initialTtl: 100, maxMessageSize: MAX_MESSAGE, metrics: new RoutingMetrics(), log: silentLogger, ...parts });
}

describe('overlay/routing/forwarder: faults of this node', () => {
  it('a throw inside deliver that is not a ReloadError is a fault: counted, reported, and answered as internal_error, not as the peer\'s bad input', async () => {
    const pki = await sharedPki();
    const [self, peer] = [await pki.enroll(), await pki.enroll()];
    const from = new RecordingLink(peer.nodeId, MAX_MESSAGE);
    const metrics = new RoutingMetrics();
    const faults: string[] = [];
    const answered: ReloadError[] = [];
    const forwarder = forwarderFor(self.nodeId, {
      metrics,
      policy: { nextHop: () => ({ kind: 'none' }) },
      deliver: () => {
        throw new TypeError('a defect in a handler');
      },
      sendError: (_request, error) => {
        answered.push(error);
        if (answered.length === 2) throw new RangeError('a defect while answering');
      },
      onFault: (e, stage) => faults.push(`${stage}: ${(e as Error).message}`),
    });
    const header = newHeader({ overlay: TEST_OVERLAY, sequence: 1, initialTtl: 50 }, [{ type: 'node', id: self.nodeId }], [{ type: 'node', id: peer.nodeId }]);
    const ping = signMessage(header, { code: MessageCode.PingReq, body: encodeCbor(pingRequestBody(16)), extensions: [] }, peer);

    forwarder.receive(encodeMessage(ping), from);
    expect(faults).to.deep.equal(['routing: a defect in a handler']);
    expect(answered.map((e) => [e.code, e.reason])).to.deep.equal([[ErrorCode.Invalid_Message, 'internal_error']]);
    expect(metrics.faultCount()).to.equal(1);
    expect(metrics.render()).to.contain('reload_internal_faults_total{stage="routing"} 1');

    // A defect while answering is a fault too, not a silent "unanswerable".
    forwarder.receive(encodeMessage(ping), from);
    expect(faults).to.deep.equal(['routing: a defect in a handler', 'routing: a defect in a handler', 'answering: a defect while answering']);
    expect(metrics.errorCount(ErrorCode.Invalid_Message, 'unanswerable')).to.equal(0);
  });
});

describe('overlay/routing/forwarder: destination lists', () => {
  it('refuses a list that names a node twice, short or long, and passes one of distinct nodes', async () => {
    const pki = await sharedPki();
    const [self, peer] = [await pki.enroll(), await pki.enroll()];
    const from = new RecordingLink(peer.nodeId, MAX_MESSAGE);
    const refused: (string | undefined)[] = [];
    let delivered = 0;
    const forwarder = forwarderFor(self.nodeId, {
      // Every hop after this node is taken for this node's own: a list that passes the check is delivered here.
      policy: { nextHop: () => ({ kind: 'local' }) },
      deliver: () => delivered++,
      sendError: (_request, error) => refused.push(error.reason),
    });
    const others = Array.from({ length: 20 }, (_, i) => ({ type: 'node' as const, id: Uint8Array.from({ length: 16 }, (_, b) => (b === 0 ? i + 1 : 7)) as typeof self.nodeId }));
    const send = (destinations: typeof others) => {
      const header = newHeader({ overlay: TEST_OVERLAY, sequence: 1, initialTtl: 50 }, destinations, [{ type: 'node', id: peer.nodeId }]);
      forwarder.receive(encodeMessage(signMessage(header, { code: MessageCode.PingReq, body: encodeCbor(pingRequestBody(0)), extensions: [] }, peer)), from);
    };
    send([others[0]!, others[1]!, others[0]!]);
    send([...others, others[19]!]);
    expect(refused).to.deep.equal(['duplicate_destination', 'duplicate_destination']);
    send(others.slice(0, 3));
    send(others);
    expect(refused).to.have.length(2);
    expect(delivered).to.equal(2);
  });
});
