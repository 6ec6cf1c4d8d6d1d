/**
 * One line for any error that reaches the CLI. Errors we raise on purpose carry a message written
 * for the user; anything else is a bug, and the stack goes to stderr only with RELOAD_DEBUG=1.
 */
import { EnrollmentError } from '../certs/ca.js';
import { IdentityFileError } from '../certs/identity.js';
import { ConfigError } from '../overlay/config.js';
import { isReloadError } from '../overlay/errors.js';
import { DatabaseError } from '../overlay/persist/node-database.js';
import { IdFormatError } from '../overlay/id.js';
import { UsageError } from './command.js';
import { ApiError } from './api-client.js';
import { ApiBindError } from '../overlay/api/http-api.js';
import { NodeProcessError } from './node-process.js';
import { OutputError, StalledError } from './commands/swarm.js';
import { PlayerError } from './commands/watch.js';
import { SourceError } from './commands/live.js';
import { PpsppDownloadError } from '../usages/ppsp/ppspp/ppspp-download.js';
import { PpsppBindError } from '../usages/ppsp/ppspp/ppspp-transport.js';

const USER_FACING = [UsageError, ConfigError, IdentityFileError, EnrollmentError, IdFormatError, ApiError, ApiBindError, NodeProcessError, StalledError, OutputError, PlayerError, SourceError, DatabaseError, PpsppDownloadError, PpsppBindError];

export function errorMessage(e: unknown): string {
  if (USER_FACING.some((cls) => e instanceof cls) || isReloadError(e)) return (e as Error).message;
  const err = e as NodeJS.ErrnoException;
  if (err?.code && typeof err.message === 'string') return `${err.message}`;
  if (process.env.RELOAD_DEBUG) console.error(e);
  return `unexpected error: ${err?.message ?? String(e)} (set RELOAD_DEBUG=1 for details)`;
}
