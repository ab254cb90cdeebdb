/**
 * Load on the HTTP verification service: the service runs in this process on 127.0.0.1, autocannon drives
 * POST /v1/verify with one valid proof bundle for a bounded time over a bounded number of connections,
 * and every response must be the byte-identical valid verdict (any other body counts as a mismatch).
 *   npx tsx bench/verifyLoad.ts [--duration 10] [--connections 4] [--artifacts DIR] [--no-worker]
 * From bench/run.ts:  const load = await benchVerifyLoad({ model, durationSeconds: 10 });
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { buildModel, type CompiledModel } from '../src/index.js';
import type { ProofBundle } from '../src/format/bundle.js';
import { loadMnistSplit } from '../src/model/mnist.js';
import { proveBatch } from '../src/prove/index.js';
import { buildApp } from '../src/server/app.js';
import { verify } from '../src/verify/index.js';
import { createKeyRegistry } from '../src/verify/registry.js';

export interface VerifyLoadOptions {
  /** The model whose proofs are verified (default: the bundled MNIST model, built or loaded from cache). */
  model?: CompiledModel;
  /** The proof to send (default: a fresh proof of held-out digit 0, or of all-zero inputs for another model). */
  bundle?: ProofBundle;
  artifactsDir?: string;
  durationSeconds?: number;
  connections?: number;
  /**
   * Run autocannon in a worker thread (default true) so the load generator does not share the server's
   * event loop; on 2 cores it gave steadier samples (stddev ~4/s instead of ~10/s).
   */
  worker?: boolean;
}

export interface VerifyLoadResult {
  model: string;
  publicSignals: number;
  bundleBytes: number;
  durationSeconds: number;
  connections: number;
  requests: number;
  /** Completed valid verifications per second (autocannon's per-second samples). */
  verificationsPerSecond: { mean: number; stddev: number; min: number; max: number };
  latencyMs: { mean: number; p50: number; p90: number; p99: number; max: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  mismatches: number;
  /** One in-process `verify` call (median of 9), to compare with the service's per-request cost. */
  inProcessVerifyMs: number;
}

async function defaultBundle(model: CompiledModel): Promise<ProofBundle> {
  const { batch } = model.key.publicSignals;
  const size = model.key.model.inputShape.reduce((a, b) => a * b, 1);
  const digits = loadMnistSplit().test;
  const isMnist = size === 784;
  const inputs = Array.from({ length: batch }, (_, i) => (isMnist ? Array.from(digits[i].pixels) : new Array<number>(size).fill(0)));
  return proveBatch(model, inputs);
}

async function medianVerifyMs(bundle: ProofBundle, model: CompiledModel): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 9; i++) {
    const t = performance.now();
    const result = await verify(bundle, model.key);
    times.push(performance.now() - t);
    if (!result.valid) throw new Error(`benchmark bundle does not verify: ${result.reason}`);
  }
  return times.sort((a, b) => a - b)[4];
}

export async function benchVerifyLoad(options: VerifyLoadOptions = {}): Promise<VerifyLoadResult> {
  const durationSeconds = options.durationSeconds ?? 10;
  const connections = options.connections ?? 4;
  // Bounded on purpose: this is a benchmark, not a soak test.
  if (!(durationSeconds > 0 && durationSeconds <= 600)) throw new RangeError(`durationSeconds must be in (0, 600], got ${durationSeconds}`);
  if (!Number.isInteger(connections) || connections < 1 || connections > 256) throw new RangeError(`connections must be an integer from 1 to 256, got ${connections}`);
  const model = options.model ?? (await buildModel('mlp', { artifactsDir: options.artifactsDir }));
  const bundle = options.bundle ?? (await defaultBundle(model));
  const inProcessVerifyMs = await medianVerifyMs(bundle, model);

  const app = buildApp({ registry: createKeyRegistry([{ key: model.key }]) });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const body = JSON.stringify(bundle);
    const headers = { 'content-type': 'application/json' };
    const first = await fetch(`${url}/v1/verify`, { method: 'POST', headers, body });
    const expectBody = await first.text();
    if (first.status !== 200 || !(JSON.parse(expectBody) as { valid: boolean }).valid)
      throw new Error(`service did not accept the benchmark bundle: ${first.status} ${expectBody}`);
    const r = await autocannon({
      url: `${url}/v1/verify`,
      method: 'POST',
      headers,
      body,
      connections,
      duration: durationSeconds,
      expectBody,
      ...((options.worker ?? true) ? { workers: 1 } : {}),
    });
    return {
      model: model.key.model.name,
      publicSignals: model.key.publicSignals.total,
      bundleBytes: Buffer.byteLength(body),
      durationSeconds: r.duration,
      connections,
      requests: r.requests.total,
      verificationsPerSecond: { mean: r.requests.mean, stddev: r.requests.stddev, min: r.requests.min, max: r.requests.max },
      latencyMs: { mean: r.latency.mean, p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max },
      errors: r.errors,
      timeouts: r.timeouts,
      non2xx: r.non2xx,
      mismatches: r.mismatches,
      inProcessVerifyMs,
    };
  } finally {
    await app.close();
  }
}

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const result = await benchVerifyLoad({
    durationSeconds: Number(flag('--duration') ?? 10),
    connections: Number(flag('--connections') ?? 4),
    artifactsDir: flag('--artifacts'),
    worker: !process.argv.includes('--no-worker'),
  });
  console.log(JSON.stringify(result, null, 2));
  process.exit(0); // snarkjs's curve worker threads would keep the process alive
}
