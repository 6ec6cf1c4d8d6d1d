/**
 * Nodes over real TLS, each running the PPSP usage and serving the node API over real HTTP, and a
 * scratch directory: what the PPSP API and streaming tests start from. `stop` ends all of it.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApi, type ApiServer } from '../../overlay/api/http-api.js';
import type { SwarmOptions } from '../../usages/ppsp/data/swarm.js';
import type { PpspDataUsageOptions } from '../../usages/ppsp/data/ppsp-data-usage.js';
import type { LiveSwarmOptions } from '../../usages/ppsp/live/live-swarm.js';
import { ppspApi } from '../../usages/ppsp/ppsp-api.js';
import { PpspUsage, type PpspUsageOptions } from '../../usages/ppsp/ppsp-usage.js';
import { httpRequest } from './http.js';
import { startTestnet, type Testnet } from './testnet.js';

const PROPS = { accessType: 'fixed' as const, upKbps: 10_000, downKbps: 10_000, nat: 'unknown' as const, uptimeSec: 0 };
/** Swarm timers for tests: housekeeping every 50 ms, redial after 300 ms. */
export const FAST_SWARM: SwarmOptions = { tickIntervalMs: 50, rechokeIntervalMs: 300, requestTimeoutMs: 3000, redialIntervalMs: 300 };

export interface PpspNet {
  net: Testnet;
  usages: PpspUsage[];
  /** The API of node `apiOn`. */
  api: ApiServer;
  /** Every node's API, by node index. */
  apis: ApiServer[];
  token: string;
  dir: string;
  /** POST `body` as JSON with the token to node `apiOn`; expects 200 and returns the JSON answer. */
  post(path: string, body: unknown): Promise<Record<string, unknown>>;
  /** Any request with the token to node `i`'s API: its status and JSON answer. */
  call(i: number, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }>;
  stop(): Promise<void>;
}

export interface PpspNetOptions {
  /** Whose API `post` and `api` use (default the last node's). */
  apiOn?: number;
  swarm?: SwarmOptions;
  /** More data-plane options for node `i` (e.g. a wrapLink that tampers with what a peer sends). */
  data?: (i: number) => Omit<PpspDataUsageOptions, 'swarm'>;
  live?: LiveSwarmOptions;
  /** Node `i`'s ppspp transport, if it offers one. */
  ppsppTransport?: (i: number) => PpspUsageOptions['ppsppTransport'];
}

export async function startPpspNet(nodes: number, { apiOn = nodes - 1, swarm = FAST_SWARM, data, live, ppsppTransport }: PpspNetOptions = {}): Promise<PpspNet> {
  const dir = await mkdtemp(join(tmpdir(), 'ppsp-net-'));
  const usages: PpspUsage[] = [];
  const net = await startTestnet(nodes, {
    beforeStart: (node, i) => {
      const udp = ppsppTransport?.(i);
      usages[i] = new PpspUsage({ properties: PROPS, data: { swarm, ...data?.(i) }, ...(live ? { live } : {}), ...(udp ? { ppsppTransport: udp } : {}) });
      usages[i]!.attach(node);
    },
  });
  for (const u of usages) await u.start();
  const token = randomBytes(32).toString('hex');
  const apis: ApiServer[] = [];
  for (const [i, node] of net.nodes.entries()) apis.push(await startApi(node, { host: '127.0.0.1', port: 0, token }, [ppspApi(usages[i]!)]));
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const call = async (i: number, method: string, path: string, body?: unknown) => {
    const r = await httpRequest(`http://${apis[i]!.address}`, path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: r.status, json: JSON.parse(r.text) as Record<string, unknown> };
  };
  return {
    net,
    usages,
    api: apis[apiOn]!,
    apis,
    token,
    dir,
    call,
    async post(path, body) {
      const { status, json } = await call(apiOn, 'POST', path, body);
      expect(status, JSON.stringify(json)).to.equal(200);
      return json;
    },
    async stop() {
      await Promise.all(apis.map((a) => a.close()));
      for (const u of usages) await u.stop();
      await net.stopAll();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
