/**
 * One benchmark measurement, run by bench/run.ts in its own child process (`node --import tsx`), so that
 * each measurement starts cold and its peak RSS (process.resourceUsage().maxRSS, which covers worker
 * threads but not grandchild processes such as the circom compiler) belongs to that measurement alone.
 * Talks to the parent over the fork IPC channel: progress messages, then one result.
 */
import os from 'node:os';
import path from 'node:path';
import { buildBn128 } from 'ffjavascript';
import { compileModel, type ModelCircuit } from '../src/circuit/index.js';
import { computeWitnessBin } from '../src/circuit/witness.js';
import type { ProofBundle } from '../src/format/bundle.js';
import { loadMnistSplit } from '../src/model/mnist.js';
import { prove } from '../src/prove/index.js';
import { localDevPtau, requiredPower, setupModel } from '../src/setup/index.js';
import { exists } from '../src/util/fs.js';
import { verify } from '../src/verify/index.js';
import { baselineInputs, baselineParameterInputs, compileBaseline, proveBaseline } from './baseline/emitBaseline.js';
import { loadBuilt, saveBuilt } from './built.js';
import { layerShape, parameterCount, quantizedVariant, type Impl } from './models.js';
import { ProverPool } from './proverPool.js';
import { stats } from './stats.js';

export type Job =
  | { kind: 'build'; variant: string; impl: Impl; artifactsDir: string; outFile: string }
  | { kind: 'prove'; modelFile: string; runs: number }
  /** workers = 0: one proof at a time on this thread (snarkjs's default multi-threaded curve). */
  | { kind: 'throughput'; modelFile: string; proofs: number; workers: number };

export type ChildMessage = { type: 'progress'; stage: string; done: number; total: number } | { type: 'result'; result: unknown };

export type BuildResult = Awaited<ReturnType<typeof build>>;
export type ProveResult = Awaited<ReturnType<typeof proveRuns>>;
export type ThroughputResult = Awaited<ReturnType<typeof throughput>>;

const send = (m: ChildMessage) => new Promise<void>((resolve) => process.send!(m, () => resolve()));
const progress = (stage: string, done: number, total: number) => void send({ type: 'progress', stage, done, total });
const seconds = (t0: number) => (performance.now() - t0) / 1000;
const peakRssMiB = () => process.resourceUsage().maxRSS / 1024;
const digits = (n: number, offset = 0) =>
  loadMnistSplit()
    .test.slice(offset, offset + n)
    .map((d) => Array.from(d.pixels));

async function build(job: Extract<Job, { kind: 'build' }>) {
  const { qmodel, quantizeSeconds } = await quantizedVariant(job.variant);
  let t = performance.now();
  const compile = job.impl === 'baseline' ? compileBaseline : compileModel;
  const circuit: ModelCircuit = await compile(qmodel, { artifactsDir: job.artifactsDir });
  const compileSeconds = seconds(t);
  // The local dev ptau is shared by every model of a power in this run: time its generation once, apart
  // from the circuit-specific setup. (Same file name as src/setup/ptau.ts uses for its cache.)
  const c = circuit.circuit;
  const power = requiredPower(c.constraints, c.publicInputs, c.outputs);
  const cached = await exists(path.join(job.artifactsDir, 'ptau', `local-dev-insecure-pow${power}.ptau.sha256`));
  t = performance.now();
  await localDevPtau(power, { artifactsDir: job.artifactsDir, onProgress: (s, d, n) => progress(`ptau ${s}`, d, n) });
  const ptauSeconds = cached ? null : seconds(t);
  t = performance.now();
  const model = await setupModel(circuit, { artifactsDir: job.artifactsDir, onProgress: (s, d, n) => progress(s, d, n) });
  const setupSeconds = seconds(t);
  await saveBuilt(job.outFile, { impl: job.impl, variant: job.variant, model });
  return {
    variant: job.variant,
    impl: job.impl,
    layers: layerShape(qmodel),
    parameters: parameterCount(qmodel),
    constraints: c.constraints,
    wires: c.wires,
    privateInputs: c.privateInputs,
    publicSignals: model.layout.total,
    ptauPower: model.key.setup.ptau.power,
    quantizeSeconds,
    compileSeconds,
    ptauSeconds,
    setupSeconds,
    buildPeakRssMiB: peakRssMiB(),
  };
}

/**
 * Proof size counted from the proof itself: its affine coordinates (the projective z is 1) times the byte
 * size of a base-field element (ffjavascript's curve). Compressed keeps one coordinate per point.
 */
