/** `reload-ppsp node`: runs a node until SIGINT/SIGTERM. */
import { loadIdentity } from '../../certs/identity.js';
import { loadOverlayConfig, parseHostPort } from '../../overlay/config.js';
import { createLogger, stderrSink } from '../../overlay/log.js';
import { isReloadError } from '../../overlay/errors.js';
import { Node } from '../../overlay/node.js';
import { isIP } from 'node:net';
import { optionalString, requireString, stringList, UsageError, type Command } from '../command.js';
import { rateOption } from '../rate-option.js';
import { untilStopSignal } from '../signals.js';
import { LOG_OPTIONS, logLevelOf } from '../log-options.js';
import { dataDirPath, openDataDir } from '../data-dir.js';
import { openNodeStores } from '../node-stores.js';
import { NODE_API_OPTIONS, nodeApiSettings, openNodeApi } from '../node-api.js';
import { ppspApi } from '../../usages/ppsp/ppsp-api.js';
import { PpspUsage } from '../../usages/ppsp/ppsp-usage.js';
import type { PeerProperties } from '../../usages/ppsp/signalling/properties.js';

/** What a node tells PPSP peers about itself until it is configurable (seed §4.2.3). */
const DEFAULT_PROPERTIES: PeerProperties = { accessType: 'fixed', upKbps: 100_000, downKbps: 100_000, nat: 'unknown', uptimeSec: 0 };

