/**
 * Test PKI: a root CA and enrolled identities made with the real enrollment code, memoised per
 * process so that the test run generates each RSA key once.
 */
import { createCsr, createRootCa, issueNodeCertificate, type KeyAlgorithm, type RootCa } from '../../certs/ca.js';
import { Identity } from '../../certs/identity.js';
import { TrustStore } from '../../certs/trust.js';

export const TEST_OVERLAY = 'test.reload';

export interface TestPki {
  ca: RootCa;
  trust: TrustStore;
  /** Enrolls a fresh identity for `user` (default: a unique name). */
  enroll(user?: string, opts?: { notBefore?: Date; validityDays?: number; key?: KeyAlgorithm }): Promise<Identity>;
}

let counter = 0;

export async function makePki(overlay = TEST_OVERLAY): Promise<TestPki> {
  const ca = await createRootCa({ overlay });
  return {
    ca,
    trust: new TrustStore([ca.certPem], overlay),
    async enroll(user = `user${++counter}@${overlay}`, { key, ...opts } = {}) {
      const { keyPem, csrPem } = await createCsr(user, key);
      const { certPem } = issueNodeCertificate(ca, csrPem, { overlay, user, ...opts });
      return new Identity(keyPem, certPem + ca.certPem);
    },
  };
}

const shared = new Map<string, Promise<TestPki>>();

/** One PKI per overlay name for the whole test run. */
export function sharedPki(overlay = TEST_OVERLAY): Promise<TestPki> {
  let pki = shared.get(overlay);
  if (!pki) shared.set(overlay, (pki = makePki(overlay)));
  return pki;
}
