import { expect } from 'chai';
import { ErrorCode } from '../../../overlay/errors.js';
import { idEquals, resourceIdOf } from '../../../overlay/id.js';
import { certificateResources, checkAccess, nodeMultipleResource, nodeResource, userResource } from '../../../overlay/storage/access-control.js';
import { CERTIFICATE_BY_NODE, CERTIFICATE_BY_USER } from '../../../overlay/storage/kinds.js';
import type { Kind } from '../../../overlay/storage/types.js';
import { expectReloadError } from '../../helpers/expect-reload-error.js';
import { bytesOf, enrollPeople, entry, keyed, KINDS, peer, single, type People } from './fixture.js';

describe('access control policies (RFC 6940 §7.3)', () => {
  let p: People;
  before(async () => {
    p = await enrollPeople();
  });

  it('computes the Resource-IDs each policy binds to, with the overlay hash', () => {
    for (const hash of ['sha1', 'sha256'] as const) {
      expect(userResource('alice@test.reload', hash)).to.deep.equal(resourceIdOf('alice@test.reload', hash));
      expect(nodeResource(p.alice.nodeId, hash)).to.deep.equal(resourceIdOf(p.alice.nodeId, hash));
      const suffixed = Buffer.concat([p.alice.nodeId, Buffer.from([0, 0, 0, 2])]);
      expect(nodeMultipleResource(p.alice.nodeId, 2, hash)).to.deep.equal(resourceIdOf(suffixed, hash));
    }
    const { byNode, byUser } = certificateResources(p.alice, 'sha1');
    expect(idEquals(byNode, nodeResource(p.alice.nodeId, 'sha1')) && idEquals(byUser, userResource(p.alice.user, 'sha1'))).to.equal(true);
  });

  it('lets an identity publish its certificate under CERTIFICATE_BY_NODE and CERTIFICATE_BY_USER, and nobody else', () => {
    const { byNode, byUser } = certificateResources(p.alice, 'sha1');
    const cert = entry(0, 'der');
    checkAccess(CERTIFICATE_BY_NODE, byNode, cert, peer(p.pki, p.alice), 'sha1');
    checkAccess(CERTIFICATE_BY_USER, byUser, cert, peer(p.pki, p.alice), 'sha1');
    expectReloadError(() => checkAccess(CERTIFICATE_BY_NODE, byNode, cert, peer(p.pki, p.bob), 'sha1'), ErrorCode.Forbidden, { reason: 'access_denied', message: /NODE-MATCH/ });
    expectReloadError(() => checkAccess(CERTIFICATE_BY_USER, byUser, cert, peer(p.pki, p.bob), 'sha1'), ErrorCode.Forbidden, { reason: 'access_denied', message: /USER-MATCH/ });
    // The same resource under the other hash is another resource.
    expectReloadError(() => checkAccess(CERTIFICATE_BY_USER, byUser, cert, peer(p.pki, p.alice), 'sha256'), ErrorCode.Forbidden, { reason: 'access_denied' });
  });

  it('USER-NODE-MATCH checks the user, the key, and the data model', () => {
    const kind = KINDS.members as Kind;
    const at = userResource(p.alice.user, 'sha1');
    checkAccess(kind, at, keyed(p.alice.nodeId, 'x'), peer(p.pki, p.alice), 'sha1');
    expectReloadError(() => checkAccess(kind, at, keyed(bytesOf('not a node id'), 'x'), peer(p.pki, p.alice), 'sha1'), ErrorCode.Forbidden, { message: /key is not the signer's Node-ID/ });
    expectReloadError(() => checkAccess(kind, at, single('x'), peer(p.pki, p.alice), 'sha1'), ErrorCode.Forbidden, { message: /dictionary values only/ });
  });

  it('NODE-ID-MATCH (RFC 7374): any resource, but only under the signer\'s own Node-ID', () => {
    const kind = { ...(KINDS.members as Kind), accessControl: 'NODE-ID-MATCH' } as Kind;
    const shared = resourceIdOf('some swarm', 'sha1');
    checkAccess(kind, shared, keyed(p.alice.nodeId, 'x'), peer(p.pki, p.alice), 'sha1');
    checkAccess(kind, shared, keyed(p.bob.nodeId, 'y'), peer(p.pki, p.bob), 'sha1');
    expectReloadError(() => checkAccess(kind, shared, keyed(p.alice.nodeId, 'x'), peer(p.pki, p.bob), 'sha1'), ErrorCode.Forbidden, { message: /NODE-ID-MATCH.*key is not the signer's Node-ID/ });
    expectReloadError(() => checkAccess(kind, shared, single('x'), peer(p.pki, p.alice), 'sha1'), ErrorCode.Forbidden, { message: /dictionary values only/ });
  });

  it('fails closed for a policy it does not implement', () => {
    const kind = { ...KINDS.userValue, accessControl: 'ANYONE' } as unknown as Kind;
    expectReloadError(() => checkAccess(kind, userResource(p.alice.user, 'sha1'), single('x'), peer(p.pki, p.alice), 'sha1'), ErrorCode.Forbidden, { reason: 'access_denied' });
  });
});
