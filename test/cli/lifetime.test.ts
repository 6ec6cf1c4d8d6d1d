/**
 * A lifetime of 0 s means the same everywhere: refused. The CLI says so as a usage error (exit 2),
 * the API answers 400 Invalid_Message, the node's own store() throws Invalid_Message, and the
 * storing peer refuses such a value (test/overlay/storage/lifetimes.test.ts). Before, the CLI sent
 * 0 on, the API refused it, and store() signed it: gone on arrival, and re-sent by every refresh.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApi, type ApiServer } from '../../overlay/api/http-api.js';
import { ErrorCode, ReloadError } from '../../overlay/errors.js';
import { resourceIdOf } from '../../overlay/id.js';
import { MAX_LIFETIME_SEC } from '../../overlay/storage/types.js';
import { ApiError, callApi } from '../../scripts/api-client.js';
import { runCli } from '../helpers/cli.js';
import { rejection } from '../helpers/rejection.js';
import { startTestnet, type Testnet } from '../helpers/testnet.js';

describe('CLI, API and node agree on --lifetime 0', function () {
  this.timeout(60_000);
  let net: Testnet;
  let api: ApiServer;
  let dir: string;
  let endpoint: { address: string; tokenFile: string };

  before(async () => {
    net = await startTestnet(2);
    const token = randomBytes(32).toString('hex');
    dir = await mkdtemp(join(tmpdir(), 'lifetime-'));
    await writeFile(join(dir, 'api-token'), token, { mode: 0o600 });
    api = await startApi(net.nodes[0]!, { host: '127.0.0.1', port: 0, token });
    endpoint = { address: api.address, tokenFile: join(dir, 'api-token') };
  });

  after(async () => {
    await api?.close();
    await net?.stopAll();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('refuses it in all three and accepts a lifetime from 1 s', async () => {
    const node = net.nodes[0]!;
    const user = node.identity.user;
    const store = (lifetime: string) => runCli(['store', '--api', api.address, '--api-token-file', endpoint.tokenFile, '--kind', 'user-value', '--resource', user, '--value', 'v', '--lifetime', lifetime]);

    const cli = await store('0');
    expect(cli.code, cli.stderr).to.equal(2);
    expect(cli.stderr).to.equal(`reload-ppsp: --lifetime must be an integer from 1 to ${MAX_LIFETIME_SEC}, not "0"\n`);

    const viaApi = await rejection<ApiError>(callApi(endpoint, 'POST', '/store', { kind: 'user-value', resource: user, value: 'v', lifetime: 0 }));
    expect([viaApi.status, viaApi.errorName]).to.deep.equal([400, 'Invalid_Message']);

    const direct = await rejection<ReloadError>(node.storage.store('user-value', resourceIdOf(user, 'sha1'), { model: 'single', value: { exists: true, value: Buffer.from('v') } }, { lifetimeSec: 0 }));
    expect(direct).to.be.instanceOf(ReloadError);
    expect([direct.code, direct.reason]).to.deep.equal([ErrorCode.Invalid_Message, 'bad_lifetime']);

    // Nothing was stored by any of them.
    const fetched = await rejection<ApiError>(callApi(endpoint, 'POST', '/fetch', { kind: 'user-value', resource: user }));
    expect(fetched.errorName).to.equal('Not_Found');

    // The CLI passes a valid one through the API to store(), which stores it with that lifetime.
    const ok = await store('600');
    expect(ok.code, ok.stderr).to.equal(0);
    const stat = (await callApi(endpoint, 'POST', '/stat', { kind: 'user-value', resource: user })) as { values: { lifetimeSec: number }[] };
    expect(stat.values).to.have.length(1);
    expect(stat.values[0]!.lifetimeSec).to.be.within(590, 600);
  });
});