function hostPort(text: string, flag: string, allowAnyPort = false) {
  try {
    return parseHostPort(text, flag, allowAnyPort);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** --ppspp-transport IP:PORT: an address peers can reach, since it is what negotiation offers them. */
function ppsppTransportOption(args: Parameters<Command['run']>[0]): { host: string; port: number } | undefined {
  const text = optionalString(args, 'ppspp-transport');
  if (text === undefined) return undefined;
  const { host, port } = hostPort(text, '--ppspp-transport', true);
  if (isIP(host) === 0) throw new UsageError(`--ppspp-transport ${text}: give an IP address, not a name (peers are told it)`);
  if (/^(0\.0\.0\.0|::)$/.test(host)) throw new UsageError(`--ppspp-transport ${text}: give the IP address peers reach this node at, not the wildcard`);
  return { host, port };
}

export const nodeCommand: Command = {
  name: 'node',
  summary: 'Run a node: accept links from enrolled nodes, link to bootstrap nodes, serve the local API.',
  options: {
    config: { type: 'string', help: 'overlay configuration document (overlay.json from `ca init`)', valueName: 'FILE' },
    identity: { type: 'string', help: 'node directory from `reload-ppsp enroll`', valueName: 'NODEDIR' },
    listen: { type: 'string', help: 'address for overlay links (default 127.0.0.1:0, a free port; a client listens only if given)', valueName: 'HOST:PORT' },
    ...NODE_API_OPTIONS,
    bootstrap: { type: 'string', multiple: true, help: 'a node to link to at start, besides the config\'s', valueName: 'HOST:PORT' },
    'retry-join': { type: 'boolean', help: 'when no bootstrap node answers or the join times out, try again (backoff from 1 s up to 30 s) until it works or the node is stopped' },
    client: { type: 'boolean', help: 'run as a client: no routing or storing for others, one link to the responsible peer (needs --bootstrap)' },
    data: { type: 'string', help: 'data directory: stored values, swarms, peer cache, API token (default NODEDIR/data)', valueName: 'DIR' },
    'upload-limit': { type: 'string', help: 'upload rate limit of the node over all swarms: bytes/s with k, M, G (500k, 2M) or bits/s ending in "bit" (20Mbit); 0 for none (default)', valueName: 'RATE' },
    'download-limit': { type: 'string', help: 'download rate limit of the node, as --upload-limit', valueName: 'RATE' },
    'ppspp-transport': { type: 'string', help: 'also move swarm data over PPSPP (RFC 7574 over UDP, LEDBAT) from this address, preferred to TLS where a swarm allows it (not --tls-only swarms); the IP peers reach this node at, e.g. 127.0.0.1:7780', valueName: 'IP:PORT' },
    ...LOG_OPTIONS,
  },
  async run(args) {
    const logger = createLogger('reload', stderrSink, logLevelOf(args));
    const client = args.values.client === true;
    const listenText = optionalString(args, 'listen') ?? (client ? undefined : '127.0.0.1:0');
    const listen = listenText === undefined ? undefined : hostPort(listenText, '--listen', true);
    const apiSettings = nodeApiSettings(args);
    const limits = { uploadLimit: rateOption(args, 'upload-limit'), downloadLimit: rateOption(args, 'download-limit') };
    const bootstrap = stringList(args, 'bootstrap').map((b) => hostPort(b, '--bootstrap'));
    const ppsppTransport = ppsppTransportOption(args);
    const config = await loadOverlayConfig(requireString(args, 'config'));
    const identityDir = requireString(args, 'identity');
    const identity = await loadIdentity(identityDir);
    const dataDir = await openDataDir(dataDirPath(identityDir, optionalString(args, 'data')));
    logger.info(`data directory ${dataDir}`);
    // The database is locked to this process: a second node on the same data directory stops here,
    // before it could replace the first one's API token.
    const stores = openNodeStores(dataDir);
    // The PPSP usage: its kinds, codes and handlers go on before the node joins.
    const build = (asClient: boolean) => {
      const node = new Node({ config, identity, listen, bootstrap, logger, client: asClient, clientIfUnreachable: true, storageBackend: stores.storageBackend, peerCacheStore: stores.peerCacheStore });
      const ppsp = new PpspUsage({ properties: DEFAULT_PROPERTIES, records: stores.swarmRecordStore, data: { host: listen?.host ?? '127.0.0.1', log: logger, ...limits }, ...(ppsppTransport ? { ppsppTransport } : {}) });
      ppsp.attach(node);
      return { node, ppsp };
    };
    let { node, ppsp } = build(client);
    // The API port is taken before the node joins: a port in use fails here, before any overlay traffic.
    const api = await openNodeApi(apiSettings, dataDir, logger).catch((e) => {
      stores.close();
      throw e;
    });
    const close = async () => {
      await api.close();
      await ppsp.stop();
      await node.stop();
      stores.close();
    };
    // Listening from before the join: a SIGTERM during it, between retries or as soon as "ready" is
    // read stops the node cleanly instead of killing the process.
    const stopSignal = untilStopSignal();
    const abort = new AbortController();
    void stopSignal.then(() => abort.abort());
    try {
      const join = () => node.start(abort.signal, { retryJoin: args.values['retry-join'] === true });
      await join().catch(async (e: unknown) => {
        // Nobody could reach it as a peer (Behind NATs in the README): it takes part as a client.
        if (!isReloadError(e) || e.reason !== 'unreachable_peer') throw e;
        logger.warn(`${e.message.replace(/^Forbidden: /, '')}: joining as a client (RFC 6940 §3.2)`);
        ({ node, ppsp } = build(true));
        await join();
      });
      await ppsp.start();
      api.server.attach(node, [ppspApi(ppsp)]);
    } catch (e) {
      await close();
      if (!abort.signal.aborted) throw e;
      logger.info(`stopped on ${await stopSignal} before the node joined`);
      return 0;
    }
    // Like Jupyter's startup link: the user who started the node opens its page in one click. Only
    // on a terminal: a service's output goes to logs that others may read, and the link holds the token.
    if (process.stdout.isTTY) process.stdout.write(`page: ${api.page}\n`);
    process.stdout.write(`ready ${node.nodeIdHex} listen=${node.listenAddress ?? '-'} api=${api.server.address}\n`);
    logger.info(`stopping on ${await stopSignal}`);
    await close();
    return 0;
  },
};
