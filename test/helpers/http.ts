/**
 * One HTTP request sent exactly as written: the path unnormalised and any Host or Origin header
 * (fetch resolves `..` in paths and will not set Host). Bounded: a request with no answer fails.
 */
import { request, type IncomingHttpHeaders } from 'node:http';

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The body as bytes. */
  body: Buffer;
}

export interface HttpRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  timeoutMs?: number;
}

/** Sends `method path` to `base` ("http://host:port") and reads the whole answer. */
export function httpRequest(base: string, path: string, { method = 'GET', headers = {}, body, timeoutMs = 10_000 }: HttpRequestOptions = {}): Promise<HttpAnswer> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path, headers, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: bytes.toString('utf8'), body: bytes });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer to ${method} ${path} from ${base} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}
