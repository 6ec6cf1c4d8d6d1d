/**
 * The certificate store usage (RFC 6940 §8): every node stores its certificate under
 * CERTIFICATE_BY_NODE at H(Node-ID) and CERTIFICATE_BY_USER at H(user name), so that messages and
 * stored values may name their signer by certificate hash alone and receivers look it up.
 */
import type { Identity } from '../../certs/identity.js';
import type { Id, IdHash } from '../id.js';
import { certificateResources, nodeResource } from './access-control.js';
import { CERTIFICATE_BY_NODE, CERTIFICATE_BY_USER } from './kinds.js';
import type { StorageService } from './storage-service.js';

/**
 * Stores this node's certificate in both kinds. The by-node array has one slot per node; the
 * by-user array is shared by the user's nodes, each writing the slot its Node-ID picks, so that a
 * user's nodes (and old and new certificates during a renewal) coexist.
 */
export async function publishCertificate(storage: StorageService, identity: Identity, hash: IdHash): Promise<void> {
  const { byNode, byUser } = certificateResources(identity, hash);
  const value = { exists: true, value: identity.certDer };
  await storage.store(CERTIFICATE_BY_NODE.name, byNode, { model: 'array', index: 0, value });
  await storage.store(CERTIFICATE_BY_USER.name, byUser, { model: 'array', index: identity.nodeId[0]! % CERTIFICATE_BY_USER.maxCount, value });
}

/**
 * The certificates stored for a node (each value's signature already verified by the fetch). The
 * request carries the asker's own certificate, so the node asked never has to look one up first.
 */
export async function fetchCertificates(storage: StorageService, nodeId: Id, hash: IdHash): Promise<Uint8Array[]> {
  const r = await storage.fetch(CERTIFICATE_BY_NODE.name, nodeResource(nodeId, hash), undefined, { withCertificate: true });
  return r.values.filter((v) => v.data.value.value.exists).map((v) => v.data.value.value.value);
}
