/** `reload-ppsp route`: which node is responsible for a name or Resource-ID, asked of a running node. */
import { API_CLIENT_OPTIONS, apiEndpoint, callApi } from '../api-client.js';
import { printResult, UsageError, type Command } from '../command.js';

interface RouteAnswer {
  resource: string;
  responsible: string;
  hops: number;
  rttMs: number;
}

export const routeCommand: Command = {
  name: 'route',
  summary: 'Route a RouteQuery to a name\'s (or a Resource-ID\'s) place in the overlay from a running node: the responsible node and the hops.',
  args: 'NAME-OR-HEX',
  options: {
    ...API_CLIENT_OPTIONS,
    json: { type: 'boolean', help: 'print JSON' },
  },
  async run(args) {
    const [target] = args.positionals;
    if (!target) throw new UsageError('give exactly one NAME or Resource-ID (32 hex digits) to route');
    // The node hashes names with the overlay's own hash and says which Resource-ID it routed.
    const api = apiEndpoint(args);
    const r = (await callApi(api, 'POST', '/route', { resource: target })) as RouteAnswer;
    printResult(args, { name: target, ...r }, `${target} -> ${r.resource} responsible ${r.responsible} hops=${r.hops} time=${r.rttMs} ms`);
    return 0;
  },
};
