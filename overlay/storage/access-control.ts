/**
 * Access-control policies (RFC 6940 §7.3): who may write which Resource-ID. Each policy binds the
 * Resource-ID (and, for USER-NODE-MATCH, the dictionary key) to the user name or Node-ID of a
 * signer's certificate, so only the identity the CA issued can write there.
 */
import type { PeerCertificate } from '../../certs/trust.js';
import type { CertIdentity } from '../../certs/san.js';
import { ErrorCode, ReloadError } from '../errors.js';
import { idEquals, idToHex, resourceIdOf, type Id, type IdHash } from '../id.js';
import type { Kind, StoredDataValue } from './types.js';

/** USER-MATCH, USER-NODE-MATCH, CERTIFICATE_BY_USER: H(user name as UTF-8) (RFC 6940 §7.3.1). */
export function userResource(user: string, hash: IdHash): Id {
  return resourceIdOf(user, hash);
}

/** NODE-MATCH, CERTIFICATE_BY_NODE: H(the 16 Node-ID bytes) (RFC 6940 §7.3.2). */
export function nodeResource(nodeId: Id, hash: IdHash): Id {
  return resourceIdOf(nodeId, hash);
}

/**
 * NODE-MULTIPLE: H(Node-ID ‖ i) (RFC 6940 §7.3.4). The RFC does not fix how i is written; here it
 * is a 4-byte big-endian suffix, the form RFC 6940 §11.3.1 uses to number a node's ids.
 * @param i 1..the Kind's maxNodeMultiple
 */
export function nodeMultipleResource(nodeId: Id, i: number, hash: IdHash): Id {
  const input = Buffer.alloc(nodeId.length + 4);
  input.set(nodeId, 0);
  input.writeUInt32BE(i, nodeId.length);
  return resourceIdOf(input, hash);
}

/** Where an identity publishes its certificate (RFC 6940 §8): CERTIFICATE_BY_NODE and CERTIFICATE_BY_USER. */
export function certificateResources(identity: Pick<CertIdentity, 'nodeId' | 'user'>, hash: IdHash): { byNode: Id; byUser: Id } {
  return { byNode: nodeResource(identity.nodeId, hash), byUser: userResource(identity.user, hash) };
}

function denied(policy: string, why: string): ReloadError {
  return new ReloadError(ErrorCode.Forbidden, `${policy}: ${why}`, 'access_denied');
}

/**
 * Throws ReloadError(Forbidden, reason `access_denied`, the message naming the policy and why)
 * unless `signer` may write `value` of `kind` at `resource`. Deletions (exists = false) are writes
 * like any other: only who may store a value may delete it.
 * @param hash the overlay's Resource-ID hash
 */
export function checkAccess(kind: Kind, resource: Id, value: StoredDataValue, signer: PeerCertificate, hash: IdHash): void {
  const { user, nodeId, nodeIdHex } = signer.identity;
  const at = `resource ${idToHex(resource)}`;
  switch (kind.accessControl) {
    case 'USER-MATCH':
      if (!idEquals(userResource(user, hash), resource)) throw denied('USER-MATCH', `${at} is not H("${user}")`);
      return;
    case 'NODE-MATCH':
      if (!idEquals(nodeResource(nodeId, hash), resource)) throw denied('NODE-MATCH', `${at} is not H(Node-ID ${nodeIdHex})`);
      return;
    case 'USER-NODE-MATCH':
      if (value.model !== 'dictionary') throw denied('USER-NODE-MATCH', 'applies to dictionary values only');
      if (!idEquals(userResource(user, hash), resource)) throw denied('USER-NODE-MATCH', `${at} is not H("${user}")`);
      if (!idEquals(value.key, nodeId)) throw denied('USER-NODE-MATCH', `the dictionary key is not the signer's Node-ID ${nodeIdHex}`);
      return;
    case 'NODE-ID-MATCH':
      // RFC 7374 §5: anyone may register under a shared resource, but only under its own Node-ID.
      if (value.model !== 'dictionary') throw denied('NODE-ID-MATCH', 'applies to dictionary values only');
      if (!idEquals(value.key, nodeId)) throw denied('NODE-ID-MATCH', `the dictionary key is not the signer's Node-ID ${nodeIdHex}`);
      return;
    case 'NODE-MULTIPLE': {
      const max = kind.maxNodeMultiple ?? 0;
      for (let i = 1; i <= max; i++) if (idEquals(nodeMultipleResource(nodeId, i, hash), resource)) return;
      throw denied('NODE-MULTIPLE', `${at} is not H(Node-ID ${nodeIdHex} ‖ i) for any i in 1..${max}`);
    }
    default:
      // Fail closed: a policy this code does not implement grants nothing.
      throw denied(String(kind.accessControl), 'is not an access policy this node implements');
  }
}
