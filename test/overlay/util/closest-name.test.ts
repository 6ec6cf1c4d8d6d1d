import { expect } from 'chai';
import { closestName, editDistance } from '../../../overlay/util/closest-name.js';

describe('overlay/util/closest-name', () => {
  it('measures edit distance ignoring case', () => {
    expect(editDistance('maxbytes', 'maxBytes')).to.equal(0);
    expect(editDistance('neighborCount', 'neighbourCount')).to.equal(1);
    expect(editDistance('kitten', 'sitting')).to.equal(3);
    expect(editDistance('', 'abc')).to.equal(3);
  });

  it('suggests the closest name only when it is a likely typo', () => {
    expect(closestName('replica', ['maxBytes', 'replicas'])).to.equal('replicas');
    expect(closestName('stauts', ['store', 'status', 'stat'])).to.equal('status');
    expect(closestName('zzzzzz', ['replicas', 'maxBytes'])).to.equal(undefined);
    expect(closestName('watch', ['fetch', 'get'])).to.equal(undefined);
  });
});