async function proofBytes(bundle: ProofBundle) {
  const n8 = (await buildBn128()).F1.n8;
  const { pi_a, pi_b, pi_c } = bundle.proof;
  const coordinates = [...pi_a.slice(0, 2), ...pi_b.slice(0, 2).flat(), ...pi_c.slice(0, 2)].length;
  return { uncompressed: coordinates * n8, compressed: (coordinates / 2) * n8 };
}

async function proveRuns(job: Extract<Job, { kind: 'prove' }>) {
  const { impl, model } = await loadBuilt(job.modelFile);
  const params = impl === 'baseline' ? baselineParameterInputs(model.qmodel) : undefined;
  const proveOne = (x: number[]) => (params ? proveBaseline(model, x, params) : prove(model, x));
  const witnessInput = (x: number[]) => (params ? baselineInputs(model.qmodel, x, params) : { x });
  const inputs = digits(job.runs + 1);
  const load1 = os.loadavg()[0]; // other work on the machine shows up in the times: recorded with them
  // The first proof in a fresh process also builds the curve and loads the witness wasm: report it apart.
  let t = performance.now();
  await proveOne(inputs[job.runs]);
  const coldProveSeconds = seconds(t);
  const witness: number[] = [];
  const proveTimes: number[] = [];
  const verifyTimes: number[] = [];
  let last: ProofBundle | undefined;
  for (let i = 0; i < job.runs; i++) {
    progress('proofs', i, job.runs);
    t = performance.now();
    await computeWitnessBin(model.circuit.wasmPath, witnessInput(inputs[i])); // includes the baseline's hints
    witness.push(seconds(t));
    t = performance.now();
    last = await proveOne(inputs[i]); // witness + Groth16 + reference cross-check, as src/prove does
    proveTimes.push(seconds(t));
    t = performance.now();
    const result = await verify(last, model.key);
    verifyTimes.push(seconds(t) * 1000);
    if (!result.valid) throw new Error(`benchmark proof ${i} did not verify: ${result.reason}`);
  }
  progress('proofs', job.runs, job.runs);
  return {
    loadAverage1m: load1,
    coldProveSeconds,
    witnessSeconds: stats(witness),
    proveSeconds: stats(proveTimes),
    verifyMs: stats(verifyTimes),
    proofJsonBytes: Buffer.byteLength(JSON.stringify(last!.proof)),
    proofBytes: await proofBytes(last!),
    bundleJsonBytes: Buffer.byteLength(JSON.stringify(last!)),
    peakRssMiB: peakRssMiB(),
  };
}

async function throughput(job: Extract<Job, { kind: 'throughput' }>) {
  const { impl, model } = await loadBuilt(job.modelFile);
  if (impl !== 'zkinfer') throw new Error('throughput is measured with the zkinfer prover');
  const inputs = digits(job.proofs);
  const load1 = os.loadavg()[0];
  const warmup = digits(Math.max(1, job.workers), job.proofs);
  let bundles: ProofBundle[];
  let wallSeconds: number;
  let perProof: number[];
  if (job.workers === 0) {
    await prove(model, warmup[0]);
    bundles = [];
    perProof = [];
    const t0 = performance.now();
    for (const [i, x] of inputs.entries()) {
      progress('proofs', i, inputs.length);
      const t = performance.now();
      bundles.push(await prove(model, x));
      perProof.push(seconds(t));
    }
    wallSeconds = seconds(t0);
  } else {
    const pool = await ProverPool.start(job.workers, job.modelFile);
    try {
      await pool.run(warmup); // one untimed proof per worker: wasm compiled, zkey paths touched
      const r = await pool.run(inputs, (done) => progress('proofs', done, inputs.length));
      ({ bundles, wallSeconds } = r);
      perProof = r.proofSeconds;
    } finally {
      await pool.terminate();
    }
  }
  progress('proofs', inputs.length, inputs.length);
  for (const [i, b] of bundles.entries()) {
    const r = await verify(b, model.key);
    if (!r.valid) throw new Error(`throughput proof ${i} did not verify: ${r.reason}`);
  }
  return {
    loadAverage1m: load1,
    workers: job.workers,
    proofs: inputs.length,
    wallSeconds,
    proofsPerMinute: (inputs.length / wallSeconds) * 60,
    perProofSeconds: stats(perProof),
    peakRssMiB: peakRssMiB(),
  };
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2]) as Job;
  const result = job.kind === 'build' ? await build(job) : job.kind === 'prove' ? await proveRuns(job) : await throughput(job);
  await send({ type: 'result', result });
}

main().then(
  () => process.exit(0), // snarkjs's curve worker threads would keep the process alive
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
