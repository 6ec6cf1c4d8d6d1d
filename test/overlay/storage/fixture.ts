/**
 * Shared setup of the storage tests: real enrolled identities, a Kind of each policy and model, a
 * StorageEngine on a virtual clock, and helpers to sign values and build store requests.
 */
import { expect } from 'chai';
import type { Identity } from '../../../certs/identity.js';
import type { PeerCertificate } from '../../../certs/trust.js';
import { VirtualClock } from '../../../overlay/clock.js';
import type { KindConfig } from '../../../overlay/config.js';
import type { ErrorCode, ReloadError } from '../../../overlay/errors.js';
import type { Id } from '../../../overlay/id.js';
import { userResource } from '../../../overlay/storage/access-control.js';
import { signStoredData } from '../../../overlay/storage/data-signature.js';
import { KindRegistry } from '../../../overlay/storage/kinds.js';
import { StorageEngine } from '../../../overlay/storage/storage-engine.js';
import type { DataValue, StoredData, StoredDataValue, StoreRequest } from '../../../overlay/storage/types.js';
import { expectReloadError } from '../../helpers/expect-reload-error.js';
import { sharedPki, type TestPki } from '../../helpers/pki.js';

/** The virtual clock's start; the test certificates are valid from a day before. */
export const START_MS = 1_700_000_000_000;
export const HASH = 'sha1';

export const KINDS = {
  userValue: { id: 0xf0000001, name: 'user-value', dataModel: 'single', accessControl: 'USER-MATCH', maxCount: 1, maxSize: 1024 },
  userList: { id: 0xf0000002, name: 'user-list', dataModel: 'array', accessControl: 'USER-MATCH', maxCount: 4, maxSize: 1024 },
  userDict: { id: 0xf0000003, name: 'user-dict', dataModel: 'dictionary', accessControl: 'USER-MATCH', maxCount: 4, maxSize: 1024 },
  nodeValue: { id: 0xf0000004, name: 'node-value', dataModel: 'single', accessControl: 'NODE-MATCH', maxCount: 1, maxSize: 1024 },
  members: { id: 0xf0000005, name: 'members', dataModel: 'dictionary', accessControl: 'USER-NODE-MATCH', maxCount: 8, maxSize: 1024 },
  turn: { id: 0xf0000006, name: 'turn', dataModel: 'single', accessControl: 'NODE-MULTIPLE', maxCount: 1, maxSize: 1024, maxNodeMultiple: 3 },
} satisfies Record<string, KindConfig>;

export interface People {
  pki: TestPki;
  alice: Identity;
  bob: Identity;
  /** Signs replica stores in the replication tests: a peer with no rights of its own. */
  carol: Identity;
}

let people: Promise<People> | undefined;

/** Three identities, enrolled once per test run, valid from a day before START_MS for a year. */
export function enrollPeople(): Promise<People> {
  people ??= (async () => {
    const pki = await sharedPki();
    const notBefore = new Date(START_MS - 86_400_000);
    const [alice, bob, carol] = await Promise.all(['alice@test.reload', 'bob@test.reload', 'carol@test.reload'].map((u) => pki.enroll(u, { notBefore })));
    return { pki, alice: alice!, bob: bob!, carol: carol! };
  })();
  return people;
}

export function peer(pki: TestPki, identity: Identity): PeerCertificate {
  return pki.trust.verify(identity.certDer, START_MS);
}

export interface Setup extends People {
  clock: VirtualClock;
  kinds: KindRegistry;
  engine: StorageEngine;
  /** H("alice@test.reload"): where alice's USER-MATCH data lives. */
  aliceAt: Id;
}

export async function setup(opts: { maxBytes?: number; maxCertificates?: number } = {}): Promise<Setup> {
  const p = await enrollPeople();
  const clock = new VirtualClock(START_MS);
  const kinds = new KindRegistry(Object.values(KINDS));
  const engine = new StorageEngine({ kinds, trust: p.pki.trust, clock, hash: HASH, maxBytes: opts.maxBytes ?? 1 << 20, maxCertificates: opts.maxCertificates });
  return { ...p, clock, kinds, engine, aliceAt: userResource(p.alice.user, HASH) };
}

export const bytesOf = (text: string) => Uint8Array.from(Buffer.from(text));
const dataValue = (text: string | undefined): DataValue => ({ exists: text !== undefined, value: text === undefined ? new Uint8Array() : bytesOf(text) });

/** A single value; `undefined` text makes a tombstone. */
export const single = (text: string | undefined): StoredDataValue => ({ model: 'single', value: dataValue(text) });
export const entry = (index: number, text: string | undefined): StoredDataValue => ({ model: 'array', index, value: dataValue(text) });
export const keyed = (key: string | Uint8Array, text: string | undefined): StoredDataValue => ({
  model: 'dictionary',
  key: typeof key === 'string' ? bytesOf(key) : key,
  value: dataValue(text),
});

/** A value signed by `who` for `resource` and `kindId`; storage time START_MS + `at` unless given. */
export function signed(who: Identity, resource: Id, kindId: number, value: StoredDataValue, opts: { at?: number; lifetimeSec?: number } = {}): StoredData {
  return signStoredData(who, resource, kindId, { storageTimeMs: START_MS + (opts.at ?? 0), lifetimeSec: opts.lifetimeSec ?? 3600, value });
}

/** A store request carrying the signers' certificates. */
export function storeReq(
  resource: Id,
  kinds: { kindId: number; values: StoredData[]; generation?: bigint }[],
  certificates: Identity[],
  replicaNumber = 0,
): StoreRequest {
  return {
    resource,
    replicaNumber,
    kinds: kinds.map((k) => ({ kindId: k.kindId, generation: k.generation ?? 0n, values: k.values })),
    certificates: certificates.map((i) => Uint8Array.from(i.certDer)),
  };
}

/** Everything the engine answers about `resource`: all values of every Kind, plus the totals. */
export function snapshot(s: Setup, resource: Id): unknown {
  const specs = s.kinds.all().map((k) => ({
    kindId: k.id,
    generation: 0n,
    selector: k.dataModel === 'single' ? { model: 'single' as const } : k.dataModel === 'array' ? { model: 'array' as const, ranges: [] } : { model: 'dictionary' as const, keys: [] },
  }));
  return { fetch: s.engine.fetch(resource, specs), bytes: s.engine.bytesUsed, count: s.engine.valueCount };
}

/** Asserts that the store is refused with `code` (and `reason`) and that nothing held changed. */
export function expectRefused(s: Setup, req: StoreRequest, signer: PeerCertificate, code: ErrorCode, reason?: string): ReloadError {
  const before = snapshot(s, req.resource);
  const error = expectReloadError(() => s.engine.store(req, signer), code, { reason });
  expect(snapshot(s, req.resource)).to.deep.equal(before);
  return error;
}
