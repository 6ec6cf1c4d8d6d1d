/**
 * Our PPSPP seeder and downloader over real UDP sockets on loopback: byte-identical files, the root
 * checked, losses survived through a proxy that drops datagrams, a corrupt seeder refused.
 */
import { createHash } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { PpsppContent } from '../../../../usages/ppsp/ppspp/ppspp-content.js';
import { downloadPpspp, PpsppDownloadError } from '../../../../usages/ppsp/ppspp/ppspp-download.js';
import { PpsppEndpoint, type UdpAddress } from '../../../../usages/ppsp/ppspp/ppspp-endpoint.js';
import { PpsppServer } from '../../../../usages/ppsp/ppspp/ppspp-server.js';
import { pexResOf } from '../../../../usages/ppsp/ppspp/ppspp-upload.js';
import { decodeDatagram, encodeDatagram } from '../../../../usages/ppsp/ppspp/ppspp-datagram.js';
import { Prng } from '../../../helpers/prng.js';

/**
 * A UDP relay between one client and `target` that drops each datagram, both ways, with
 * probability `loss` (drawn from a seeded PRNG).
 */
class LossyRelay {
  private client: UdpAddress | undefined;
  dropped = 0;
  private constructor(
    private readonly front: Socket,
    private readonly back: Socket,
    target: UdpAddress,
    loss: number,
    rng: Prng,
  ) {
    front.on('message', (bytes, from) => {
      this.client = { host: from.address, port: from.port };
      if (rng.chance(loss)) this.dropped++;
      else back.send(bytes, target.port, target.host);
    });
    back.on('message', (bytes) => {
      if (!this.client) return;
      if (rng.chance(loss)) this.dropped++;
      else front.send(bytes, this.client.port, this.client.host);
    });
  }

  static async start(target: UdpAddress, loss: number, seed: number): Promise<LossyRelay> {
    const bind = (s: Socket) => new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
    const front = createSocket('udp4');
    const back = createSocket('udp4');
    await Promise.all([bind(front), bind(back)]);
    return new LossyRelay(front, back, target, loss, new Prng(seed));
  }

  address(): UdpAddress {
    return { host: '127.0.0.1', port: this.front.address().port };
  }

