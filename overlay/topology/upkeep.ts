/** Small pieces of table upkeep that every topology plugin needs the same way. */
import { ErrorCode, ReloadError } from '../errors.js';
import type { Id } from '../id.js';
import type { TopologyHost } from './topology.js';

/**
 * A peer stopped answering: close its link, whose close event removes it from the table and starts
 * repair; when there is no link, `forget` does that directly.
 */
export function dropUnanswering(host: TopologyHost, peer: Id, why: string, forget: (peer: Id) => void): void {
  const link = host.linkTo(peer);
  if (link) link.close(new ReloadError(ErrorCode.Request_Timeout, why, 'neighbour_timeout'));
  else forget(peer);
}

/** Runs `task` once on the next turn of the clock however often it is asked for, while `live()`. */
export class SoonOnce {
  private scheduled = false;

  constructor(
    private readonly host: TopologyHost,
    private readonly live: () => boolean,
    private readonly task: () => Promise<void>,
  ) {}

  schedule(): void {
    if (this.scheduled || !this.live()) return;
    this.scheduled = true;
    this.host.clock.after(0, () => {
      this.scheduled = false;
      if (this.live()) void this.task();
    });
  }
}
