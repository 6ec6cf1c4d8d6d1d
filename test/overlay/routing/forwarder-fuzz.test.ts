import { expect } from 'chai';
import { ErrorCode, isKnownErrorCode, ReloadError } from '../../../overlay/errors.js';
import { idToHex, randomId, type Id } from '../../../overlay/id.js';
import { pingRequestBody } from '../../../overlay/methods/ping.js';
import { silentLogger } from '../../../overlay/log.js';
import { Forwarder } from '../../../overlay/routing/forwarder.js';
import { RoutingMetrics } from '../../../overlay/routing/metrics.js';
import { encodeCbor } from '../../../overlay/wire/cbor.js';
import { encodeMessage, overlayHash } from '../../../overlay/wire/codec.js';
import { MessageCode } from '../../../overlay/wire/codes.js';
import type { Destination, WireMessage } from '../../../overlay/wire/message.js';
import { signMessage, verifyMessage } from '../../../overlay/wire/sign.js';
import { sharedPki, TEST_OVERLAY } from '../../helpers/pki.js';
import { fuzzSeed, Prng } from '../../helpers/prng.js';
import { newHeader } from '../../../overlay/wire/header.js';
import { RecordingLink } from '../../helpers/recording-link.js';

const FRAMES = 100_000;
const MAX_MESSAGE = 64 * 1024;

const node = (id: Id): Destination => ({ type: 'node', id });

