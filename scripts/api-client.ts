/** The CLI's client of a running node's HTTP API. Errors come back as one-line messages. */
import { request } from 'node:http';
import { parseHostPort } from '../overlay/config.js';
import { UsageError } from './command.js';

/** Answers of the API larger than this are refused, bytes. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly errorName: string,
    message: string,
  ) {
    super(message);
  }
}

export async function callApi(api: string, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, timeoutMs = 60_000): Promise<unknown> {
  let target;
  try {
    target = parseHostPort(api, '--api');
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.host,
        port: target.port,
        method,
        path,
        headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_ANSWER_BYTES) req.destroy(new Error(`the API answer exceeds ${MAX_ANSWER_BYTES} bytes`));
          else chunks.push(c);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const isJson = (res.headers['content-type'] ?? '').startsWith('application/json');
          let value: unknown = text;
          if (isJson) {
            try {
              value = JSON.parse(text);
            } catch {
              return reject(new ApiError(res.statusCode ?? 0, 'Invalid_Message', `the node API at ${api} answered malformed JSON`));
            }
          }
          if ((res.statusCode ?? 500) >= 400) {
            const v = value as { error?: string; message?: string };
            return reject(new ApiError(res.statusCode ?? 0, v?.error ?? 'Error', v?.message ?? `HTTP ${res.statusCode}`));
          }
          resolve(value);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from the node API at ${api} within ${timeoutMs} ms`)));
    req.on('error', (e: NodeJS.ErrnoException) => {
      reject(e.code === 'ECONNREFUSED' ? new ApiError(0, 'Unreachable', `cannot reach the node API at ${api}: is \`reload-ppsp node --api ${api}\` running?`) : e);
    });
    req.end(payload);
  });
}
