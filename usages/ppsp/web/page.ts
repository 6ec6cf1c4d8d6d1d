/**
 * The node's page for people, at `/` of the node API: the node's state, its swarms with progress,
 * peers and rates, and a player for any swarm. The page holds no data and is served without a
 * token; its script takes the API token from the URL fragment (`reload-ppsp status` prints the
 * link, and the node when it starts; a fragment never reaches a server), keeps it in
 * sessionStorage, removes it from the address bar, and uses the JSON API like any client. Everything shown is set as text, never as markup, and
 * a Content-Security-Policy with a fresh nonce lets only the page's own script and style run.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #222; }
h1 { font-size: 1.2rem; } table { border-collapse: collapse; margin: .5rem 0; }
td, th { padding: .2rem .6rem; text-align: left; border-bottom: 1px solid #ddd; }
code { font-size: 12px; } video { max-width: 100%; background: #000; margin-top: .5rem; }
#error { color: #b00; }`;

const SCRIPT = `
'use strict';
const KEY = 'reload-ppsp-token';
/** A call that takes longer is abandoned: a stuck node must not stop the refreshes for good. */
const CALL_TIMEOUT_MS = 10000;
const fragment = /(?:^#|&)token=([^&]+)/.exec(location.hash);
if (fragment) {
  sessionStorage.setItem(KEY, decodeURIComponent(fragment[1]));
  history.replaceState(null, '', location.pathname);
}
const token = sessionStorage.getItem(KEY);
const $ = (id) => document.getElementById(id);
/** The token was refused: the node has restarted since (it makes a new one at each start). */
class Refused extends Error {}
async function api(method, path, body) {
  const headers = { authorization: 'Bearer ' + token };
  if (body) headers['content-type'] = 'application/json';
  const r = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined, signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
  const json = await r.json().catch(() => ({}));
  if (r.status === 401) throw new Refused(json.message || 'HTTP 401');
  if (!r.ok) throw new Error(json.message || ('HTTP ' + r.status));
  return json;
}
function showLogin(why) {
  $('app').hidden = true;
  $('login').hidden = false;
  $('why').textContent = why;
}
const mib = (n) => (n / 1048576).toFixed(1) + ' MiB';
async function play(id) {
  const { streamUrl } = await api('POST', '/swarms/' + id + '/capability', {});
  const video = $('player');
  video.hidden = false;
  video.src = streamUrl;
  $('playing').textContent = id;
  await video.play().catch(() => {});
}
/** One row per swarm, kept across refreshes so that a Play button does not vanish under a click. */
const rows = new Map();
function rowOf(id) {
  let row = rows.get(id);
  if (row) return row;
  const tr = document.createElement('tr');
  tr.dataset.swarm = id;
  const cells = ['name', 'role', 'done', 'peers', 'rate'].map(() => tr.appendChild(document.createElement('td')));
  const button = document.createElement('button');
  button.textContent = 'Play';
  button.addEventListener('click', () => play(id).catch((e) => ($('error').textContent = e.message)));
  tr.appendChild(document.createElement('td')).appendChild(button);
  row = { tr, cells };
  rows.set(id, row);
  return row;
}
// A live channel has no end to be a share of: how far behind the source it plays instead.
function done(w) {
  if (!w.live) return w.percent.toFixed(1) + ' %';
  const lag = w.playback && w.playback.lagMs !== null ? ', ' + (w.playback.lagMs / 1000).toFixed(1) + ' s behind' : '';
  return (w.ended ? 'live, ended' : 'live') + lag;
}
async function refresh() {
  const s = await api('GET', '/status');
  $('node').textContent = s.nodeId + ' (' + s.user + ')';
  $('state').textContent = s.state + ', overlay ' + s.overlay + ', ' + s.links.length + ' links';
  const list = (await api('GET', '/swarms')).swarms;
  const shown = [];
  for (const summary of list) {
    const w = await api('GET', '/swarms/' + summary.swarmId);
    const row = rowOf(w.swarmId);
    const texts = [w.name || w.swarmId.slice(0, 16), w.role, done(w), String(w.peers.length), w.live ? '' : mib(w.bytesPerSec) + '/s'];
    texts.forEach((text, i) => (row.cells[i].textContent = text));
    shown.push(row.tr);
  }
  for (const id of [...rows.keys()]) if (!list.some((w) => w.swarmId === id)) rows.delete(id);
  $('swarms').replaceChildren(...shown);
  $('empty').hidden = shown.length > 0;
  $('error').textContent = '';
}
async function loop() {
  try {
    await refresh();
  } catch (e) {
    if (e instanceof Refused) {
      sessionStorage.removeItem(KEY);
      return showLogin("The node refused this page's token: it makes a new one each time it starts. ");
    }
    $('error').textContent = e.message;
  }
  setTimeout(loop, 2000);
}
$('address').textContent = location.host;
if (token) { $('app').hidden = false; loop(); } else showLogin('');
`;

function html(nonce: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>reload-ppsp node</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style nonce="${nonce}">${STYLE}</style></head>
<body>
<h1>reload-ppsp node</h1>
<p id="login" hidden><span id="why"></span>This page needs the node's API token. Open the link that <code>reload-ppsp status --api <span id="address"></span></code> prints as <code>page</code> (the node prints it too when it starts).</p>
<div id="app" hidden>
<p>Node <code id="node"></code><br><span id="state"></span></p>
<h2>Swarms</h2>
<p id="empty" hidden>No swarms yet: <code>reload-ppsp seed FILE</code> or <code>reload-ppsp watch SWARM-ID</code>.</p>
<table><thead><tr><th>Name</th><th>Role</th><th>Done</th><th>Peers</th><th>Rate</th><th></th></tr></thead><tbody id="swarms"></tbody></table>
<p id="error"></p>
<p>Playing: <code id="playing">nothing</code></p>
<video id="player" controls hidden></video>
</div>
<script nonce="${nonce}">${SCRIPT}</script>
</body></html>
`;
}

/** Answers GET or HEAD / with the page, a fresh nonce each time. */
export async function servePage(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const nonce = randomBytes(16).toString('base64');
  const body = html(nonce);
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; media-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}
