/** `reload-ppsp status` and `reload-ppsp ping`: ask a running node through its API. */
import { API_CLIENT_OPTIONS, apiEndpoint, callApi, pageUrl } from '../api-client.js';
import type { TopologyStatus } from '../../overlay/topology/topology.js';
import { printResult, UsageError, type Command } from '../command.js';

const jsonOption = { type: 'boolean' as const, help: 'print JSON' };

type Status = TopologyStatus & {
  nodeId: string;
  user: string;
  overlay: string;
  state: string;
  listen: string | null;
  links: { nodeId: string; user: string; address: string }[];
};

/** The rows that show the node's place in the overlay, as its topology plugin keeps it. */
function topologyRows(s: TopologyStatus): [string, string][] {
  if (s.topology === 'KADEMLIA') {
    const contacts = s.buckets.reduce((sum, b) => sum + b.contacts.length, 0);
    return [
      ['siblings', s.siblings.join(' ') || '-'],
      ['buckets', `${s.buckets.length}, ${contacts} contacts (${s.buckets.map((b) => b.contacts.length).join(' ')})`],
    ];
  }
  return [
    ['successors', s.successors.join(' ') || '-'],
    ['predecessors', s.predecessors.join(' ') || '-'],
    ['fingers', `${s.fingers.filter((f) => f.peer).length} of ${s.fingers.length} filled`],
  ];
}

export const statusCommand: Command = {
  name: 'status',
  summary: 'Show a running node\'s identity, state, neighbours and links.',
  options: { ...API_CLIENT_OPTIONS, json: jsonOption },
  async run(args) {
    const api = apiEndpoint(args);
    const s = (await callApi(api, 'GET', '/status')) as Status;
    const page = await pageUrl(api);
    const rows: [string, string][] = [
      ['node', `${s.nodeId} (${s.user})`],
      ['overlay', s.overlay],
      ['state', s.state],
      ['listen', s.listen ?? '-'],
      ['topology', s.topology],
      ...topologyRows(s),
      ['links', String(s.links.length)],
      ['page', page ?? '-'],
    ];
    const lines = [...rows.map(([k, v]) => `${k.padEnd(13)}${v}`), ...s.links.map((l) => `  ${l.nodeId}  ${l.address}  ${l.user}`)];
    printResult(args, { ...s, page: page ?? null }, lines.join('\n'));
    return 0;
  },
};

export const pingCommand: Command = {
  name: 'ping',
  summary: 'Ping a Node-ID through the overlay from a running node.',
  args: 'NODE-ID',
  options: { ...API_CLIENT_OPTIONS, json: jsonOption },
  async run(args) {
    const [destination] = args.positionals;
    if (!destination) throw new UsageError('give exactly one NODE-ID to ping');
    const r = (await callApi(apiEndpoint(args), 'POST', '/ping', { destination })) as { destination: string; rttMs: number; hops: number };
    printResult(args, r, `reply from ${r.destination}: hops=${r.hops} time=${r.rttMs} ms`);
    return 0;
  },
};
