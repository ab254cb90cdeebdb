// A tiny static server for web/ (the in-browser verifier). web/vendor/ (the browser build of the verifier
// core and snarkjs's browser build) is written by scripts/build-web.mjs, which `npm run serve:web` runs
// first so the page always runs the current sources. `npm run serve:web [-- --port 8081]`.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildWebVerifier } from './build-web.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const WEB_DIR = path.join(ROOT, 'web');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.css': 'text/css; charset=utf-8',
};

/** The file a URL path names: web/ only (no traversal). */
export function resolveWebPath(urlPath: string): string | undefined {
  let rel: string;
  try {
    rel = decodeURIComponent(urlPath.split('?')[0]);
  } catch {
    return undefined;
  }
  if (rel === '/' || rel === '') rel = '/verify.html';
  const file = path.resolve(WEB_DIR, '.' + rel);
  return file.startsWith(WEB_DIR + path.sep) ? file : undefined;
}

export interface WebServer {
  url: string;
  close(): Promise<void>;
}

async function serveFile(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const file = req.method === 'GET' || req.method === 'HEAD' ? resolveWebPath(req.url ?? '/') : undefined;
  const info = file ? await stat(file).catch(() => undefined) : undefined;
  if (!file || !info?.isFile()) {
    res.writeHead(req.method === 'GET' || req.method === 'HEAD' ? 404 : 405, { 'content-type': 'text/plain' }).end('not found\n');
    return;
  }
  res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'content-length': info.size, 'cache-control': 'no-store' });
  if (req.method === 'HEAD') res.end();
  else createReadStream(file).pipe(res);
}

export async function startWebServer(opts: { host?: string; port?: number } = {}): Promise<WebServer> {
  // An error after the headers went out cannot be answered: drop the connection instead of an unhandled rejection.
  const server = http.createServer((req, res) => void serveFile(req, res).catch((err: Error) => res.destroy(err)));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}/`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--port');
  const port = i >= 0 ? Number(process.argv[i + 1]) : 8081;
  await buildWebVerifier();
  const { url } = await startWebServer({ port });
  console.log(`zkinfer in-browser verifier: ${url}verify.html (Ctrl-C to stop)`);
}
