import { expect } from 'chai';
import { ConfigError, CONFIG_DEFAULTS, newOverlayConfig, overlayConfigToJson, parseHostPort, parseOverlayConfig, USER_VALUE_KIND } from '../../overlay/config.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

function refused(doc: unknown): string {
  try {
    parseOverlayConfig(doc);
  } catch (e) {
    expect(e).to.be.instanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('accepted a bad document');
}

describe('overlay/config', () => {
  it('fills defaults and round-trips through JSON', () => {
    const cfg = newOverlayConfig('example.org', PEM);
    expect(cfg.topology).to.equal('CHORD-RELOAD');
    expect(cfg.hash).to.equal('sha1');
    expect(cfg.initialTtl).to.equal(CONFIG_DEFAULTS.initialTtl);
    expect(cfg.kinds).to.deep.equal([USER_VALUE_KIND]);
    expect(cfg.chord).to.deep.equal(CONFIG_DEFAULTS.chord);
    expect(cfg.storage).to.deep.equal(CONFIG_DEFAULTS.storage);
    expect(parseOverlayConfig({ overlay: 'x.org', rootCerts: [PEM], chord: { updateIntervalMs: 1000 } }).chord.updateIntervalMs).to.equal(1000);
    expect(cfg.kademlia).to.deep.equal(CONFIG_DEFAULTS.kademlia);
    const kademlia = parseOverlayConfig({ overlay: 'x.org', rootCerts: [PEM], topology: 'KADEMLIA', kademlia: { k: 16 } });
    expect([kademlia.topology, kademlia.kademlia.k, kademlia.kademlia.alpha]).to.deep.equal(['KADEMLIA', 16, CONFIG_DEFAULTS.kademlia.alpha]);
    const again = parseOverlayConfig(JSON.parse(overlayConfigToJson({ ...cfg, bootstrap: [{ host: '::1', port: 7 }, { host: '127.0.0.1', port: 6084 }] })));
    expect(again.bootstrap).to.deep.equal([{ host: '::1', port: 7 }, { host: '127.0.0.1', port: 6084 }]);
  });

  it('names the bad field', () => {
    const good = { overlay: 'example.org', rootCerts: [PEM] };
    expect(refused(null)).to.match(/JSON object/);
    expect(refused({ ...good, overlay: 'bad name!' })).to.match(/"overlay"/);
    expect(refused({ ...good, rootCerts: [] })).to.match(/"rootCerts"/);
    expect(refused({ ...good, rootCerts: ['nope'] })).to.match(/"rootCerts\[0\]"/);
    expect(refused({ ...good, hash: 'md5' })).to.match(/"hash" must be one of sha1, sha256/);
    expect(refused({ ...good, topology: 'PASTRY' })).to.match(/"topology"/);
    expect(refused({ ...good, initialTtl: 0 })).to.match(/"initialTtl"/);
    expect(refused({ ...good, maxMessageSize: 1.5 })).to.match(/"maxMessageSize"/);
    expect(refused({ ...good, bootstrap: ['127.0.0.1'] })).to.match(/bootstrap\[0\]/);
    expect(refused({ ...good, kinds: [{ ...USER_VALUE_KIND, dataModel: 'tree' }] })).to.match(/"dataModel"/);
    expect(refused({ ...good, kinds: [USER_VALUE_KIND, USER_VALUE_KIND] })).to.match(/twice/);
    expect(refused({ ...good, kinds: [{ ...USER_VALUE_KIND, accessControl: 'USER-NODE-MATCH' }] })).to.match(/dictionary/);
    expect(refused({ ...good, chord: { neighbourCount: 0 } })).to.match(/"chord\.neighbourCount"/);
    expect(refused({ ...good, chord: [] })).to.match(/"chord" must be an object/);
    expect(refused({ ...good, kademlia: { k: 0 } })).to.match(/"kademlia\.k"/);
    expect(refused({ ...good, kademlia: { siblings: 4 } })).to.match(/unknown field kademlia\.siblings/);
    expect(refused({ ...good, storage: { replicas: 'three' } })).to.match(/"storage\.replicas"/);
    expect(refused({ ...good, links: { relayPort: 70000 } })).to.match(/"links\.relayPort"/);
    expect(refused({ ...good, links: { punchSpraySockets: -1 } })).to.match(/"links\.punchSpraySockets"/);
    expect(parseOverlayConfig({ ...good, links: { relayPort: 7000, reachabilityPeers: 0 } }).links).to.deep.include({ relayPort: 7000, reachabilityPeers: 0, relayCircuits: 16 });
    // A kind whose largest value could not travel in a Store request.
    expect(refused({ ...good, maxMessageSize: 65536, kinds: [{ ...USER_VALUE_KIND, maxSize: 65536 }] })).to.match(/"kinds\[0\]\.maxSize" is 65536, but values must fit a 65536-byte message/);
    expect(parseOverlayConfig({ ...good, maxMessageSize: 65536, kinds: [{ ...USER_VALUE_KIND, maxSize: 65536 - 8192 }] }).kinds[0]!.maxSize).to.equal(65536 - 8192);
  });

  it('refuses unknown fields at every level, naming the path and the closest known field', () => {
    const good = { overlay: 'example.org', rootCerts: [PEM] };
    const cases: [unknown, string][] = [
      [{ ...good, storage: { maxbytes: 4096 } }, 'unknown field storage.maxbytes (did you mean storage.maxBytes?)'],
      [{ ...good, chord: { neighborCount: 4 } }, 'unknown field chord.neighborCount (did you mean chord.neighbourCount?)'],
      [{ ...good, kinds: [USER_VALUE_KIND, { ...USER_VALUE_KIND, id: 7, name: 'b', maxsize: 10 }] }, 'unknown field kinds[1].maxsize (did you mean kinds[1].maxSize?)'],
      [{ ...good, initialTTL: 10 }, 'unknown field initialTTL (did you mean initialTtl?)'],
      [{ ...good, bootstraps: [] }, 'unknown field bootstraps (did you mean bootstrap?)'],
    ];
    for (const [doc, message] of cases) expect(refused(doc)).to.equal(`overlay config: ${message}`);
    // Nothing close: the known fields of that level are listed instead of a misleading guess.
    expect(refused({ ...good, storage: { colour: 'blue' } })).to.equal('overlay config: unknown field storage.colour (known: replicas, maxBytes, defaultLifetimeSec, syncIntervalMs)');
    // What `ca init` writes is all known fields, and so is maxNodeMultiple on a NODE-MULTIPLE kind.
    const cfg = newOverlayConfig('example.org', PEM);
    const multiple = { ...USER_VALUE_KIND, id: 9, name: 'multi', accessControl: 'NODE-MULTIPLE', maxNodeMultiple: 3 };
    expect(parseOverlayConfig({ ...JSON.parse(overlayConfigToJson(cfg)), kinds: [multiple] }).kinds[0]!.maxNodeMultiple).to.equal(3);
  });

  it('parses HOST:PORT for IPv4, bracketed IPv6 and names', () => {
    expect(parseHostPort('127.0.0.1:6084')).to.deep.equal({ host: '127.0.0.1', port: 6084 });
    expect(parseHostPort('[::1]:9')).to.deep.equal({ host: '::1', port: 9 });
    expect(parseHostPort('localhost:1')).to.deep.equal({ host: 'localhost', port: 1 });
    for (const bad of ['127.0.0.1', ':80', '127.0.0.1:0', '127.0.0.1:70000', '::1:80']) expect(() => parseHostPort(bad), bad).to.throw(ConfigError);
  });
});
