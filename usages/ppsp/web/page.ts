/**
 * The node's page for people, at `/` of the node API: the node's state, its swarms with progress,
 * peers and rates, and a player for any swarm. The page holds no data and is served without a
 * token; its script takes the API token from the URL fragment (`reload-ppsp status` prints the
 * link; a fragment never reaches a server), keeps it in sessionStorage, removes it from the address
 * bar, and uses the JSON API like any client. Everything shown is set as text, never as markup, and
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
const fragment = /(?:^#|&)token=([^&]+)/.exec(location.hash);
if (fragment) {
  sessionStorage.setItem(KEY, decodeURIComponent(fragment[1]));
  history.replaceState(null, '', location.pathname);
}
const token = sessionStorage.getItem(KEY);
const $ = (id) => document.getElementById(id);
function cell(row, text) { const td = document.createElement('td'); td.textContent = text; row.appendChild(td); return td; }
async function api(method, path, body) {
  const r = await fetch(path, { method, headers: Object.assign({ authorization: 'Bearer ' + token }, body ? { 'content-type': 'application/json' } : {}), body: body ? JSON.stringify(body) : undefined });
  const json = await r.json();
  if (!r.ok) throw new Error(json.message || ('HTTP ' + r.status));
  return json;
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
async function refresh() {
  const s = await api('GET', '/status');
  $('node').textContent = s.nodeId + ' (' + s.user + ')';
  $('state').textContent = s.state + ', overlay ' + s.overlay + ', ' + s.links.length + ' links';
  const list = (await api('GET', '/swarms')).swarms;
  const rows = [];
  for (const summary of list) {
    const w = await api('GET', '/swarms/' + summary.swarmId);
    const tr = document.createElement('tr');
    tr.dataset.swarm = w.swarmId;
    cell(tr, w.name || w.swarmId.slice(0, 16));
    cell(tr, w.role);
    cell(tr, w.percent.toFixed(1) + ' %');
    cell(tr, String(w.peers.length));
    cell(tr, mib(w.bytesPerSec) + '/s');
    const button = document.createElement('button');
    button.textContent = 'Play';
    button.addEventListener('click', () => play(w.swarmId).catch((e) => ($('error').textContent = e.message)));
    cell(tr, '').appendChild(button);
    rows.push(tr);
  }
  $('swarms').replaceChildren(...rows);
  $('empty').hidden = rows.length > 0;
  $('error').textContent = '';
}
async function loop() {
  try { await refresh(); } catch (e) { $('error').textContent = e.message; }
  setTimeout(loop, 2000);
}
if (token) { $('app').hidden = false; loop(); } else $('login').hidden = false;
`;

function html(nonce: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>reload-ppsp node</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style nonce="${nonce}">${STYLE}</style></head>
<body>
<h1>reload-ppsp node</h1>
<p id="login" hidden>This page needs the node's API token. Open the link that <code>reload-ppsp status --api HOST:PORT</code> prints as <code>page</code>.</p>
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
