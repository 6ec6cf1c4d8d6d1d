/**
 * `reload-ppsp get ppspp://HOST:PORT/ROOT-HASH --out FILE`: a download from a plain PPSPP peer
 * (RFC 7574 over UDP, e.g. libswift) by address, in this process: no node, no overlay. Progress
 * goes to stderr like the overlay download's; exit 0 only once every chunk checked out against the
 * root hash and the file is in place.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { PpsppEndpoint } from '../usages/ppsp/ppspp/ppspp-endpoint.js';
import { downloadPpspp, PpsppDownloadError, type DownloadResult } from '../usages/ppsp/ppspp/ppspp-download.js';
import { UsageError } from './command.js';

export interface PpsppUrl {
  host: string;
  port: number;
  root: Buffer;
}

/** Parses ppspp://HOST:PORT/ROOT-HASH (40 hex digits for SHA-1, 64 for SHA-256); UsageError otherwise. */
export function parsePpsppUrl(text: string): PpsppUrl {
  const m = /^ppspp:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})\/([0-9a-fA-F]+)$/.exec(text);
  const port = Number(m?.[2]);
  if (!m || port < 1 || port > 65_535) throw new UsageError(`"${text}" is not a PPSPP address: ppspp://HOST:PORT/ROOT-HASH`);
  const root = m[3]!;
  if (root.length !== 40 && root.length !== 64) throw new UsageError(`the root hash in "${text}" has ${root.length} hex digits: 40 (SHA-1) or 64 (SHA-256)`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port, root: Buffer.from(root, 'hex') };
}

export interface PpsppGetOptions {
  out: string;
  chunkSize: number;
  idleTimeoutSec: number;
  /** Draw a progress bar (a terminal) rather than plain lines. */
  tty: boolean;
  quiet: boolean;
}

export async function getPpspp(url: PpsppUrl, options: PpsppGetOptions): Promise<DownloadResult> {
  const host = isIP(url.host) ? url.host : await lookup(url.host).then(
    (a) => a.address,
    (e: NodeJS.ErrnoException) => {
      throw new PpsppDownloadError(`cannot resolve ${url.host} (${e.code ?? e.message})`);
    },
  );
  const endpoint = await PpsppEndpoint.bind(isIP(host) === 6 ? '::' : '0.0.0.0', 0);
  let lastLine = 0;
  try {
    return await downloadPpspp({
      endpoint,
      peers: [{ host, port: url.port }],
      root: url.root,
      out: options.out,
      chunkSize: options.chunkSize,
      idleTimeoutMs: options.idleTimeoutSec * 1000,
      onProgress: (p) => {
        if (options.quiet || p.totalChunks === undefined) return;
        const percent = (100 * p.chunks) / p.totalChunks;
        const line = `${percent.toFixed(1)}%  ${p.chunks}/${p.totalChunks} chunks`;
        if (options.tty) {
          const width = 30;
          const filled = Math.round((percent / 100) * width);
          process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${line}   `);
        } else if (Date.now() - lastLine >= 2000 || p.chunks === p.totalChunks) {
          process.stderr.write(line + '\n');
          lastLine = Date.now();
        }
      },
    });
  } finally {
    if (options.tty && !options.quiet) process.stderr.write('\n');
    await endpoint.close();
  }
}
