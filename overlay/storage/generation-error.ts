/** The refusal of a conditional store whose generation counter is stale (RFC 6940 §7.4.1.1). */
import { ErrorCode, ReloadError } from '../errors.js';

/** A Kind's current generation counter, as a refused store learns it. */
export interface KindGeneration {
  kindId: number;
  generation: bigint;
}

/**
 * ReloadError(Generation_Counter_Too_Low, reason `generation_too_low`): a Store named a generation
 * other than the one held. `generations` lists the current counter of every Kind whose generation
 * did not match, so the client can fetch, merge and store again.
 */
export class GenerationError extends ReloadError {
  override name = 'GenerationError';

  constructor(readonly generations: readonly KindGeneration[]) {
    super(
      ErrorCode.Generation_Counter_Too_Low,
      generations.map((g) => `kind ${g.kindId} is at generation ${g.generation}`).join('; ') + ': fetch, then store with that generation',
      'generation_too_low',
    );
  }
}
