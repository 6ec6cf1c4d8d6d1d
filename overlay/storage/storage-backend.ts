/**
 * Where a storage engine keeps what it holds, resource by resource. The engine works on the
 * objects it gets and calls `put` after every change to one, so a persistent backend can write
 * the resource through at that point; the in-memory default keeps the objects as they are.
 * Signer certificates are not part of it: the engine keeps them in memory, and a fetcher that
 * misses one after a restart finds it in the certificate store (RFC 6940 §8).
 */
import type { Id } from '../id.js';
import type { KindSlot } from './kind-slot.js';

/** Everything held at one Resource-ID: its Kinds' slots. */
export interface ResourceState {
  resource: Id;
  kinds: Map<number, KindSlot>;
}

export interface StorageBackend {
  get(resourceHex: string): ResourceState | undefined;
  /** Stores or replaces a resource after a change. */
  put(resourceHex: string, state: ResourceState): void;
  delete(resourceHex: string): void;
  /** Every held resource, by hex Resource-ID. */
  entries(): IterableIterator<[string, ResourceState]>;
}

/** The default backend: a Map in memory (bounded by the engine's byte limit). */
export class MemoryBackend implements StorageBackend {
  private readonly resources = new Map<string, ResourceState>();

  get(resourceHex: string): ResourceState | undefined {
    return this.resources.get(resourceHex);
  }

  put(resourceHex: string, state: ResourceState): void {
    this.resources.set(resourceHex, state);
  }

  delete(resourceHex: string): void {
    this.resources.delete(resourceHex);
  }

  entries(): IterableIterator<[string, ResourceState]> {
    return this.resources.entries();
  }
}
