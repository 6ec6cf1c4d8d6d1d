import { expect } from 'chai';
import { ConfigError, USER_VALUE_KIND } from '../../../overlay/config.js';
import { ErrorCode } from '../../../overlay/errors.js';
import { MAX_VALUES_PER_KIND } from '../../../overlay/storage/codec.js';
import { CERTIFICATE_BY_NODE, CERTIFICATE_BY_USER, KindRegistry } from '../../../overlay/storage/kinds.js';
import type { Kind } from '../../../overlay/storage/types.js';
import { expectReloadError } from '../../helpers/expect-reload-error.js';

describe('KindRegistry', () => {
  it('always holds the RFC 6940 §8 certificate-store kinds, then the configured ones', () => {
    const kinds = new KindRegistry([USER_VALUE_KIND]);
    expect(kinds.all().map((k) => k.id)).to.deep.equal([3, 0x10, USER_VALUE_KIND.id]);
    expect(kinds.byId(3)).to.include({ name: 'certificate-by-node', dataModel: 'array', accessControl: 'NODE-MATCH' });
    expect(kinds.byName('certificate-by-user')).to.include({ id: 0x10, dataModel: 'array', accessControl: 'USER-MATCH' });
    expect(new KindRegistry().all()).to.deep.equal([CERTIFICATE_BY_NODE, CERTIFICATE_BY_USER]);
  });

  it('resolves by number, decimal or hex digits, and name; anything else is Unknown_Kind', () => {
    const kinds = new KindRegistry([USER_VALUE_KIND]);
    for (const key of [USER_VALUE_KIND.id, String(USER_VALUE_KIND.id), '0xF0000001', 'user-value']) expect(kinds.resolve(key).name).to.equal('user-value');
    for (const key of [7, '7', 'nope', '0x', '']) expectReloadError(() => kinds.resolve(key), ErrorCode.Unknown_Kind, { reason: 'unknown_kind' });
    expect(kinds.byId(7)).to.equal(undefined);
    expect(kinds.byName('nope')).to.equal(undefined);
  });

  it('refuses a duplicate id or name, from the configuration or a usage', () => {
    expect(() => new KindRegistry([{ ...USER_VALUE_KIND, id: 3 }])).to.throw(ConfigError, /kind id 3 is already registered/);
    const kinds = new KindRegistry([USER_VALUE_KIND]);
    expect(() => kinds.register({ ...USER_VALUE_KIND, name: 'other' })).to.throw(ConfigError, /already registered/);
    expect(() => kinds.register({ ...USER_VALUE_KIND, id: 0xf0000002 })).to.throw(ConfigError, /name user-value is already registered/);
    kinds.register({ ...USER_VALUE_KIND, id: 0xf0000002, name: 'other' });
    expect(kinds.resolve('other').id).to.equal(0xf0000002);
  });

  it('refuses kinds it could not honour', () => {
    const bad: Partial<Kind>[] = [
      { id: 0 },
      { id: 0xffffffff },
      { maxSize: 0 },
      { maxCount: 0 },
      { maxCount: MAX_VALUES_PER_KIND + 1 },
      { accessControl: 'USER-NODE-MATCH' },
      { accessControl: 'NODE-MULTIPLE' },
      { dataModel: 'list' as never },
      { accessControl: 'ANYONE' as never },
    ];
    for (const change of bad) expect(() => new KindRegistry([{ ...USER_VALUE_KIND, ...change }]), JSON.stringify(change)).to.throw(ConfigError);
  });

  it('keeps its own frozen copy of each kind', () => {
    const kind = { ...USER_VALUE_KIND };
    const kinds = new KindRegistry([kind]);
    kind.maxSize = 1;
    expect(kinds.byId(kind.id)!.maxSize).to.equal(USER_VALUE_KIND.maxSize);
    expect(Object.isFrozen(kinds.byId(kind.id))).to.equal(true);
  });
});
