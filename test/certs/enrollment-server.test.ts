import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request, type RequestOptions } from 'node:https';
import { connect } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { createCsr, EnrollmentError } from '../../certs/ca.js';
import { initCaDir } from '../../certs/ca-dir.js';
import { enrollRemote, EnrollmentRequestError } from '../../certs/enrollment-client.js';
import { ENROLL_MAX_BODY_BYTES } from '../../certs/enrollment-protocol.js';
import { startEnrollmentServer, type EnrollmentServer } from '../../certs/enrollment-server.js';
import { IdentityFileError, loadIdentity } from '../../certs/identity.js';
import { encodeMultipart, type FormField } from '../../certs/multipart.js';
import { SERVER_CERT_FILE, SERVER_KEY_FILE } from '../../certs/server-cert.js';
import { addUser } from '../../certs/users.js';
import { parseSubjectAltName } from '../../certs/san.js';
import { rejection } from '../helpers/rejection.js';

const OVERLAY = 'enroll.test';
const ALICE = `alice@${OVERLAY}`;
const BOB = `bob@${OVERLAY}`;
const PASSWORD = 'correct horse battery staple';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}


/**
 * Counts this process's sockets and servers, to see that close() leaves none behind. Timers are
 * left out: node:http keeps an unref'd one of its own to cache the Date header.
 */
function openHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => /TCP|TLS|Pipe/.test(r)).length;
}