  close(): void {
    this.front.close();
    this.back.close();
  }
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('PPSPP transfer over UDP (RFC 7574, our seeder and downloader)', function () {
  this.timeout(60_000);
  let dir: string;
  let seedEndpoint: PpsppEndpoint;
  let leechEndpoint: PpsppEndpoint;
  let server: PpsppServer;
  const contents: PpsppContent[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ppspp-'));
    seedEndpoint = await PpsppEndpoint.bind('127.0.0.1', 0);
    leechEndpoint = await PpsppEndpoint.bind('127.0.0.1', 0);
    server = new PpsppServer(seedEndpoint);
  });

  afterEach(async () => {
    server.close();
    await Promise.all(contents.splice(0).map((c) => c.close()));
    await Promise.all([seedEndpoint.close(), leechEndpoint.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  async function seed(bytes: Uint8Array, name = 'seed.bin', options: Parameters<typeof PpsppContent.open>[1] = {}): Promise<PpsppContent> {
    const path = join(dir, name);
    await writeFile(path, bytes);
    const content = await PpsppContent.open(path, options);
    contents.push(content);
    server.add(content);
    return content;
  }

  for (const size of [1, 1024, 5000, 300_001]) {
    it(`downloads a ${size}-byte file by its SHA-1 root, byte-identical`, async () => {
      const bytes = new Prng(size).bytes(size);
      const content = await seed(bytes);
      const out = join(dir, 'out.bin');
      const result = await downloadPpspp({ endpoint: leechEndpoint, peers: [seedEndpoint.address()], root: content.root, out });
      expect(result.bytes).to.equal(size);
      expect(result.chunks).to.equal(Math.ceil(size / 1024));
      expect(sha256(await readFile(out))).to.equal(sha256(bytes));
      expect(server.stats.chunksSent).to.be.at.least(result.chunks);
    });
  }

  it('downloads a SHA-256 swarm of 16 KiB chunks (our own swarms geometry)', async () => {
    const bytes = new Prng(9).bytes(200_000);
    const content = await seed(bytes, 'seed.bin', { hash: 'sha256', chunkSize: 16_384 });
    expect(content.root.length).to.equal(32);
    const out = join(dir, 'out.bin');
    await downloadPpspp({ endpoint: leechEndpoint, peers: [seedEndpoint.address()], root: content.root, chunkSize: 16_384, out });
    expect(sha256(await readFile(out))).to.equal(sha256(bytes));
  });

  it('survives 10 % loss each way: lost DATA is asked for again, lost hashes are sent again', async () => {
    const bytes = new Prng(3).bytes(400_000);
    const content = await seed(bytes);
    const relay = await LossyRelay.start(seedEndpoint.address(), 0.1, 17);
    try {
      const out = join(dir, 'out.bin');
      await downloadPpspp({ endpoint: leechEndpoint, peers: [relay.address()], root: content.root, out, requestTimeoutMs: 300 });
      expect(sha256(await readFile(out))).to.equal(sha256(bytes));
      expect(relay.dropped, 'datagrams the relay dropped').to.be.greaterThan(20);
      expect(server.stats.chunksLost, 'chunks the seeder counted lost').to.be.greaterThan(0);
    } finally {
      relay.close();
    }
  });

  it('refuses chunks that do not match the root: the file changed after it was hashed', async () => {
    const bytes = new Prng(5).bytes(50_000);
    const content = await seed(bytes);
    const changed = Buffer.from(bytes);
    for (let i = 0; i < changed.length; i += 1024) changed[i]! ^= 0xff;
    await writeFile(content.path, changed);
    const out = join(dir, 'out.bin');
    const failure = await downloadPpspp({ endpoint: leechEndpoint, peers: [seedEndpoint.address()], root: content.root, out, maxCorrupt: 4 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).to.be.instanceOf(PpsppDownloadError);
    expect((failure as Error).message).to.match(/do not match the root hash/);
    await stat(out).then(
      () => expect.fail('no file may be renamed into place'),
      (e: NodeJS.ErrnoException) => expect(e.code).to.equal('ENOENT'),
    );
  });

  describe('from many peers at once', () => {
    const extra: { endpoint: PpsppEndpoint; server: PpsppServer }[] = [];
    afterEach(async () => {
      for (const e of extra.splice(0)) {
        e.server.close();
        await e.endpoint.close();
      }
    });

    /** Another seeder of `content` on its own endpoint. */
    async function seeder(content: PpsppContent): Promise<{ endpoint: PpsppEndpoint; server: PpsppServer }> {
      const endpoint = await PpsppEndpoint.bind('127.0.0.1', 0);
      const other = { endpoint, server: new PpsppServer(endpoint) };
      other.server.add(content);
      extra.push(other);
      return other;
    }

    it('takes chunks from every peer named, and finishes when one of them leaves half-way', async () => {
      const bytes = new Prng(21).bytes(2 * 1024 * 1024 + 99);
      const content = await seed(bytes);
      const [b, c] = [await seeder(content), await seeder(content)];
      const out = join(dir, 'many.bin');
      let left = false;
      const result = await downloadPpspp({
        endpoint: leechEndpoint,
        peers: [seedEndpoint.address(), b.endpoint.address(), c.endpoint.address()],
        root: content.root,
        out,
        onProgress: (p) => {
          // B says goodbye (the closing HANDSHAKE) a third of the way in; what it was asked for goes to the others.
          if (!left && p.chunks > (p.totalChunks ?? Infinity) / 3) {
            left = true;
            b.server.close();
          }
        },
      });
      expect(sha256(await readFile(out))).to.equal(sha256(bytes));
      expect(left).to.equal(true);
      expect(result.peers, 'peers that sent chunks').to.equal(3);
      for (const [name, s] of [['A', server], ['B', b.server], ['C', c.server]] as const) expect(s.stats.chunksSent, `chunks seeder ${name} sent`).to.be.greaterThan(0);
      expect(server.stats.chunksSent + b.server.stats.chunksSent + c.server.stats.chunksSent, 'chunks sent in all').to.be.at.least(result.chunks);
    });

    it('finds more peers by asking the one it was given (PEX_REQ) and downloads from them too', async () => {
      const bytes = new Prng(22).bytes(1024 * 1024 + 5);
      const content = await seed(bytes);
      // B fetches the file from A on the endpoint it serves on, then serves it: A heard from B's address.
      const b = await seeder(content);
      await downloadPpspp({ endpoint: b.endpoint, peers: [seedEndpoint.address()], root: content.root, out: join(dir, 'b-copy.bin'), maxPeers: 1 });
      const out = join(dir, 'found.bin');
      const result = await downloadPpspp({ endpoint: leechEndpoint, peers: [seedEndpoint.address()], root: content.root, out });
      expect(sha256(await readFile(out))).to.equal(sha256(bytes));
      expect(result.peers, 'the peer given and the one PEX named').to.equal(2);
      expect(b.server.stats.chunksSent, 'chunks from the peer PEX named').to.be.greaterThan(0);
    });

    it('with maxPeers 1 asks nobody for peers and takes everything from the one given', async () => {
      const content = await seed(new Prng(23).bytes(200 * 1024));
      const b = await seeder(content);
      await downloadPpspp({ endpoint: b.endpoint, peers: [seedEndpoint.address()], root: content.root, out: join(dir, 'b.bin'), maxPeers: 1 });
      const sentBefore = server.stats.chunksSent;
      const result = await downloadPpspp({ endpoint: leechEndpoint, peers: [seedEndpoint.address()], root: content.root, out: join(dir, 'one-peer.bin'), maxPeers: 1 });
      expect(result.peers).to.equal(1);
      expect(server.stats.chunksSent - sentBefore).to.be.at.least(result.chunks);
      expect(b.server.stats.channelsOpened, 'channels B opened for us').to.equal(0);
    });
  });

  it('answers PEX_REQ with the other peers of the swarm it heard from lately (RFC 7574 §8.11)', async () => {
    const content = await seed(new Prng(11).bytes(3000));
    // A first peer downloads (and closes its channel): the seeder heard from it within the minute.
    await downloadPpspp({ endpoint: leechEndpoint, peers: [seedEndpoint.address()], root: content.root, out: join(dir, 'one.bin') });
    // A second peer, by hand: HANDSHAKE, then PEX_REQ on the channel the seeder gives it.
    const raw = createSocket('udp4');
    await new Promise<void>((resolve) => raw.bind(0, '127.0.0.1', resolve));
    const seeder = seedEndpoint.address();
    // The next datagram with a message in it (keep-alives are skipped).
    const next = () =>
      new Promise<Buffer>((resolve) => {
        const take = (bytes: Buffer) => {
          if (bytes.length <= 4) return;
          raw.off('message', take);
          resolve(bytes);
        };
        raw.on('message', take);
      });
    try {
      const handshake = encodeDatagram(0, [{ type: 'handshake', sourceChannel: 77, options: [{ kind: 'version', value: 1 }, { kind: 'swarmId', value: content.root }] }]);
      const greeted = next();
      raw.send(handshake, seeder.port, seeder.host);
      const greeting = decodeDatagram(await greeted);
      const theirs = greeting.messages[0]!;
      expect(greeting.channel).to.equal(77);
      expect(theirs.type).to.equal('handshake');
      const answered = next();
      raw.send(encodeDatagram((theirs as { sourceChannel: number }).sourceChannel, [{ type: 'pexReq' }]), seeder.port, seeder.host);
      const pex = decodeDatagram(await answered).messages;
      expect(pex).to.deep.equal([{ type: 'pexResV4', address: Uint8Array.from([127, 0, 0, 1]), port: leechEndpoint.address().port }]);
    } finally {
      raw.close();
    }
  });

  it('names IPv4, IPv4-mapped and IPv6 peers in the PEX_RES of their family', () => {
    expect(pexResOf({ host: '10.1.2.3', port: 7 })).to.deep.equal({ type: 'pexResV4', address: Uint8Array.from([10, 1, 2, 3]), port: 7 });
    expect(pexResOf({ host: '::ffff:10.1.2.3', port: 7 })).to.deep.equal({ type: 'pexResV4', address: Uint8Array.from([10, 1, 2, 3]), port: 7 });
    expect(pexResOf({ host: '::1', port: 9 })).to.deep.equal({ type: 'pexResV6', address: Uint8Array.from([...new Array(15).fill(0), 1]), port: 9 });
    expect(pexResOf({ host: 'fe80::a:bcd', port: 9 })).to.deep.equal({ type: 'pexResV6', address: Uint8Array.from([0xfe, 0x80, ...new Array(10).fill(0), 0, 0x0a, 0x0b, 0xcd]), port: 9 });
    expect(pexResOf({ host: '2001:db8:1:2:3:4:5:6', port: 1 })?.type).to.equal('pexResV6');
    expect(pexResOf({ host: 'example.org', port: 1 })).to.equal(undefined);
  });

  it('gives up with a clear error when nobody serves the root there', async () => {
    const out = join(dir, 'out.bin');
    const root = createHash('sha1').update('nothing').digest();
    const failure = await downloadPpspp({ endpoint: leechEndpoint, peers: [seedEndpoint.address()], root, out, idleTimeoutMs: 1500 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((failure as Error).message).to.match(/no answer from 127\.0\.0\.1:\d+ .*is a PPSPP peer serving this root hash there/);
    expect(server.stats.handshakesRefused).to.be.at.least(1);
  });
});
