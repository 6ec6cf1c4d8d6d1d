import { expect } from 'chai';
import { RoutingMetrics } from '../../../overlay/routing/metrics.js';

describe('routing metrics', () => {
  it('renders the families of added sources, with labels escaped, at each render', () => {
    const m = new RoutingMetrics();
    let held = 3;
    m.addSource(() => [{ name: 'reload_storage_values', type: 'gauge', help: 'Values held by kind.', samples: [{ labels: { kind: 'a"b\\c' }, value: held }] }]);
    expect(m.render()).to.contain('# TYPE reload_storage_values gauge\nreload_storage_values{kind="a\\"b\\\\c"} 3\n');
    held = 5;
    expect(m.render()).to.contain('reload_storage_values{kind="a\\"b\\\\c"} 5\n');
  });
});