describe('certs/enrollment-server (HTTPS on 127.0.0.1)', () => {
  let tmp: string;
  let caDir: string;
  let usersFile: string;
  let caPem: string;
  let server: EnrollmentServer;
  let csrs: Record<string, { keyPem: string; csrPem: string }>;

  /** One HTTPS request trusting the overlay root; `body` chunks are written one by one. */
  function send(url: string, opts: RequestOptions & { body?: Buffer | Buffer[] }): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = request(url, { ca: [caPem], agent: false, ...opts }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      for (const chunk of [opts.body ?? []].flat()) req.write(chunk);
      req.end();
    });
  }

  function postForm(fields: FormField[], url = server.url): Promise<Answer> {
    const { body, contentType } = encodeMultipart(fields);
    return send(url, { method: 'POST', headers: { 'Content-Type': contentType, 'Content-Length': body.length }, body });
  }

  function enrollForm(user: string, password: string, csr: string | Buffer, extra: FormField[] = []): FormField[] {
    return [
      { name: 'username', value: user },
      { name: 'password', value: password },
      { name: 'csr', value: csr, contentType: 'application/pkcs10' },
      ...extra,
    ];
  }

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'reload-enroll-'));
    caDir = join(tmp, 'ca');
    usersFile = join(tmp, 'users.json');
    ({
      ca: { certPem: caPem },
    } = await initCaDir(caDir, OVERLAY));
    await addUser(usersFile, ALICE, PASSWORD);
    await addUser(usersFile, BOB, 'bobs password');
    csrs = { alice: await createCsr(ALICE), bob: await createCsr(BOB) };
    server = await startEnrollmentServer({ dir: caDir, host: '127.0.0.1', port: 0, usersFile });
  });

  after(async () => {
    await server?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it('serves on an https URL with a certificate the CA issued for 127.0.0.1, kept in the CA directory', async () => {
    expect(server.url).to.match(/^https:\/\/127\.0\.0\.1:\d+\/enroll$/);
    const cert = new X509Certificate(await readFile(join(caDir, SERVER_CERT_FILE), 'utf8'));
    expect(cert.subjectAltName).to.equal('IP Address:127.0.0.1');
    expect(cert.verify(new X509Certificate(caPem).publicKey)).to.equal(true);
    expect((await stat(join(caDir, SERVER_KEY_FILE))).mode & 0o777).to.equal(0o600);
  });

  it('issues a DER certificate whose Node-ID the server picked', async () => {
    // The request names only the user; there is no Node-ID in it to pick from.
    const request = forge.pki.certificationRequestFromPem(csrs.alice!.csrPem);
    expect(JSON.stringify(request.getAttribute({ name: 'extensionRequest' }))).not.to.contain('reload://');

    const first = await postForm(enrollForm(ALICE, PASSWORD, csrs.alice!.csrPem, [{ name: 'nodeids', value: '1' }]));
    expect(first.status).to.equal(200);
    expect(first.headers['content-type']).to.equal('application/pkix-cert');
    const cert = new X509Certificate(first.body);
    expect(cert.verify(new X509Certificate(caPem).publicKey)).to.equal(true);
    const id = parseSubjectAltName(cert.subjectAltName)!;
    expect(id).to.include({ user: ALICE, overlay: OVERLAY });

    // The same request again, as DER on the root path: another random Node-ID.
    const der = Buffer.from(forge.asn1.toDer(forge.pki.certificationRequestToAsn1(request)).getBytes(), 'binary');
    const second = await postForm(enrollForm(ALICE, PASSWORD, der), server.url.replace(/\/enroll$/, '/'));
    expect(second.status).to.equal(200);
    expect(parseSubjectAltName(new X509Certificate(second.body).subjectAltName)!.nodeIdHex).not.to.equal(id.nodeIdHex);
  });

  it('answers 403 failed_authentication for a wrong password or an unknown user', async () => {
    for (const [user, password] of [
      [ALICE, 'wrong'],
      [`mallory@${OVERLAY}`, PASSWORD],
    ] as const) {
      const res = await postForm(enrollForm(user, password, csrs.alice!.csrPem));
      expect(res.status).to.equal(403);
      expect(res.body.toString()).to.equal('failed_authentication');
    }
  });

  it('answers 400 bad_CSR for a request that does not parse or whose signature fails', async () => {
    const tampered = forge.pki.certificationRequestFromPem(csrs.alice!.csrPem);
    tampered.signature = tampered.signature.slice(0, -1) + String.fromCharCode(tampered.signature.charCodeAt(tampered.signature.length - 1) ^ 1);
    // An ECDSA request whose signature's last byte was changed (forge cannot parse EC requests: work on the DER).
    const ecDer = Buffer.from(forge.pem.decode((await createCsr(ALICE, 'ecdsa')).csrPem)[0]!.body, 'binary');
    ecDer.writeUInt8(ecDer.readUInt8(ecDer.length - 1) ^ 1, ecDer.length - 1);
    for (const csr of ['-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n', Buffer.from([0x30, 0x03, 1, 2, 3]), forge.pki.certificationRequestToPem(tampered), ecDer]) {
      const res = await postForm(enrollForm(ALICE, PASSWORD, csr));
      expect(res.status).to.equal(400);
      expect(res.body.toString()).to.equal('bad_CSR');
    }
  });

  it('answers 403 username_not_available for a request naming another user', async () => {
    const res = await postForm(enrollForm(ALICE, PASSWORD, csrs.bob!.csrPem));
    expect(res.status).to.equal(403);
    expect(res.body.toString()).to.equal('username_not_available');
  });

  it('answers 403 Node-IDs_not_available for more than one Node-ID', async () => {
    const res = await postForm(enrollForm(ALICE, PASSWORD, csrs.alice!.csrPem, [{ name: 'nodeids', value: '2' }]));
    expect(res.status).to.equal(403);
    expect(res.body.toString()).to.equal('Node-IDs_not_available');
  });

  it('answers 413 for a body over the bound, declared or streamed', async () => {
    // Declared too large: refused from the headers alone; the body is never sent.
    const declared = await new Promise<number>((resolve, reject) => {
      const req = request(server.url, {
        method: 'POST',
        ca: [caPem],
        agent: false,
        headers: { 'Content-Type': 'multipart/form-data; boundary=b', 'Content-Length': ENROLL_MAX_BODY_BYTES + 1 },
      });
      req.on('response', (res) => {
        resolve(res.statusCode!);
        req.destroy();
      });
      req.on('error', reject);
      req.flushHeaders();
    });
    expect(declared).to.equal(413);
    // Chunked with no length: refused at the chunk that crosses the bound.
    const streamed = await send(server.url, {
      method: 'POST',
      headers: { 'Content-Type': 'multipart/form-data; boundary=b' },
      body: Array.from({ length: 5 }, () => Buffer.alloc(ENROLL_MAX_BODY_BYTES / 4, 0x61)),
    });
    expect(streamed.status).to.equal(413);
  });

  it('answers 405 to other methods, 404 to other paths, 400 to a body that is not a well-formed form', async () => {
    const get = await send(server.url, { method: 'GET' });
    expect(get.status).to.equal(405);
    expect(get.headers.allow).to.equal('POST');
    expect((await send(server.url.replace('/enroll', '/other'), { method: 'POST' })).status).to.equal(404);

    const json = Buffer.from('{"username":"alice"}');
    expect((await send(server.url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: json })).status).to.equal(400);
    const broken = Buffer.from('--b\r\nContent-Disposition: form-data; name="username"\r\n\r\nalice');
    expect((await send(server.url, { method: 'POST', headers: { 'Content-Type': 'multipart/form-data; boundary=b' }, body: broken })).status).to.equal(400);
    const missing = await postForm([{ name: 'username', value: ALICE }]);
    expect(missing.status).to.equal(400);
  });

  it('refuses plain HTTP on its port', async () => {
    const port = Number(new URL(server.url).port);
    const outcome = await new Promise<string>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/enroll', agent: false }, (res) => resolve(`answered ${res.statusCode}`));
      req.on('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code}`));
      req.end();
    });
    expect(outcome).to.match(/^error /);
  });

  it('answers 503 beyond the concurrency bound', async () => {
    const small = await startEnrollmentServer({ dir: caDir, host: '127.0.0.1', port: 0, usersFile, maxConcurrentRequests: 1 });
    try {
      // A request whose body never comes holds the one slot. The server sends 100 Continue just
      // before it runs the handler, so once the client sees it the slot is taken.
      const stalled = request(small.url, {
        method: 'POST',
        ca: [caPem],
        agent: false,
        headers: { 'Content-Type': 'multipart/form-data; boundary=b', 'Content-Length': 100, Expect: '100-continue' },
      });
      stalled.on('error', () => {}); // destroyed below
      await new Promise((resolve) => stalled.once('continue', resolve));
      const busy = await postForm(enrollForm(ALICE, PASSWORD, csrs.alice!.csrPem), small.url);
      expect(busy.status).to.equal(503);
      stalled.destroy();
    } finally {
      await small.close();
    }
  });

  it('stalled clients beyond maxConnections do not keep an enrollment out: they are evicted for it', async () => {
    const small = await startEnrollmentServer({ dir: caDir, host: '127.0.0.1', port: 0, usersFile, maxConnections: 8 });
    const stalled: TLSSocket[] = [];
    try {
      const port = Number(new URL(small.url).port);
      await Promise.all(
        Array.from({ length: 30 }, () =>
          new Promise<void>((resolve) => {
            const s = tlsConnect({ host: '127.0.0.1', port, ca: [caPem] }, () => {
              s.write('POST /enroll HTTP/1.1\r\nHost: 127.0.0.1\r\n');
              resolve();
            });
            s.on('error', () => {}); // the evicted ones are cut off
            s.once('close', () => resolve());
            stalled.push(s);
          }),
        ),
      );
      const answer = await postForm(enrollForm(BOB, 'bobs password', csrs.bob!.csrPem), small.url);
      expect(answer.status).to.equal(200);
    } finally {
      for (const s of stalled) s.destroy();
      await small.close();
    }
  });

  it('close() ends idle and busy connections and leaves no handle behind', async () => {
    const baseline = openHandles();
    const extra = await startEnrollmentServer({ dir: caDir, host: '127.0.0.1', port: 0, usersFile });
    const busy = request(extra.url, {
      method: 'POST',
      ca: [caPem],
      agent: false,
      headers: { 'Content-Type': 'multipart/form-data; boundary=b', 'Content-Length': 100, Expect: '100-continue' },
    });
    const busyClosed = new Promise((resolve) => busy.once('close', resolve));
    busy.on('error', () => {}); // the server cuts it off
    await new Promise((resolve) => busy.once('continue', resolve));
    const idle = connect({ host: '127.0.0.1', port: Number(new URL(extra.url).port) }); // not even a TLS hello
    await new Promise((resolve) => idle.once('connect', resolve));
    const idleClosed = new Promise((resolve) => idle.once('close', resolve));
    await extra.close();
    await Promise.all([busyClosed, idleClosed]);
    // A closed server's handle is released in the loop's close phase, after close() resolves.
    await new Promise((resolve) => setImmediate(resolve));
    expect(openHandles()).to.equal(baseline);
  }).timeout(5000); // shorter than the handshake timeout, which a leftover socket would wait out

  describe('enrollRemote', () => {
    it('round trip: writes an identity that loads, with the server-chosen Node-ID and the root appended', async () => {
      const out = join(tmp, 'node-alice');
      const result = await enrollRemote({ url: server.url, user: ALICE, password: PASSWORD, caCertPem: caPem, overlay: OVERLAY, outDir: out });
      expect(result).to.deep.include({ user: ALICE, overlay: OVERLAY, out });
      const id = await loadIdentity(out);
      expect(id.nodeIdHex).to.equal(result.nodeIdHex);
      expect(id.user).to.equal(ALICE);
      expect(id.certPem).to.contain(caPem.trim());
    });

    it('refuses an existing identity before asking the server', async () => {
      const out = join(tmp, 'node-alice');
      const e = await rejection(enrollRemote({ url: 'https://127.0.0.1:1/enroll', user: ALICE, password: PASSWORD, caCertPem: caPem, overlay: OVERLAY, outDir: out }));
      expect(e).to.be.instanceOf(IdentityFileError);
    });

    it('explains refusals and connection problems in words', async () => {
      const base = { user: ALICE, caCertPem: caPem, overlay: OVERLAY, outDir: join(tmp, 'node-x') };
      const wrong = await rejection(enrollRemote({ ...base, url: server.url, password: 'nope' }));
      expect(wrong).to.be.instanceOf(EnrollmentError);
      expect(wrong.message).to.contain('wrong user name or password');

      const refused = await rejection(enrollRemote({ ...base, url: 'https://127.0.0.1:1/enroll', password: PASSWORD }));
      expect(refused).to.be.instanceOf(EnrollmentRequestError);
      expect(refused.message).to.contain('is the enrollment server running at https://127.0.0.1:1/enroll?');

      const plain = await rejection(enrollRemote({ ...base, url: server.url.replace('https', 'http'), password: PASSWORD }));
      expect(plain.message).to.contain('https://');

      const otherCa = await initCaDir(join(tmp, 'other-ca'), OVERLAY);
      const untrusted = await rejection(enrollRemote({ ...base, url: server.url, password: PASSWORD, caCertPem: otherCa.ca.certPem }));
      expect(untrusted).to.be.instanceOf(EnrollmentRequestError);
      expect(untrusted.message).to.match(/not vouched for by the overlay's root certificate \(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY/);
    });

    it('refuses a certificate for another overlay', async () => {
      const e = await rejection(
        enrollRemote({ url: server.url, user: ALICE, password: PASSWORD, caCertPem: caPem, overlay: 'other.test', outDir: join(tmp, 'node-y') }),
      );
      expect(e).to.be.instanceOf(EnrollmentRequestError);
      expect(e.message).to.contain('cannot accept').and.to.contain('other.test');
    });
  });
});
