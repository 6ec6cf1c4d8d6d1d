import { createHash, randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { idFromHex, idToHex, resourceIdOf } from '../../overlay/id.js';
import { STORE_FILE_MAX_BYTES } from '../../scripts/commands/storage.js';
import { startNodeProcess, type NodeProcess } from '../../scripts/node-process.js';
import { runCli, runCliEach, type CliResult } from '../helpers/cli.js';
import { settleApis } from '../helpers/settle.js';
import { RingTruth } from '../helpers/testnet.js';

const OVERLAY = 'storage.test';
/** Kinds added to the overlay.json `ca init` writes, for --index, --range and --key. */
const EXTRA_KINDS = [
  { id: 0xf0000010, name: 'user-list', dataModel: 'array', accessControl: 'USER-MATCH', maxCount: 16, maxSize: 4096 },
  { id: 0xf0000011, name: 'user-dict', dataModel: 'dictionary', accessControl: 'USER-MATCH', maxCount: 16, maxSize: 4096 },
];
const ISO = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z';

/** `reload-ppsp store | fetch | stat | find` against three real node processes. */
describe('CLI: store, fetch, stat, find', function () {
  this.timeout(120_000);
  let dir: string;
  let truth: RingTruth;
  const nodes: NodeProcess[] = [];
  const users = ['n1', 'n2', 'n3'].map((n) => `${n}@${OVERLAY}`);
  const hexOf = (name: string) => idToHex(resourceIdOf(name, 'sha1'));

  /** Runs the CLI and expects exit 0 and nothing on stderr. */
  async function cli(args: string[]): Promise<string> {
    const r = await runCli(args);
    expect(r.code, `${args.join(' ')}\n${r.stderr}`).to.equal(0);
    expect(r.stderr, args.join(' ')).to.equal('');
    return r.stdout;
  }

  /** Expects one line `reload-ppsp: ...` on stderr matching `message`, and `code`. */
  function expectFailure(r: CliResult, code: number, message: RegExp, what: string): void {
    expect(r.code, `${what}\n${r.stderr}`).to.equal(code);
    expect(r.stdout, what).to.equal('');
    expect(r.stderr.trim().split('\n'), `${what}\n${r.stderr}`).to.have.length(1);
    expect(r.stderr, what).to.match(/^reload-ppsp: /);
    expect(r.stderr, what).to.match(message);
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reload-cli-storage-'));
    const init = await runCli(['ca', 'init', '--dir', join(dir, 'ca'), '--overlay', OVERLAY]);
    expect(init.code, init.stderr).to.equal(0);
    const config = join(dir, 'ca', 'overlay.json');
    const doc = JSON.parse(await readFile(config, 'utf8')) as { chord: Record<string, number>; kinds: unknown[] };
    doc.chord = { ...doc.chord, updateIntervalMs: 500, neighbourTimeoutMs: 2000 };
    doc.kinds = [...doc.kinds, ...EXTRA_KINDS];
    await writeFile(config, JSON.stringify(doc));
    await Promise.all(
      users.map(async (user, i) => {
        const r = await runCli(['enroll', '--ca', join(dir, 'ca'), '--user', user, '--out', join(dir, `n${i + 1}`)]);
        expect(r.code, r.stderr).to.equal(0);
      }),
    );
    for (let i = 0; i < users.length; i++) nodes.push(await startNodeProcess({ config, identity: join(dir, `n${i + 1}`), bootstrap: nodes[0] ? [nodes[0].listen] : [] }));
    truth = new RingTruth(nodes.map((n) => idFromHex(n.nodeId)));
    await settleApis(nodes.map((n) => n.api), doc.chord.neighbourCount!);
  });

  after(async () => {
    const codes = await Promise.all(nodes.map((n) => n.stop()));
    await rm(dir, { recursive: true, force: true });
    expect(codes).to.deep.equal([0, 0, 0]);
  });

  it('stores text through one node; fetch, stat and find through the others print one line each', async () => {
    const [n1, n2, n3] = nodes as [NodeProcess, NodeProcess, NodeProcess];
    const resource = hexOf(users[0]!);
    const stored = await cli(['store', '--api', n1.api, '--kind', 'user-value', '--resource', users[0]!, '--value', 'hello, storage']);
    expect(stored).to.equal(`stored user-value at ${resource} generation=1 responsible=${truth.responsible(idFromHex(resource))} replicas=2/2\n`);

    const fetched = await cli(['fetch', '--api', n2.api, '--kind', 'user-value', '--resource', users[0]!]);
    expect(fetched).to.match(new RegExp(`^hello, storage  \\(signer ${users[0]} ${n1.nodeId}, stored ${ISO}\\)\\n$`));

    const stat = (await cli(['stat', '--api', n3.api, '--kind', 'user-value', '--resource', resource])).split('\n');
    expect(stat[0]).to.equal(`user-value at ${resource} generation=1 from=${truth.responsible(idFromHex(resource))}`);
    const sha = createHash('sha256').update('hello, storage').digest('hex');
    expect(stat[1]).to.match(new RegExp(`^length=14 sha256=${sha} stored=${ISO} lifetime=\\d+s$`));

    // find by name and by id, with a second kind that holds nothing there.
    const found = await cli(['find', '--api', n2.api, '--kind', 'user-value', '--kind', String(EXTRA_KINDS[0]!.id), '--resource', users[0]!]);
    expect(found).to.equal(`user-value ${resource}\nuser-list -\n`);
  });

  it('--json prints the API\'s answers', async () => {
    const [n1, n2] = nodes as [NodeProcess, NodeProcess];
    const user = users[1]!;
    const resource = hexOf(user);
    const stored = JSON.parse(await cli(['store', '--api', n2.api, '--kind', 'user-value', '--resource', user, '--value', 'json me', '--lifetime', '600', '--json'])) as Record<string, unknown>;
    expect(stored).to.include({ resource, kind: 'user-value', generation: 1, responsible: truth.responsible(idFromHex(resource)) });
    expect(stored.replicas).to.have.length(2);
    const fetched = JSON.parse(await cli(['fetch', '--api', n1.api, '--kind', 'user-value', '--resource', user, '--json'])) as { values: Record<string, unknown>[] };
    expect(fetched.values).to.have.length(1);
    expect(fetched.values[0]).to.include({ value: 'json me', exists: true });
    expect(fetched.values[0]!.signer).to.deep.equal({ nodeId: n2.nodeId, user });
    expect(fetched.values[0]!.lifetimeSec).to.be.within(590, 600);
    const stat = JSON.parse(await cli(['stat', '--api', n1.api, '--kind', 'user-value', '--resource', user, '--json'])) as { values: Record<string, unknown>[] };
    expect(stat.values[0]).to.include({ length: 7, sha256: createHash('sha256').update('json me').digest('hex') });
    const found = JSON.parse(await cli(['find', '--api', n1.api, '--kind', 'user-value', '--resource', user, '--json']));
    expect(found).to.deep.equal({ resource, results: [{ kind: 'user-value', closest: resource }] });
  });

  it('--file stores a binary file as bytes and fetch --out writes them back byte-identical', async () => {
    const [, n2, n3] = nodes as [NodeProcess, NodeProcess, NodeProcess];
    const user = users[2]!;
    const bytes = Buffer.concat([Buffer.from([0, 0xff, 0x0a, 0xc3]), randomBytes(20_000)]);
    const file = join(dir, 'value.bin');
    await writeFile(file, bytes);
    await cli(['store', '--api', n3.api, '--kind', 'user-value', '--resource', user, '--file', file]);
    const out = join(dir, 'fetched.bin');
    const wrote = await cli(['fetch', '--api', n2.api, '--kind', 'user-value', '--resource', user, '--out', out]);
    expect(wrote).to.match(new RegExp(`^wrote ${bytes.length} bytes to ${out.replace(/[.]/g, '\\.')} \\(signer ${user} ${n3.nodeId}, stored ${ISO}\\)\\n$`));
    expect((await readFile(out)).equals(bytes)).to.equal(true);
    // The file exists now: another value goes there only with --force.
    const other = ['fetch', '--api', n2.api, '--kind', 'user-value', '--resource', users[0]!, '--out', out];
    expectFailure(await runCli(other), 2, /exists; pass --force to replace it/, 'fetch --out onto an existing file');
    expect((await readFile(out)).equals(bytes), 'left alone').to.equal(true);
    await cli([...other, '--force']);
    expect(await readFile(out, 'utf8')).to.equal('hello, storage');
    // Without --out, bytes that are not text print as base64 on their one line.
    const shown = await cli(['fetch', '--api', n2.api, '--kind', 'user-value', '--resource', user]);
    expect(shown).to.equal(`base64:${bytes.toString('base64')}  ${/\(signer .*\)\n$/.exec(shown)![0]}`);
  });

  it('--index, --range and --key address array and dictionary entries', async () => {
    const [n1, n2] = nodes as [NodeProcess, NodeProcess];
    const user = users[0]!;
    await cli(['store', '--api', n1.api, '--kind', 'user-list', '--resource', user, '--value', 'zero', '--index', '0']);
    await cli(['store', '--api', n1.api, '--kind', 'user-list', '--resource', user, '--value', 'appended']);
    await cli(['store', '--api', n1.api, '--kind', 'user-list', '--resource', user, '--value', 'five', '--index', '5']);
    const lines = (args: string[]) => cli(args).then((s) => s.trim().split('\n').map((l) => l.replace(/  \(signer .*\)$/, '')));
    expect(await lines(['fetch', '--api', n2.api, '--kind', 'user-list', '--resource', user])).to.deep.equal(['[0] zero', '[1] appended', '[5] five']);
    expect(await lines(['fetch', '--api', n2.api, '--kind', 'user-list', '--resource', user, '--range', '1:5'])).to.deep.equal(['[1] appended', '[5] five']);
    expect(await lines(['fetch', '--api', n2.api, '--kind', 'user-list', '--resource', user, '--index', '5'])).to.deep.equal(['[5] five']);
    const stat = await lines(['stat', '--api', n2.api, '--kind', 'user-list', '--resource', user, '--range', '0:1']);
    expect(stat.slice(1).map((l) => l.split(' ').slice(0, 2).join(' '))).to.deep.equal(['[0] length=4', '[1] length=8']);

    await cli(['store', '--api', n1.api, '--kind', 'user-dict', '--resource', user, '--key', 'colour', '--value', 'blue']);
    await cli(['store', '--api', n1.api, '--kind', 'user-dict', '--resource', user, '--key-hex', '00ff', '--value', 'binary key']);
    expect(await lines(['fetch', '--api', n2.api, '--kind', 'user-dict', '--resource', user, '--key', 'colour'])).to.deep.equal(['key=colour blue']);
    expect(await lines(['fetch', '--api', n2.api, '--kind', 'user-dict', '--resource', user])).to.deep.equal([`key=base64:${Buffer.from([0, 0xff]).toString('base64')} binary key`, 'key=colour blue']);
  });

  it('--delete stores a tombstone: fetch then fails with Not_Found, stat shows it deleted', async () => {
    const [n1, n2, n3] = nodes as [NodeProcess, NodeProcess, NodeProcess];
    const user = users[1]!;
    await cli(['store', '--api', n2.api, '--kind', 'user-value', '--resource', user, '--value', 'to be deleted']);
    const deleted = await cli(['store', '--api', n2.api, '--kind', 'user-value', '--resource', user, '--delete']);
    expect(deleted).to.match(new RegExp(`^deleted user-value at ${hexOf(user)} generation=\\d+ responsible=[0-9a-f]{32} replicas=2/2\\n$`));
    expectFailure(await runCli(['fetch', '--api', n1.api, '--kind', 'user-value', '--resource', user]), 1, /^reload-ppsp: Not_Found: no user-value value at [0-9a-f]{32}\n$/, 'fetch after delete');
    const stat = await cli(['stat', '--api', n3.api, '--kind', 'user-value', '--resource', user]);
    expect(stat.split('\n')[1]).to.match(/^deleted stored=/);
    // Deleting one array entry leaves the others.
    await cli(['store', '--api', n1.api, '--kind', 'user-list', '--resource', users[0]!, '--index', '1', '--delete']);
    const left = await cli(['fetch', '--api', n3.api, '--kind', 'user-list', '--resource', users[0]!]);
    expect(left.trim().split('\n').map((l) => l.split(' ')[0])).to.deep.equal(['[0]', '[5]']);
  });

  it('turns refusals and mistakes into one line on stderr: exit 1 for a refusal, 2 for a usage error', async () => {
    const [n1, n2] = nodes as [NodeProcess, NodeProcess];
    const big = join(dir, 'big.bin');
    await writeFile(big, randomBytes(64 * 1024 + 1));
    const huge = join(dir, 'huge.bin');
    await writeFile(huge, '');
    await truncate(huge, STORE_FILE_MAX_BYTES + 1); // sparse: refused by its size, never read
    const store = ['store', '--api', n1.api, '--kind', 'user-value', '--resource', users[0]!];
    await cli([...store, '--value', 'before the refusals']); // generation >= 2, so generation - 1 is a stale one, not 0
    const current = JSON.parse(await cli(['stat', '--api', n1.api, '--kind', 'user-value', '--resource', users[0]!, '--json'])) as { generation: number };
    expect(current.generation).to.be.at.least(2);
    const cases: [string[], number, RegExp][] = [
      [['store', '--api', n2.api, '--kind', 'user-value', '--resource', users[0]!, '--value', 'not mine'], 1, /^reload-ppsp: Forbidden: USER-MATCH: /],
      [['fetch', '--api', n1.api, '--kind', 'user-value', '--resource', 'nobody stored here'], 1, /^reload-ppsp: Not_Found: /],
      [['fetch', '--api', n1.api, '--kind', 'no-such-kind', '--resource', users[0]!], 1, /^reload-ppsp: Unknown_Kind: no kind "no-such-kind"/],
      [[...store, '--file', big], 1, /^reload-ppsp: Data_Too_Large: .*65536/],
      [[...store, '--value', 'stale', '--generation', String(current.generation - 1)], 1, /^reload-ppsp: Generation_Counter_Too_Low: /],
      [['stat', '--api', n1.api, '--kind', 'user-value', '--resource', users[0]!, '--index', '1'], 1, /^reload-ppsp: Invalid_Message: .*single value/],
      [['fetch', '--api', '127.0.0.1:1', '--kind', 'user-value', '--resource', 'x'], 1, /cannot reach the node API at 127\.0\.0\.1:1/],
      [[...store, '--file', join(dir, 'missing.bin')], 1, /ENOENT|no such file/],
      [[...store, '--file', huge], 2, new RegExp(`larger than ${STORE_FILE_MAX_BYTES} bytes`)],
      [[...store], 2, /--value TEXT or --file FILE, or --delete/],
      [[...store, '--value', 'x', '--file', big], 2, /only one of --value, --file/],
      [[...store, '--value', 'x', '--generation', 'two'], 2, /--generation must be an integer from 0 to \d+, not "two"/],
      [['store', '--api', n1.api, '--resource', 'x', '--value', 'x'], 2, /missing --kind/],
      [['fetch', '--api', n1.api, '--kind', 'user-value'], 2, /missing --resource/],
      [['fetch', '--kind', 'user-value', '--resource', 'x'], 2, /missing --api/],
      [['fetch', '--api', n1.api, '--kind', 'user-list', '--resource', 'x', '--range', '5'], 2, /--range must be FIRST:LAST/],
      [['fetch', '--api', n1.api, '--kind', 'user-list', '--resource', users[0]!, '--out', join(dir, 'x.bin')], 2, /--out takes one value, but 2 were fetched/],
      [['find', '--api', n1.api, '--resource', 'x'], 2, /missing --kind/],
      [['fetch', 'positional', '--api', n1.api, '--kind', 'user-value', '--resource', 'x'], 2, /fetch takes no arguments; unexpected "positional"/],
    ];
    const results = await runCliEach(cases.map(([args]) => args));
    cases.forEach(([args, code, message], i) => expectFailure(results[i]!, code, message, args.join(' ')));
    // The refused stores changed nothing.
    const after = JSON.parse(await cli(['stat', '--api', n2.api, '--kind', 'user-value', '--resource', users[0]!, '--json'])) as { generation: number };
    expect(after.generation).to.equal(current.generation);

    for (const name of ['store', 'fetch', 'stat', 'find']) {
      const help = await runCli([name, '--help']);
      expect(help.code).to.equal(0);
      expect(help.stdout).to.match(new RegExp(`^Usage: reload-ppsp ${name} \\[options\\]`));
    }
  });
});
