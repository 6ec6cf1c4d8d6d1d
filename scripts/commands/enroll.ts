/**
 * `reload-ppsp enroll`: gets a node identity (key + certificate with a CA-chosen Node-ID), either
 * from a local CA directory or from an enrollment server over HTTPS (RFC 6940 §11.3).
 */
import { KEY_ALGORITHMS, type KeyAlgorithm } from '../../certs/ca.js';
import { enrollLocal, type EnrollResult } from '../../certs/ca-dir.js';
import { enrollRemote } from '../../certs/enrollment-client.js';
import { readPasswordFile } from '../../certs/users.js';
import { loadOverlayConfig } from '../../overlay/config.js';
import { optionalString, printResult, requireString, UsageError, type Command, type ParsedArgs } from '../command.js';

/** Flags that only make sense with --server. */
const SERVER_ONLY = ['password-file', 'config'] as const;

async function enrollFromServer(args: ParsedArgs, server: string, user: string, out: string, force: boolean, key: KeyAlgorithm): Promise<EnrollResult> {
  const configPath = optionalString(args, 'config');
  if (!configPath) throw new UsageError("--server needs --config: the overlay configuration's root certificate is how the server is trusted");
  const password = await readPasswordFile(requireString(args, 'password-file'));
  const config = await loadOverlayConfig(configPath);
  return enrollRemote({ url: server, user, password, caCertPem: config.rootCerts, overlay: config.overlay, outDir: out, force, key });
}

export const enrollCommand: Command = {
  name: 'enroll',
  summary: 'Get a node identity with a CA-chosen Node-ID from a local CA (--ca) or an enrollment server (--server, trusted via --config).',
  options: {
    ca: { type: 'string', help: 'enroll from this local CA directory (from `ca init`)', valueName: 'DIR' },
    server: { type: 'string', help: 'enroll from this enrollment server, e.g. https://127.0.0.1:6084/enroll', valueName: 'URL' },
    user: { type: 'string', help: 'the user name to enroll, e.g. alice@example.org', valueName: 'USER' },
    'password-file': { type: 'string', help: 'with --server: a file whose first line is the password', valueName: 'FILE' },
    config: { type: 'string', help: 'with --server: the overlay configuration, whose root certificate authenticates the server (required)', valueName: 'FILE' },
    out: { type: 'string', help: 'the node directory to write node.key and node.crt into', valueName: 'NODEDIR' },
    force: { type: 'boolean', help: 'replace an identity already in NODEDIR (its Node-ID is lost)' },
    key: { type: 'string', help: `the node key: ${KEY_ALGORITHMS.join(' or ')} (P-256; signs ~6x faster than RSA-2048); default rsa, the algorithm every RELOAD peer must verify`, valueName: 'TYPE' },
    json: { type: 'boolean', help: 'print {nodeId, user, overlay, out} as JSON' },
  },
  async run(args) {
    const ca = optionalString(args, 'ca');
    const server = optionalString(args, 'server');
    if ((ca === undefined) === (server === undefined)) throw new UsageError('give either --ca DIR (local CA) or --server URL (enrollment server)');
    const user = requireString(args, 'user');
    const out = requireString(args, 'out');
    const force = args.values.force === true;
    const key = (optionalString(args, 'key') ?? 'rsa') as KeyAlgorithm;
    if (!KEY_ALGORITHMS.includes(key)) throw new UsageError(`--key ${key} is not one of ${KEY_ALGORITHMS.join(', ')}`);
    let r: EnrollResult;
    if (ca !== undefined) {
      const misplaced = SERVER_ONLY.find((flag) => args.values[flag] !== undefined);
      if (misplaced) throw new UsageError(`--${misplaced} goes with --server, not --ca`);
      r = await enrollLocal(ca, user, out, { force, key });
    } else {
      r = await enrollFromServer(args, server!, user, out, force, key);
    }
    printResult(args, { nodeId: r.nodeIdHex, user: r.user, overlay: r.overlay, out: r.out }, `enrolled ${r.user} as node ${r.nodeIdHex} in ${r.out}`);
    return 0;
  },
};
