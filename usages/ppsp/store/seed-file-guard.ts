/**
 * Notices that a seeded file changed on disk after it was hashed: its size, modification time or
 * inode (a file replaced by another) differ from what they were when its leaf hashes were made.
 * Re-hashing every chunk served would halve the data plane's speed, so the guard asks the file
 * system (one stat of the path) at most once per `intervalMs`, and uploads wait for that answer only
 * when one is due: the chunks of at most one interval can leave before a change is seen, and the
 * leecher's own check of every chunk against the leaf hashes catches those.
 */
import { stat } from 'node:fs/promises';
import type { Clock } from '../../../overlay/index.js';

/** Default least time between two stats of a seeded file, ms. */
export const DEFAULT_SEED_CHECK_INTERVAL_MS = 1_000;

/** What identifies a file's content cheaply: it was hashed with these. */
export interface FileIdentity {
  size: number;
  mtimeMs: number;
  ino: number;
}

/** The identity of the file at `path` now. */
export async function fileIdentity(path: string): Promise<FileIdentity> {
  const s = await stat(path);
  return { size: s.size, mtimeMs: s.mtimeMs, ino: s.ino };
}

/** What differs between two identities, for a log line ("size 10 -> 12, mtime"); '' when equal. */
export function identityChange(was: FileIdentity, now: FileIdentity): string {
  const changes: string[] = [];
  if (was.size !== now.size) changes.push(`size ${was.size} -> ${now.size} bytes`);
  if (was.mtimeMs !== now.mtimeMs) changes.push('modification time');
  if (was.ino !== now.ino) changes.push('inode (the file was replaced)');
  return changes.join(', ');
}

export class SeedFileGuard {
  private lastCheckMs = -Infinity;
  private checking: Promise<string> | undefined;
  private change = '';

  constructor(
    readonly path: string,
    readonly identity: FileIdentity,
    private readonly clock: Clock,
    private readonly intervalMs = DEFAULT_SEED_CHECK_INTERVAL_MS,
  ) {}

  /**
   * '' while the file still matches; otherwise what changed (and it stays changed). Stats the file
   * when the last check is `intervalMs` old (or `now` is set), sharing one stat between concurrent callers.
   */
  async check(now = false): Promise<string> {
    if (this.change) return this.change;
    if (!now && !this.checking && this.clock.now() - this.lastCheckMs < this.intervalMs) return '';
    this.checking ??= (async () => {
      try {
        const current = await fileIdentity(this.path).catch((e: NodeJS.ErrnoException) => e);
        this.change = current instanceof Error ? `cannot stat it (${current.code ?? current.message})` : identityChange(this.identity, current);
        return this.change;
      } finally {
        this.lastCheckMs = this.clock.now();
        this.checking = undefined;
      }
    })();
    return this.checking;
  }
}
