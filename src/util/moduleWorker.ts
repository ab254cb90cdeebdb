import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

/**
 * Start a worker thread from a module of this package, named by its built `.js` URL
 * (`new URL('./x.js', import.meta.url)`). In the built package (dist/) that file exists and is started
 * as is: no TypeScript loader, no tsx. Run from the TypeScript sources (vitest, tsx), only `x.ts` exists,
 * and a Node 20 worker does not inherit the parent's loader, so the worker is a tiny eval'd bootstrap
 * that loads the source through tsx's `tsImport` (tsx is then a dev dependency, present); a failed import
 * is posted as { type: 'error', message } instead of being left as an unhandled rejection.
 * `mod` in workerData is for the web-worker package (loaded by snarkjs -> ffjavascript), which runs an
 * empty script.
 */
export function startModuleWorker(moduleUrl: URL, workerData: Record<string, unknown> = {}): Worker {
  const data = { ...workerData, mod: 'data:text/javascript,' };
  const file = fileURLToPath(moduleUrl);
  if (existsSync(file)) return new Worker(file, { workerData: data });
  const source = file.replace(/\.js$/, '.ts');
  if (source === file || !existsSync(source)) throw new Error(`internal error: worker module ${file} does not exist`);
  const tsxDir = dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  const tsxApi = pathToFileURL(join(tsxDir, 'dist', 'esm', 'api', 'index.mjs')).href;
  const href = JSON.stringify(pathToFileURL(source).href);
  const code = `import(${JSON.stringify(tsxApi)}).then((m) => m.tsImport(${href}, ${href})).catch((e) => require('node:worker_threads').parentPort.postMessage({ type: 'error', message: String(e && e.stack || e) }));`;
  return new Worker(code, { eval: true, execArgv: [], workerData: data });
}

const CLOSE_GRACE_MS = 30_000;

/**
 * Ask a worker started by startModuleWorker to end by itself ({ type: 'close' }: it finishes the messages
 * it has, then closes its port) and wait for it; terminate() only if it has not within CLOSE_GRACE_MS.
 * A worker that ends by itself has finished what it was sent (terminate() stops it mid-job), and
 * terminate() of a thread running WebAssembly has known teardown bugs in Node (nodejs/node#47748). (The
 * crashes once seen when pools closed, "free(): invalid pointer" in the worker's Isolate teardown, came
 * from the blake-hash addon, not from terminate(): see src/format/commitment.ts.) Resolves to how the
 * worker ended.
 */
export function endModuleWorker(worker: Worker, graceMs = CLOSE_GRACE_MS): Promise<'ended' | 'terminated'> {
  return new Promise((resolve) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      void worker.terminate();
    }, graceMs);
    worker.once('exit', () => {
      clearTimeout(timer);
      resolve(timedOut ? 'terminated' : 'ended');
    });
    worker.once('error', () => {}); // it is ending either way
    worker.postMessage({ type: 'close' });
  });
}
