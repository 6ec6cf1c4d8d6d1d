/**
 * The API part of `reload-ppsp node`: its flags, and the API opened before the node joins (so a
 * taken port is one line and exit 1 before any overlay traffic), with a new token in the data
 * directory and a runtime record through which the CLI finds it.
 */
import { bindApi, type BoundApi } from '../overlay/api/http-api.js';
import { isLoopbackHost, parseAllowedOrigin } from '../overlay/api/api-access.js';
import { parseHostPort } from '../overlay/config.js';
import type { Logger } from '../overlay/log.js';
import { pageLink } from './api-client.js';
import { removeApiRecord, writeApiRecord } from './api-runtime.js';
import { apiTokenPath, newApiToken, removeApiToken, writeApiToken } from './api-token.js';
import { optionalString, stringList, UsageError, type OptionSpec, type ParsedArgs } from './command.js';

export const NODE_API_OPTIONS = {
  api: { type: 'string', help: 'address of the local HTTP API (default 127.0.0.1:0); a loopback address unless --api-allow-remote', valueName: 'HOST:PORT' },
  'api-allow-remote': { type: 'boolean', help: 'let --api listen on a non-loopback address (every request still needs the token)' },
  'api-allow-origin': { type: 'string', multiple: true, help: 'a web origin whose pages may call the API, e.g. http://localhost:3000 (default none)', valueName: 'ORIGIN' },
  'api-public-metrics': { type: 'boolean', help: 'serve GET /metrics without the token (for a Prometheus scraper)' },
} satisfies Record<string, OptionSpec>;

/** The API flags of `node`, checked. */
export interface NodeApiSettings {
  host: string;
  port: number;
  allowRemote: boolean;
  allowOrigins: string[];
  publicMetrics: boolean;
}

/** Reads and checks the API flags; a UsageError names the flag. */
export function nodeApiSettings(args: ParsedArgs): NodeApiSettings {
  const text = optionalString(args, 'api') ?? '127.0.0.1:0';
  let address;
  try {
    address = parseHostPort(text, '--api', true);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const allowRemote = args.values['api-allow-remote'] === true;
  if (!allowRemote && !isLoopbackHost(address.host)) {
    throw new UsageError(`--api ${text} is not a loopback address, so other machines could reach the API; add --api-allow-remote to allow it (the token is still required)`);
  }
  const allowOrigins = stringList(args, 'api-allow-origin').map((o) => {
    try {
      return parseAllowedOrigin(o);
    } catch (e) {
      throw new UsageError(`--api-allow-origin: ${(e as Error).message}`);
    }
  });
  return { ...address, allowRemote, allowOrigins, publicMetrics: args.values['api-public-metrics'] === true };
}

/** The node's API, bound and holding its token; `attach` the node once it has joined. */
export interface NodeApi {
  server: BoundApi;
  /** The page for people with this run's token in its fragment (api-client.ts pageLink). */
  page: string;
  /** Removes the API, the runtime record and the token file. */
  close(): Promise<void>;
}

/**
 * Binds the API, then writes its new token and records the address for the CLI (a failed record
 * is only a warning). The token file is written only once the port is ours: a second start of
 * the same node that fails on a taken port leaves the running node's token alone.
 */
export async function openNodeApi(settings: NodeApiSettings, dataDir: string, logger: Logger): Promise<NodeApi> {
  const secret = newApiToken();
  const server = await bindApi({ ...settings, token: secret, tokenFile: apiTokenPath(dataDir) });
  const token = await writeApiToken(dataDir, secret).catch(async (e: unknown) => {
    await server.close();
    throw e;
  });
  const record = await writeApiRecord(server.address, token.file).catch((e: Error) => {
    logger.warn(`the CLI will need --api-token-file ${token.file}: cannot write its runtime record (${e.message})`);
    return undefined;
  });
  logger.info(`API token in ${token.file}`);
  return {
    server,
    page: pageLink(server.address, secret),
    async close() {
      await server.close();
      if (record) await removeApiRecord(record);
      await removeApiToken(token);
    },
  };
}
