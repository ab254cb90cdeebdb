import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

/**
 * Start a worker thread from a module of this package. Run from TypeScript sources (tsx, vitest), a plain
 * `new Worker("x.ts")` does not get the parent's TS loader on Node 20, so the worker is a tiny eval'd
 * bootstrap that loads the module through tsx's tsImport; a failed import is posted as
 * { type: 'error', message } instead of being left as an unhandled rejection. A compiled `.js` twin next to
 * a compiled caller is started directly.
 * `mod` in workerData is for the web-worker package (loaded by snarkjs -> ffjavascript), which runs an
 * empty script.
 */
export function startModuleWorker(moduleUrl: URL, workerData: Record<string, unknown> = {}): Worker {
  const data = { ...workerData, mod: 'data:text/javascript,' };
  const file = fileURLToPath(moduleUrl);
  const compiled = file.replace(/\.ts$/, '.js');
  if (file !== compiled && !fileURLToPath(import.meta.url).endsWith('.ts') && existsSync(compiled)) return new Worker(compiled, { workerData: data });
  const tsxDir = dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  const apiUrl = pathToFileURL(join(tsxDir, 'dist', 'esm', 'api', 'index.mjs')).href;
  const href = JSON.stringify(moduleUrl.href);
  const code = `import(${JSON.stringify(apiUrl)}).then((m) => m.tsImport(${href}, ${href})).catch((e) => require('node:worker_threads').parentPort.postMessage({ type: 'error', message: String(e && e.stack || e) }));`;
  return new Worker(code, { eval: true, execArgv: [], workerData: data });
}
