/**
 * A method handler that throws something other than a ReloadError is a bug of this node: the
 * requester gets a generic Invalid_Message (handler_failed), and the fault is counted
 * (reload_internal_faults_total on /metrics) and logged at error level, not hidden as the peer's bad input.
 */
import { expect } from 'chai';
import { newOverlayConfig } from '../../overlay/config.js';
import { ErrorCode, ReloadError } from '../../overlay/errors.js';
import { createLogger } from '../../overlay/log.js';
import { Node } from '../../overlay/node.js';
import { USAGE_CODE_MIN } from '../../overlay/wire/codes.js';
import { sharedPki, TEST_OVERLAY } from '../helpers/pki.js';

const BROKEN = USAGE_CODE_MIN + 1; // a request code (odd) no other test registers

describe('a handler fault', function () {
  this.timeout(20_000);
  const nodes: Node[] = [];
  after(() => Promise.all(nodes.map((n) => n.stop({ leave: false }))));

  it('is answered handler_failed, counted as an internal fault (reload_internal_faults_total{stage="handler"}) and logged with its stack', async () => {
    const pki = await sharedPki();
    const config = newOverlayConfig(TEST_OVERLAY, pki.ca.certPem);
    const errors: string[] = [];
    const log = createLogger('a', (level, _ns, msg) => level === 'error' && errors.push(msg));
    const a = new Node({ config, identity: await pki.enroll(), listen: { host: '127.0.0.1', port: 0 }, logger: log });
    nodes.push(a);
    a.dispatcher.register({ code: BROKEN, handle: () => (undefined as unknown as { x: number[] }).x[0] });
    await a.start();
    const port = Number(/:(\d+)$/.exec(a.listenAddress!)![1]);
    const b = new Node({ config, identity: await pki.enroll(), bootstrap: [{ host: '127.0.0.1', port }] });
    nodes.push(b);
    await b.start();

    const refused = await b.request([{ type: 'node', id: a.identity.nodeId }], BROKEN, null).catch((e: unknown) => e);
    expect(refused).to.be.instanceOf(ReloadError);
    expect(refused).to.include({ code: ErrorCode.Invalid_Message, reason: 'handler_failed' });
    expect(a.metrics.faultCount()).to.equal(1);
    expect(errors.some((m) => /failed: TypeError/.test(m)), errors.join('\n')).to.equal(true);
  });
});
