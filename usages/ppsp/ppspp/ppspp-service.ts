/**
 * A node's PPSPP serving (RFC 7574 over UDP): files seeded with `--ppspp HOST:PORT` are also served
 * to plain PPSPP peers such as libswift, one UDP endpoint per address asked for. The file is hashed
 * again the way such peers expect (SHA-1 over 1 KiB chunks by default), so its PPSPP root hash is
 * not the swarm ID of our own swarm: both are given to the user.
 */
import { ErrorCode, ReloadError, silentLogger, type Clock, type Logger } from '../../../overlay/index.js';
import { PpsppContent } from './ppspp-content.js';
import { PpsppEndpoint } from './ppspp-endpoint.js';
import type { MerkleHashFunction } from './ppspp-options.js';
import { PpsppServer } from './ppspp-server.js';

/** UDP addresses one node serves PPSPP on at most. */
export const MAX_PPSPP_ENDPOINTS = 4;
/** Files one node serves over PPSPP at most (each holds its hash tree in memory). */
export const MAX_PPSPP_FILES = 64;

export interface PpsppServing {
  /** host:port of the endpoint. */
  address: string;
  /** The PPSPP swarm ID: the root hash, hex. */
  rootHash: string;
  /** What a PPSPP peer is given: ppspp://HOST:PORT/ROOT-HASH. */
  url: string;
  chunkSize: number;
  hash: MerkleHashFunction;
}

export class PpsppService {
  private readonly endpoints = new Map<string, { endpoint: PpsppEndpoint; server: PpsppServer }>();
  private readonly contents = new Map<string, PpsppContent>();
  private readonly log: Logger;

  constructor(private readonly options: { clock?: Clock; log?: Logger } = {}) {
    this.log = options.log ?? silentLogger;
  }

  /** Serves the file at `path` on UDP `host`:`port` (bound on first use); resolves once it is hashed. */
  async serve(path: string, host: string, port: number, geometry: { chunkSize?: number; hash?: MerkleHashFunction } = {}): Promise<PpsppServing> {
    if (this.contents.size >= MAX_PPSPP_FILES) throw refused(`this node serves ${MAX_PPSPP_FILES} files over PPSPP already`);
    const { endpoint, server } = await this.endpointAt(host, port);
    const content = await PpsppContent.open(path, geometry);
    const key = `${endpoint.address().host}|${endpoint.address().port}|${content.root.toString('hex')}`;
    const before = this.contents.get(key);
    this.contents.set(key, content);
    server.add(content);
    await before?.close();
    const address = hostPort(endpoint.address());
    const rootHash = content.root.toString('hex');
    this.log.info(`serving ${path} over PPSPP on ${address}, root hash ${rootHash}`);
    return { address, rootHash, url: `ppspp://${address}/${rootHash}`, chunkSize: content.chunkSize, hash: content.tree.hash.algorithm as MerkleHashFunction };
  }

  /** Stops serving what `serve` answered with `serving`, and closes the file (false if not served). */
  async unserve(serving: Pick<PpsppServing, 'address' | 'rootHash'>): Promise<boolean> {
    const entry = [...this.endpoints.values()].find(({ endpoint }) => hostPort(endpoint.address()) === serving.address);
    if (!entry?.server.remove(serving.rootHash)) return false;
    const { host, port } = entry.endpoint.address();
    const key = `${host}|${port}|${serving.rootHash}`;
    await this.contents.get(key)?.close();
    this.contents.delete(key);
    return true;
  }

  async stop(): Promise<void> {
    for (const { server } of this.endpoints.values()) server.close();
    await Promise.all([...this.endpoints.values()].map(({ endpoint }) => endpoint.close()));
    await Promise.all([...this.contents.values()].map((c) => c.close()));
    this.endpoints.clear();
    this.contents.clear();
  }

  private async endpointAt(host: string, port: number): Promise<{ endpoint: PpsppEndpoint; server: PpsppServer }> {
    const key = `${host}|${port}`;
    const known = this.endpoints.get(key);
    if (known) return known;
    if (this.endpoints.size >= MAX_PPSPP_ENDPOINTS) throw refused(`this node serves PPSPP on ${MAX_PPSPP_ENDPOINTS} addresses already`);
    const endpoint = await PpsppEndpoint.bind(host, port, { log: this.log }).catch((e: Error) => {
      throw refused(`cannot listen for PPSPP on ${hostPort({ host, port })}: ${e.message}`);
    });
    const entry = { endpoint, server: new PpsppServer(endpoint, { clock: this.options.clock, log: this.log }) };
    // Port 0 binds a free port: the bound one is the key a later call names.
    this.endpoints.set(port === 0 ? `${host}|${endpoint.address().port}` : key, entry);
    return entry;
  }
}

/** A PPSPP request the node cannot meet: the address or a limit is the user's to change. */
function refused(message: string): ReloadError {
  return new ReloadError(ErrorCode.Invalid_Message, message, 'ppspp_refused');
}

/** host:port with an IPv6 host in brackets. */
export function hostPort(a: { host: string; port: number }): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
