/**
 * The overlay as usages see it: the one module a usage (usages/) imports. What is not exported here
 * is the overlay's own business and may change without a usage noticing.
 */
export { HttpError, RawAnswer, readBody, type ApiExtension } from './api/http-api.js';
export { PAGE_PATH } from './api/api-access.js';
export { systemClock, type Clock, type Timer } from './clock.js';
export * from './errors.js';
export * from './id.js';
export type { Link, LinkEvents } from './link/link.js';
export { FaultyLink, type LinkFaults } from './link/faulty-link.js';
export { silentLogger, type Logger } from './log.js';
export type { MethodHandler, RequestContext } from './methods/dispatcher.js';
export type { Node } from './node.js';
export type { LinkMechanism } from './nat/traversal.js';
export { DatabaseError, type NodeDatabase } from './persist/node-database.js';
export type { MetricFamily } from './routing/metrics.js';
export { shuffled } from './random.js';
export type { Kind } from './storage/types.js';
export { decodeCbor, encodeCbor } from './wire/cbor.js';
export { registerMessageCodes } from './wire/codes.js';
export { bytes, fail, idField, list, MAX_U16, text, tuple, u64Item, u64Number, uint } from './wire/fields.js';
