/**
 * Interop with a TLS client we did not write: `openssl s_client` against listenTls. Each case
 * keeps s_client's stdin open, so s_client exits only when the connection closes (or the test
 * ends its stdin), and its output tells what it saw of the handshake.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Identity } from '../../../certs/identity.js';
import { systemClock } from '../../../overlay/clock.js';
import { ErrorCode, ReloadError } from '../../../overlay/errors.js';
import { listenTls, type TlsLink, type TlsListener } from '../../../overlay/link/tls-link.js';
import { framePrefix } from '../../../overlay/wire/framing.js';
import { makePki, sharedPki, TEST_OVERLAY, type TestPki } from '../../helpers/pki.js';

const OPENSSL = '/usr/bin/openssl';
const S_CLIENT_TIMEOUT_MS = 15_000;

interface SClient {
  write(bytes: Uint8Array): void;
  /** Ends stdin, which makes s_client close the connection. */
  end(): void;
  /** Resolves when s_client has exited, with its exit code and everything it printed. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }>;
}

/** Resolves once `done()` holds, checking after each turn of the event loop. */
function eventually(done: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const poll = () => (done() ? resolve() : setImmediate(poll));
    poll();
  });
}

function sClient(port: number, args: string[]): SClient {
  const child = spawn(OPENSSL, ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_3', '-verify_return_error', ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    timeout: S_CLIENT_TIMEOUT_MS,
  });
  let stdout = '';
  child.stdout.setEncoding('latin1').on('data', (d: string) => (stdout += d));
  child.stderr.resume();
  return {
    write: (bytes) => child.stdin.write(bytes),
    end: () => child.stdin.end(),
    exited: new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout }))),
  };
}

// Missing openssl fails the suite instead of skipping it: CI installs it (.ci/run), and a quiet
// skip would hide that the interop was never checked.
describe('TlsLink interop with openssl s_client', function () {
  before(() => {
    if (!existsSync(OPENSSL)) throw new Error(`${OPENSSL} is missing: install openssl (apt-get install openssl) to run the TLS interop tests`);
  });

  this.timeout(60_000);

  let pki: TestPki;
  let dir: string;
  let server: Identity;
  let listener: TlsListener;
  let links: TlsLink[];
  let refused: { address: string; error: Error }[];

  /** Writes an identity's certificate chain and key for s_client; returns its arguments. */
  async function credentials(name: string, identity: Identity): Promise<string[]> {
    const cert = join(dir, `${name}.crt`);
    const key = join(dir, `${name}.key`);
    await writeFile(cert, identity.certPem);
    await writeFile(key, identity.keyPem, { mode: 0o600 });
    return ['-cert', cert, '-key', key];
  }

  before(async () => {
    pki = await sharedPki();
    server = await pki.enroll();
    dir = await mkdtemp(join(tmpdir(), 'reload-openssl-'));
    await writeFile(join(dir, 'ca.crt'), pki.trust.caPems.join(''));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    links = [];
    refused = [];
    listener = await listenTls({
      host: '127.0.0.1',
      port: 0,
      identity: server,
      trust: pki.trust,
      clock: systemClock,
      maxMessageBytes: 5000,
      queueLimit: 16,
      onLink: (link) => links.push(link),
      onRefused: (address, error) => refused.push({ address, error }),
    });
  });

  afterEach(async () => {
    await listener.close();
  });

  it('completes a TLS 1.3 handshake with an enrolled node’s certificate and carries framed messages', async () => {
    const node = await pki.enroll();
    const client = sClient(listener.address.port, [...(await credentials('node', node)), '-CAfile', join(dir, 'ca.crt')]);
    await eventually(() => links.length > 0);
    const link = links[0]!;
    expect(link.remoteNodeIdHex).to.equal(node.nodeIdHex);
    expect(link.remoteUser).to.equal(node.user);

    const received = new Promise<string>((resolve) => link.once('message', (m) => resolve(Buffer.from(m).toString())));
    client.write(Buffer.concat([framePrefix(6), Buffer.from('hello\n')]));
    expect(await received).to.equal('hello\n');
    link.send(Buffer.from('from the overlay\n'));
    // Ending stdin makes s_client close after what it has read; the link then closes cleanly.
    const closed = new Promise<Error | undefined>((resolve) => link.once('close', resolve));
    client.end();
    const { code, signal, stdout } = await client.exited;
    expect(await closed).to.equal(undefined);
    expect(signal).to.equal(null);
    expect(code).to.equal(0);
    expect(stdout).to.match(/^Verify return code: 0 \(ok\)$/m);
    expect(stdout).to.match(/^New, TLSv1\.3, Cipher is /m);
    expect(stdout).to.match(/Protocol\s*: TLSv1\.3/);
    expect(stdout).to.contain('from the overlay\n');
    expect(refused).to.deep.equal([]);
  });

  it('refuses a client that sends no certificate', async () => {
    const client = sClient(listener.address.port, ['-CAfile', join(dir, 'ca.crt')]);
    // stdin stays open: s_client only exits because the listener closes the connection.
    const { signal, stdout } = await client.exited;
    expect(signal).to.equal(null);
    expect(stdout).to.match(/^Verify return code: 0 \(ok\)$/m);
    expect(links).to.deep.equal([]);
    expect(refused).to.have.length(1);
    expect(refused[0]!.error).to.be.instanceOf(ReloadError);
    expect((refused[0]!.error as ReloadError).code).to.equal(ErrorCode.Forbidden);
    expect((refused[0]!.error as ReloadError).reason).to.equal('no_certificate');
  });

  it('refuses a client certificate from another CA', async () => {
    const stranger = await (await makePki(TEST_OVERLAY)).enroll();
    const client = sClient(listener.address.port, [...(await credentials('stranger', stranger)), '-CAfile', join(dir, 'ca.crt')]);
    const { signal } = await client.exited;
    expect(signal).to.equal(null);
    expect(links).to.deep.equal([]);
    expect(refused).to.have.length(1);
    expect((refused[0]!.error as ReloadError).reason).to.equal('untrusted_certificate');
    expect(refused[0]!.address).to.match(/^127\.0\.0\.1:\d+$/);
  });

  it('is refused by s_client when it does not trust our CA', async () => {
    const other = await makePki(TEST_OVERLAY);
    const otherCa = join(dir, 'other-ca.crt');
    await writeFile(otherCa, other.trust.caPems.join(''));
    const node = await pki.enroll();
    const client = sClient(listener.address.port, [...(await credentials('node2', node)), '-CAfile', otherCa]);
    const { code, stdout } = await client.exited;
    // -verify_return_error: s_client aborts the handshake itself.
    expect(code).to.not.equal(0);
    expect(stdout).to.not.match(/Verify return code: 0 \(ok\)/);
    expect(links).to.deep.equal([]);
    // The listener hears s_client's "unknown CA" alert as a failed handshake.
    await eventually(() => refused.length > 0);
    expect((refused[0]!.error as NodeJS.ErrnoException).code).to.equal('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA');
  });
});
