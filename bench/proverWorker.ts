/**
 * Worker thread for the throughput benchmark: proves with the same library code as one-at-a-time proving
 * (src/prove, or the baseline's prover), but on a single-threaded snarkjs curve, because
 *   - in a worker thread, ffjavascript's thread pool cannot start: its `web-worker` dependency exports no
 *     Worker class there (and needs `workerData.mod` just to load, which the pool provides);
 *   - snarkjs's own `singleThread` option rebuilds the curve's wasm on every proof. Instead we build one
 *     single-threaded curve and leave it where buildBn128() caches the default curve (globalThis.curve_bn128),
 *     so every later snarkjs call in this thread reuses it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { buildBn128 } from 'ffjavascript';
import { prove } from '../src/prove/index.js';
import type { ProofBundle } from '../src/format/bundle.js';
import { baselineParameterInputs, proveBaseline } from './baseline/emitBaseline.js';
import { loadBuilt } from './built.js';

export type ProverRequest = { type: 'prove'; id: number; input: number[] };
export type ProverResponse = { type: 'ready' } | { type: 'proved'; id: number; bundle: ProofBundle; seconds: number } | { type: 'error'; message: string };

const post = (m: ProverResponse) => parentPort!.postMessage(m);

async function main(): Promise<void> {
  const { modelFile } = workerData as { modelFile: string };
  const built = await loadBuilt(modelFile);
  (globalThis as { curve_bn128?: unknown }).curve_bn128 = await buildBn128(true);
  const params = built.impl === 'baseline' ? baselineParameterInputs(built.model.qmodel) : undefined;
  const proveOne = (x: number[]) => (params ? proveBaseline(built.model, x, params) : prove(built.model, x));
  let chain = Promise.resolve();
  parentPort!.on('message', (msg: ProverRequest) => {
    chain = chain.then(async () => {
      try {
        const t = performance.now();
        const bundle = await proveOne(msg.input);
        post({ type: 'proved', id: msg.id, bundle, seconds: (performance.now() - t) / 1000 });
      } catch (err) {
        post({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      }
    });
  });
  post({ type: 'ready' });
}

if (parentPort) {
  main().catch((err: unknown) => post({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) }));
}
