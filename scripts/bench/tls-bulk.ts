/**
 * The raw TLS baseline of the transfer benches: one mutual TLS 1.3 connection on 127.0.0.1 with
 * the same kind of certificates as the nodes', 64 KiB writes, timed at the receiver.
 */
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';

const WRITE_BYTES = 64 * 1024;

/** MB/s of `bytes` pushed through one mutual-TLS 1.3 connection on 127.0.0.1. */
export async function rawTlsBulk(keyPem: string, certPem: string, caPem: string, bytes: number): Promise<number> {
  const server = tls.createServer({ key: keyPem, cert: certPem, ca: [caPem], requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  let received = 0;
  const done = new Promise<number>((resolve) => {
    server.on('secureConnection', (sock) => {
      const started = Date.now();
      sock.on('data', (d: Buffer) => {
        received += d.length;
        if (received >= bytes) {
          resolve(bytes / 1e6 / ((Date.now() - started) / 1000));
          sock.destroy();
        }
      });
    });
  });
  const client = tls.connect({ host: '127.0.0.1', port, key: keyPem, cert: certPem, ca: [caPem], checkServerIdentity: () => undefined });
  await once(client, 'secureConnect');
  const block = randomBytes(WRITE_BYTES);
  for (let sent = 0; sent < bytes; sent += WRITE_BYTES) if (!client.write(block)) await once(client, 'drain');
  const mbps = await done;
  client.destroy();
  server.close();
  return mbps;
}