describe('overlay/routing/forwarder fuzz', function () {
  this.timeout(120_000);

  it(`takes ${FRAMES.toLocaleString('en')} random and mutated frames at its entry point with only typed errors`, async () => {
    const seed = fuzzSeed();
    const rng = new Prng(seed);
    const pki = await sharedPki();
    const [selfIdentity, peerIdentity] = [await pki.enroll(), await pki.enroll()];
    const self = selfIdentity.nodeId;
    const from = new RecordingLink(peerIdentity.nodeId, MAX_MESSAGE);
    const onward = new RecordingLink(randomId(), MAX_MESSAGE);
    const metrics = new RoutingMetrics();
    const tally = { delivered: 0, verified: 0, errors: 0, errorsSent: 0 };
    const faults: string[] = [];
    const typed = (e: unknown, what: string) => {
      expect(e, `${what} threw a non-ReloadError (seed ${seed}): ${(e as Error)?.stack}`).to.be.instanceOf(ReloadError);
      expect(isKnownErrorCode((e as ReloadError).code), `unknown code (seed ${seed})`).to.equal(true);
    };
    const forwarder: Forwarder = new Forwarder({
      self,
      overlayHash: overlayHash(TEST_OVERLAY),
      configSequence: 1,
      initialTtl: 100,
      maxMessageSize: MAX_MESSAGE,
      metrics,
      log: silentLogger,
      policy: {
        nextHop: (d) => (d.type === 'resource' ? { kind: 'local' } : idToHex(d.id) === onward.remoteNodeIdHex ? { kind: 'link', link: onward, direct: false } : { kind: 'none' }),
      },
      deliver: (msg) => {
        tally.delivered++;
        try {
          verifyMessage(msg, pki.trust, Date.now());
          tally.verified++;
        } catch (e) {
          typed(e, 'verifyMessage');
        }
      },
      // A failed assertion or a TypeError inside deliver or sendError is a fault; the forwarder
      // still answers the peer, so the fuzz must look here to see it.
      onFault: (e, stage) => faults.push(`${stage}: ${(e as Error)?.stack ?? String(e)}`),
      sendError: (request, error, link) => {
        typed(error, 'the forwarder');
        tally.errors++;
        // Signing every answer would make this a benchmark of RSA; sign a sample of them for real.
        if (tally.errors % 500 === 1) {
          const header = { ...request.header, via: [], destinations: [...request.header.via].reverse(), ttl: 100 };
          forwarder.sendOn(link, signMessage(header, { code: MessageCode.Error, body: encodeCbor([error.code, error.message]), extensions: [] }, selfIdentity));
          tally.errorsSent++;
        }
      },
    });

    // Valid seeds for mutation: requests addressed here, onward, to a resource, unknown, and an answer.
    const header = (destinations: Destination[], over = {}) => ({
      ...newHeader({ overlay: TEST_OVERLAY, sequence: 1, initialTtl: 50 }, destinations, [node(peerIdentity.nodeId)]),
      ...over,
    });
    const ping = { code: MessageCode.PingReq, body: encodeCbor(pingRequestBody(16)), extensions: [] };
    const seeds: WireMessage[] = [
      signMessage(header([node(self)]), ping, peerIdentity),
      signMessage(header([node(onward.remoteNodeId)]), ping, peerIdentity),
      signMessage(header([node(self), node(onward.remoteNodeId)]), ping, peerIdentity),
      signMessage(header([{ type: 'resource', id: randomId() }]), ping, peerIdentity),
      signMessage(header([node(randomId())], { ttl: 0 }), ping, peerIdentity),
      signMessage(header([node(self)]), { code: MessageCode.PingAns, body: encodeCbor([new Uint8Array(8), 1]), extensions: [] }, peerIdentity),
    ];
    const seedBytes = seeds.map(encodeMessage);

    const mutate = (input: Uint8Array): Uint8Array => {
      const b = Uint8Array.from(input);
      switch (rng.int(6)) {
        case 0: // bit flips
          for (let i = 0, n = 1 + rng.int(4); i < n; i++) b[rng.int(b.length)]! ^= 1 << rng.int(8);
          return b;
        case 1: // truncation
          return b.subarray(0, rng.int(b.length));
        case 2: { // insert random bytes
          const at = rng.int(b.length);
          return Uint8Array.from([...b.subarray(0, at), ...rng.bytes(1 + rng.int(8)), ...b.subarray(at)]);
        }
        case 3: { // delete a run
          const at = rng.int(b.length);
          return Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + 1 + rng.int(16))]);
        }
        case 4: { // splice two messages
          const other = rng.pick(seedBytes);
          return Uint8Array.from([...b.subarray(0, rng.int(b.length)), ...other.subarray(rng.int(other.length))]);
        }
        default: // overwrite a byte with a CBOR-significant value
          b[rng.int(b.length)] = rng.pick([0x00, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x40, 0x58, 0x5f, 0x80, 0x9f, 0xa0, 0xbf, 0xf4, 0xf6, 0xf7, 0xff]);
          return b;
      }
    };

    for (let i = 0; i < FRAMES; i++) {
      const kind = rng.int(10);
      const frame = kind === 0 ? rng.bytes(rng.int(512)) : kind === 1 ? rng.pick(seedBytes) : mutate(rng.pick(seedBytes));
      try {
        forwarder.receive(frame, from);
      } catch (e) {
        throw new Error(`receive() threw on frame ${i} (seed ${seed}, hex ${Buffer.from(frame).toString('hex').slice(0, 200)}): ${(e as Error).stack}`);
      }
    }

    expect(faults, `faults inside the forwarder or its callbacks (seed ${seed}); the first: ${faults[0]}`).to.have.length(0);
    // The fuzz reached every branch: deliveries that verified, forwards, refusals, and drops.
    expect(tally.verified, `seed ${seed}`).to.be.greaterThan(1000);
    expect(metrics.get('forwarded'), `seed ${seed}`).to.be.greaterThan(1000);
    expect(tally.errors, `seed ${seed}`).to.be.greaterThan(1000);
    expect(tally.errorsSent).to.be.greaterThan(0);
    expect(metrics.errorCount(ErrorCode.Invalid_Message, 'dropped'), `seed ${seed}`).to.be.greaterThan(1000);
    expect(tally.delivered).to.be.greaterThan(tally.verified); // mutated contents were delivered and then refused
    expect(onward.sent).to.equal(metrics.get('forwarded'));
  });
});
