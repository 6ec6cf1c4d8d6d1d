import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { admit, bearerMatches, hostAllowed, isJsonContentType, isLoopbackHost, parseAllowedOrigin, type AccessPolicy } from '../../overlay/api/api-access.js';
import { capabilityScope, ReadCapabilities } from '../../overlay/api/capability.js';

const TOKEN = randomBytes(32).toString('hex');
const SWARM = 'ab'.repeat(32);
const OTHER = 'cd'.repeat(32);

function policy(overrides: Partial<AccessPolicy> = {}): AccessPolicy {
  return { token: TOKEN, tokenFile: '/home/u/node/data/api-token', allowOrigins: new Set(), allowRemote: false, publicMetrics: false, capabilities: new ReadCapabilities(), ...overrides };
}

const bearer = { authorization: `Bearer ${TOKEN}` };

/** The status admit() gives a request (200 when admitted). */
function statusOf(method: string, path: string, headers: IncomingHttpHeaders, p = policy(), cap?: string): number {
  const a = admit({ method, path, cap, headers: { host: '127.0.0.1:7085', ...headers } }, p);
  return 'refused' in a ? a.refused.status : 200;
}

describe('overlay/api/api-access', () => {
  it('isLoopbackHost: localhost and 127.0.0.0/8 and ::1 only', () => {
    for (const h of ['localhost', 'LocalHost', '127.0.0.1', '127.255.3.9', '::1', '::ffff:127.0.0.1']) expect(isLoopbackHost(h), h).to.equal(true);
    for (const h of ['0.0.0.0', '::', '128.0.0.1', '192.168.1.5', '::2', 'localhost.evil.example', '127.0.0.1.nip.io', 'evil.example', '']) expect(isLoopbackHost(h), h).to.equal(false);
  });

  it('Host: loopback names and addresses with or without port pass; other names, malformed values and (by default) other addresses get no access', () => {
    const p = policy();
    for (const h of [undefined, 'localhost', 'localhost:7085', '127.0.0.1', '127.0.0.1:7085', '127.1.2.3:80', '[::1]', '[::1]:7085']) expect(hostAllowed(h, p), String(h)).to.equal(true);
    for (const h of ['evil.example', 'evil.example:7085', '127.0.0.1.nip.io:7085', '192.168.1.5:7085', '[fe80::1]:7085', '::1', '[::1', '[localhost]:1', 'localhost:x', '', 'a b']) {
      expect(hostAllowed(h, p), h).to.equal(false);
    }
  });

  it('Host with --api-allow-remote: any IP literal, but a DNS name only if loopback or the host of an allowed origin', () => {
    const remote = policy({ allowRemote: true });
    for (const h of ['192.168.1.5:7085', '[fe80::1]:7085', '10.0.0.1']) expect(hostAllowed(h, remote), h).to.equal(true);
    expect(hostAllowed('evil.example:7085', remote)).to.equal(false);
    const named = policy({ allowRemote: true, allowOrigins: new Set(['http://devbox.lan:3000']) });
    expect(hostAllowed('devbox.lan:7085', named)).to.equal(true);
    expect(hostAllowed('DEVBOX.LAN', named)).to.equal(true);
    expect(hostAllowed('other.lan:7085', named)).to.equal(false);
  });

  it('parseAllowedOrigin takes scheme://host[:port] and refuses "null", paths and other schemes', () => {
    expect(parseAllowedOrigin('http://localhost:3000')).to.equal('http://localhost:3000');
    expect(parseAllowedOrigin('http://localhost:3000/')).to.equal('http://localhost:3000');
    expect(parseAllowedOrigin('HTTPS://App.Example:443')).to.equal('https://app.example');
    for (const bad of ['null', '*', 'localhost:3000', 'http://localhost:3000/app', 'http://x/?q', 'file:///tmp', 'ftp://x', 'http://u:p@x']) {
      expect(() => parseAllowedOrigin(bad), bad).to.throw(/not an origin like http:\/\/localhost:3000/);
    }
  });

  it('isJsonContentType: application/json, with a UTF-8 charset or none', () => {
    for (const t of ['application/json', 'application/json; charset=utf-8', 'Application/JSON;charset=UTF-8', 'application/json; charset="utf-8"']) expect(isJsonContentType(t), t).to.equal(true);
    for (const t of [undefined, '', 'text/plain', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx', 'application/json; charset=latin1']) {
      expect(isJsonContentType(t), String(t)).to.equal(false);
    }
  });

  it('bearerMatches: the token after "Bearer" (any case), nothing else', () => {
    expect(bearerMatches(`Bearer ${TOKEN}`, TOKEN)).to.equal(true);
    expect(bearerMatches(`bearer ${TOKEN}`, TOKEN)).to.equal(true);
    const wrongSameLength = (TOKEN[0] === '0' ? '1' : '0') + TOKEN.slice(1);
    for (const h of [undefined, '', `Bearer ${wrongSameLength}`, `Bearer ${TOKEN.slice(1)}`, `Bearer ${TOKEN}x`, `Basic ${TOKEN}`, TOKEN, `Bearer ${TOKEN} extra`]) {
      expect(bearerMatches(h, TOKEN), String(h)).to.equal(false);
    }
  });

  describe('admit', () => {
    it('401 without the token or with a wrong one, naming the token file', () => {
      const none = admit({ method: 'GET', path: '/status', headers: {} }, policy());
      expect(none).to.deep.equal({ refused: { status: 401, error: 'Unauthorized', message: 'no API token: send the token in /home/u/node/data/api-token as "Authorization: Bearer <token>"' } });
      expect(statusOf('GET', '/status', { authorization: 'Bearer ' + 'f'.repeat(64) })).to.equal(401);
      expect(statusOf('GET', '/status', bearer)).to.equal(200);
    });

    it('403 for a foreign Host or Origin, even with the token; Origin "null" is foreign', () => {
      expect(statusOf('GET', '/status', { ...bearer, host: 'evil.example:7085' })).to.equal(403);
      expect(statusOf('POST', '/swarms', { ...bearer, origin: 'http://evil.example', 'content-type': 'text/plain' })).to.equal(403);
      expect(statusOf('GET', '/status', { ...bearer, origin: 'null' })).to.equal(403);
      const allowed = policy({ allowOrigins: new Set(['http://localhost:3000']) });
      expect(statusOf('GET', '/status', { ...bearer, origin: 'http://localhost:3000' }, allowed)).to.equal(200);
      expect(statusOf('GET', '/status', { ...bearer, origin: 'http://localhost:3001' }, allowed)).to.equal(403);
    });

    it('a CORS preflight from an allowed origin passes without a token; without an origin OPTIONS needs one', () => {
      const allowed = policy({ allowOrigins: new Set(['http://localhost:3000']) });
      expect(admit({ method: 'OPTIONS', path: '/status', headers: { origin: 'http://localhost:3000' } }, allowed)).to.deep.equal({ admitted: 'preflight' });
      expect(statusOf('OPTIONS', '/status', {}, allowed)).to.equal(401);
    });

    it('415 for a POST that is not JSON; a charset parameter is fine', () => {
      expect(statusOf('POST', '/swarms', { ...bearer, 'content-type': 'text/plain' })).to.equal(415);
      expect(statusOf('POST', '/swarms', bearer)).to.equal(415);
      expect(statusOf('POST', '/live/x/input', { ...bearer, 'content-type': 'application/octet-stream' })).to.not.equal(415);
      expect(statusOf('POST', '/live/x/input', { ...bearer, 'content-type': 'application/x-www-form-urlencoded' })).to.equal(415);
      expect(statusOf('POST', '/swarms', { ...bearer, 'content-type': 'application/json; charset=utf-8' })).to.equal(200);
      expect(statusOf('GET', '/status', { ...bearer, 'content-type': 'text/plain' })).to.equal(200);
    });

    it('public metrics: GET and HEAD /metrics without the token, nothing else', () => {
      const pub = policy({ publicMetrics: true });
      expect(admit({ method: 'GET', path: '/metrics', headers: {} }, pub)).to.deep.equal({ admitted: 'public-metrics' });
      expect(statusOf('HEAD', '/metrics', {}, pub)).to.equal(200);
      expect(statusOf('GET', '/status', {}, pub)).to.equal(401);
      expect(statusOf('POST', '/metrics', { 'content-type': 'application/json' }, pub)).to.equal(401);
      expect(statusOf('GET', '/metrics', {}, policy())).to.equal(401);
    });

    it('the page at /: GET and HEAD without the token (it holds no data), nothing else; its own origin may call the API with the token, no other', () => {
      expect(admit({ method: 'GET', path: '/', headers: {} }, policy())).to.deep.equal({ admitted: 'page' });
      expect(statusOf('HEAD', '/', {}), 'HEAD').to.equal(200);
      expect(statusOf('GET', '/index.html', {})).to.equal(401);
      expect(statusOf('POST', '/', { 'content-type': 'application/json' })).to.equal(401);
      expect(statusOf('GET', '/', { authorization: 'Bearer wrong' }), 'a wrong token is not the page').to.equal(401);
      expect(statusOf('GET', '/', { host: 'evil.example' }), 'a rebound name').to.equal(403);
      const own = { origin: 'http://127.0.0.1:7085', 'content-type': 'application/json' };
      expect(statusOf('POST', '/swarms', { ...own, ...bearer }), 'same-origin POST with the token').to.equal(200);
      expect(statusOf('POST', '/swarms', own), 'same-origin POST without the token').to.equal(401);
      expect(statusOf('POST', '/swarms', { ...own, ...bearer, origin: 'http://127.0.0.1:7086' }), 'another port is another origin').to.equal(403);
      expect(statusOf('POST', '/swarms', { ...own, ...bearer, origin: 'https://127.0.0.1:7085' }), 'another scheme').to.equal(403);
    });

    it('capability scope: its own swarm by GET or HEAD only; another swarm, another path or a POST is 401', () => {
      const p = policy();
      const cap = p.capabilities.mint(SWARM);
      expect(admit({ method: 'GET', path: `/swarms/${SWARM}`, cap, headers: {} }, p)).to.deep.equal({ admitted: 'capability' });
      expect(statusOf('HEAD', `/swarms/${SWARM}`, {}, p, cap)).to.equal(200);
      expect(statusOf('GET', `/swarms/${SWARM}/media`, {}, p, cap)).to.equal(200);
      expect(statusOf('GET', `/swarms/${OTHER}`, {}, p, cap)).to.equal(401);
      expect(statusOf('POST', `/swarms/${SWARM}/download`, { 'content-type': 'application/json' }, p, cap)).to.equal(401);
      expect(statusOf('DELETE', `/swarms/${SWARM}`, {}, p, cap)).to.equal(401);
      expect(statusOf('GET', '/status', {}, p, cap)).to.equal(401);
      expect(statusOf('GET', `/swarms/${SWARM}`, {}, p, cap.slice(1))).to.equal(401);
      expect(statusOf('GET', `/swarms/${SWARM}`, {}, p, p.capabilities.mint(OTHER))).to.equal(401);
      expect(statusOf('GET', `/swarms/${SWARM}`, {}, policy(), cap), 'another run of the node').to.equal(401);
      expect(statusOf('GET', `/swarms/${SWARM}`, { origin: 'http://evil.example' }, p, cap)).to.equal(403);
      expect(statusOf('GET', `/swarms/${SWARM}`, { host: 'evil.example' }, p, cap)).to.equal(403);
    });
  });

  it('capabilityScope: /swarms/<64 lowercase hex> and plain segments below it, no other spelling', () => {
    expect(capabilityScope(`/swarms/${SWARM}`)).to.equal(SWARM);
    expect(capabilityScope(`/swarms/${SWARM}/media/0`)).to.equal(SWARM);
    for (const path of [`/swarms/${SWARM.toUpperCase()}`, `/swarms/${SWARM}/`, `/swarms/${SWARM}/../status`, `/swarms/${SWARM}/%2e%2e`, `/swarms/${SWARM.slice(2)}`, `//swarms/${SWARM}`, '/status']) {
      expect(capabilityScope(path), path).to.equal(undefined);
    }
  });
});
