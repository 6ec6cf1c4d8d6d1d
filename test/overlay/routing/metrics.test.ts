import { expect } from 'chai';
import { RoutingMetrics } from '../../../overlay/routing/metrics.js';
import { MessageCode } from '../../../overlay/wire/codes.js';

describe('routing metrics', () => {
  it('renders the families of added sources, with labels escaped, at each render', () => {
    const m = new RoutingMetrics();
    let held = 3;
    m.addSource(() => [{ name: 'reload_storage_values', type: 'gauge', help: 'Values held by kind.', samples: [{ labels: { kind: 'a"b\\c' }, value: held }] }]);
    expect(m.render()).to.contain('# TYPE reload_storage_values gauge\nreload_storage_values{kind="a\\"b\\\\c"} 3\n');
    held = 5;
    expect(m.render()).to.contain('reload_storage_values{kind="a\\"b\\\\c"} 5\n');
  });

  it('counts messages by direction and code, and renders them in the order first seen', () => {
    const m = new RoutingMetrics();
    m.countMessage('out', MessageCode.PingReq);
    m.countMessage('in', MessageCode.PingAns);
    m.countMessage('out', MessageCode.PingReq);
    m.countMessage('in', MessageCode.PingReq);
    expect(m.messagesSent(MessageCode.PingReq)).to.equal(2);
    expect(m.messagesSent(MessageCode.PingAns)).to.equal(0);
    expect(m.render()).to.contain(
      'reload_messages_total{direction="out",code="PingReq"} 2\nreload_messages_total{direction="in",code="PingAns"} 1\nreload_messages_total{direction="in",code="PingReq"} 1\n',
    );
  });
});
