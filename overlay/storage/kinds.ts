/**
 * The Kinds an overlay stores (RFC 6940 §7.4.1, §11.1): those of the configuration, the
 * certificate store of RFC 6940 §8 that every overlay has, and those usages register at start.
 */
import { ACCESS_POLICIES, ConfigError, DATA_MODELS, type KindConfig } from '../config.js';
import { ErrorCode, ReloadError } from '../errors.js';
import { MAX_VALUES_PER_KIND } from './codec.js';
import type { Kind } from './types.js';

/** Certificates kept per Node-ID: old and new coexist while a certificate is renewed. */
const CERTIFICATES_PER_RESOURCE = 8;
/** Bytes of one DER certificate at most (an RSA-2048 enrollment certificate is about 1 KiB). */
const CERTIFICATE_MAX_BYTES = 16 * 1024;

/** RFC 6940 §8: a node's certificates, at H(Node-ID), array, NODE-MATCH. */
export const CERTIFICATE_BY_NODE: Readonly<Kind> = Object.freeze({
  id: 3,
  name: 'certificate-by-node',
  dataModel: 'array',
  accessControl: 'NODE-MATCH',
  maxCount: CERTIFICATES_PER_RESOURCE,
  maxSize: CERTIFICATE_MAX_BYTES,
});

/** RFC 6940 §8: a user's certificates, at H(user name), array, USER-MATCH. */
export const CERTIFICATE_BY_USER: Readonly<Kind> = Object.freeze({
  id: 0x10,
  name: 'certificate-by-user',
  dataModel: 'array',
  accessControl: 'USER-MATCH',
  maxCount: CERTIFICATES_PER_RESOURCE,
  maxSize: CERTIFICATE_MAX_BYTES,
});

/** Kind-IDs are u32; 0 is reserved and 0xFFFFFFFF is not a Kind (RFC 6940 §14.6). */
const MAX_KIND_ID = 0xfffffffe;

/** Throws ConfigError unless `kind` is one the storage code can honour. */
function checkKind(kind: Kind): void {
  const bad = (what: string): never => {
    throw new ConfigError(`kind ${kind.name} (${kind.id}): ${what}`);
  };
  if (!Number.isInteger(kind.id) || kind.id < 1 || kind.id > MAX_KIND_ID) bad(`id must be an integer from 1 to ${MAX_KIND_ID}`);
  if (!DATA_MODELS.includes(kind.dataModel)) bad(`dataModel must be one of ${DATA_MODELS.join(', ')}`);
  if (!ACCESS_POLICIES.includes(kind.accessControl)) bad(`accessControl must be one of ${ACCESS_POLICIES.join(', ')}`);
  if (!(kind.maxSize >= 1) || !Number.isInteger(kind.maxSize)) bad('maxSize must be a positive integer');
  // Replication sends a resource's values of one Kind in one Store: more could never be replicated.
  if (!Number.isInteger(kind.maxCount) || kind.maxCount < 1 || kind.maxCount > MAX_VALUES_PER_KIND) {
    bad(`maxCount must be an integer from 1 to ${MAX_VALUES_PER_KIND}`);
  }
  if ((kind.accessControl === 'USER-NODE-MATCH' || kind.accessControl === 'NODE-ID-MATCH') && kind.dataModel !== 'dictionary') bad(`${kind.accessControl} needs the dictionary data model`);
  if (kind.accessControl === 'NODE-MULTIPLE' && !(Number.isInteger(kind.maxNodeMultiple) && kind.maxNodeMultiple! >= 1)) {
    bad('NODE-MULTIPLE needs maxNodeMultiple >= 1');
  }
}

/** The Kinds of one overlay, by id and by name. Kinds are frozen copies; ids and names are unique. */
export class KindRegistry {
  private readonly ids = new Map<number, Readonly<Kind>>();
  private readonly names = new Map<string, Readonly<Kind>>();

  /**
   * @param configured the configuration's kinds; the two certificate-store Kinds are always added
   * first, so a configuration that reuses their id or name is refused (ConfigError).
   */
  constructor(configured: readonly KindConfig[] = []) {
    for (const kind of [CERTIFICATE_BY_NODE, CERTIFICATE_BY_USER, ...configured]) this.register(kind);
  }

  /** Adds a Kind (usages call this at start). Throws ConfigError for a duplicate id or name or an invalid Kind. */
  register(kind: Kind): void {
    checkKind(kind);
    if (this.ids.has(kind.id)) throw new ConfigError(`kind id ${kind.id} is already registered (${this.ids.get(kind.id)!.name})`);
    if (this.names.has(kind.name)) throw new ConfigError(`kind name ${kind.name} is already registered (id ${this.names.get(kind.name)!.id})`);
    const copy = Object.freeze({ ...kind });
    this.ids.set(copy.id, copy);
    this.names.set(copy.name, copy);
  }

  /** The Kind with this Kind-ID, if registered. */
  byId(id: number): Readonly<Kind> | undefined {
    return this.ids.get(id);
  }

  /** The Kind with this name, if registered. */
  byName(name: string): Readonly<Kind> | undefined {
    return this.names.get(name);
  }

  /**
   * A Kind by id (a number, or decimal / 0x-hex digits as the CLI and API pass them) or by name.
   * Throws ReloadError(Unknown_Kind).
   */
  resolve(idOrName: string | number): Readonly<Kind> {
    const kind =
      typeof idOrName === 'number'
        ? this.byId(idOrName)
        : /^(\d+|0x[0-9a-f]+)$/i.test(idOrName)
          ? this.byId(Number(idOrName))
          : this.byName(idOrName);
    if (!kind) throw new ReloadError(ErrorCode.Unknown_Kind, `no kind ${JSON.stringify(idOrName)} in this overlay`);
    return kind;
  }

  /** Every Kind, in registration order. */
  all(): Readonly<Kind>[] {
    return [...this.ids.values()];
  }
}
