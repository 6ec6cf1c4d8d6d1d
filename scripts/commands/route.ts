/** `reload-ppsp route`: which node is responsible for a name or Resource-ID, asked of a running node. */
import { ID_HASHES, idFromHex, idToHex, isHexId, resourceIdOf, type IdHash } from '../../overlay/id.js';
import { callApi } from '../api-client.js';
import { optionalString, printResult, requireString, UsageError, type Command } from '../command.js';

interface RouteAnswer {
  responsible: string;
  hops: number;
  rttMs: number;
}

export const routeCommand: Command = {
  name: 'route',
  summary: 'Route a RouteQuery to a name\'s (or a Resource-ID\'s) place in the overlay from a running node: the responsible node and the hops.',
  args: 'NAME-OR-HEX',
  options: {
    api: { type: 'string', help: 'the node\'s API address', valueName: 'HOST:PORT' },
    hash: { type: 'string', help: `hash of names to Resource-IDs, the overlay config's "hash" (${ID_HASHES.join(', ')}; default sha1)`, valueName: 'ALG' },
    json: { type: 'boolean', help: 'print JSON' },
  },
  async run(args) {
    const [target, ...extra] = args.positionals;
    if (!target || extra.length) throw new UsageError('give exactly one NAME or Resource-ID (32 hex digits) to route');
    const hash = optionalString(args, 'hash') ?? 'sha1';
    if (!ID_HASHES.includes(hash as IdHash)) throw new UsageError(`--hash must be one of ${ID_HASHES.join(', ')}`);
    // The Resource-ID is computed here and sent as hex, so that the id printed is the id routed.
    const resource = idToHex(isHexId(target) ? idFromHex(target) : resourceIdOf(target, hash as IdHash));
    const api = requireString(args, 'api');
    const r = (await callApi(api, 'POST', '/route', { resource })) as RouteAnswer;
    printResult(args, { name: target, resource, ...r }, `${target} -> ${resource} responsible ${r.responsible} hops=${r.hops} time=${r.rttMs} ms`);
    return 0;
  },
};
