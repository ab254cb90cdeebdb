/**
 * `npm run bench`: cost of the bundled model through every stage, measured in one process run from a cold
 * artifacts directory, plus the fast development ptau against snarkjs's prepare phase2.
 *   npm run bench            full run (dev ptau 2^10..2^18, snarkjs prepare at 2^10 and 2^12)
 *   npm run bench -- --quick (dev ptau 2^10..2^14, snarkjs prepare at 2^10)
 * Writes bench/results.json and bench/results.md. Every figure is measured; nothing is typed in.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { computeWitnessBin } from '../src/circuit/witness.js';
import { compileModel } from '../src/circuit/index.js';
import { loadModelSource } from '../src/model/index.js';
import { loadMnistSplit } from '../src/model/mnist.js';
import { prove } from '../src/prove/index.js';
import { quantizeModel } from '../src/quantize/quantize.js';
import { layerSummary } from '../src/quantize/linear.js';
import { setupModel } from '../src/setup/index.js';
import { verify } from '../src/verify/index.js';
import { PACKAGE_ROOT, writeFileAtomic } from '../src/util/fs.js';
import { benchDevPtau, formatTable } from './devPtau.js';

// snarkjs's exports map hides its package.json from require(); read the file directly.
const versionOf = (pkg: string) => (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
const quick = process.argv.includes('--quick');
const RUNS = quick ? 3 : 7;

const seconds = (t0: number) => (performance.now() - t0) / 1000;
function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s[s.length - 1], runs: s.length };
}
const peakRssMiB = () => process.resourceUsage().maxRSS / 1024;

async function benchModel(spec: string) {
  const artifactsDir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-bench-'));
  try {
    const source = await loadModelSource(spec);
    let t = performance.now();
    const qmodel = quantizeModel(source.float, source.calibration, { inputBits: source.inputBits, inputScale: source.inputScale, labels: source.labels });
    const quantizeS = seconds(t);
    t = performance.now();
    const circuit = await compileModel(qmodel, { artifactsDir });
    const compileS = seconds(t);
    t = performance.now();
    const model = await setupModel(circuit, { artifactsDir });
    const setupS = seconds(t);

    const digits = loadMnistSplit().test;
    const witness: number[] = [];
    const proveTimes: number[] = [];
    const verifyTimes: number[] = [];
    let bundleBytes = 0;
    let proofBytes = 0;
    for (let i = 0; i < RUNS; i++) {
      const x = Array.from(digits[i].pixels);
      t = performance.now();
      await computeWitnessBin(model.circuit.wasmPath, { x });
      witness.push(seconds(t));
      t = performance.now();
      const bundle = await prove(model, x); // witness + Groth16 prove + reference cross-check
      proveTimes.push(seconds(t));
      t = performance.now();
      const result = await verify(bundle, model.key);
      verifyTimes.push(seconds(t) * 1000);
      if (!result.valid) throw new Error(`benchmark proof ${i} did not verify: ${result.reason}`);
      bundleBytes = Buffer.byteLength(JSON.stringify(bundle));
      proofBytes = Buffer.byteLength(JSON.stringify(bundle.proof));
    }
    return {
      model: spec,
      layers: qmodel.layers.map(layerSummary).join(', '),
      constraints: model.circuit.constraints,
      publicSignals: model.layout.total,
      ptauPower: model.key.setup.ptau.power,
      quantizeSeconds: quantizeS,
      compileSeconds: compileS,
      setupSeconds: setupS,
      witnessSeconds: stats(witness),
      proveSeconds: stats(proveTimes),
      verifyMs: stats(verifyTimes),
      proofJsonBytes: proofBytes,
      // A Groth16 proof is 2 G1 + 1 G2 points: 128 bytes compressed, 256 uncompressed on BN254.
      proofBinaryBytes: 256,
      bundleJsonBytes: bundleBytes,
      peakRssMiB: peakRssMiB(),
    };
  } finally {
    await rm(artifactsDir, { recursive: true, force: true });
  }
}

function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    snarkjs: versionOf('snarkjs'),
    circom2: versionOf('circom2'),
    date: new Date().toISOString(),
  };
}

function markdown(results: Awaited<ReturnType<typeof benchModel>>[], ptau: Awaited<ReturnType<typeof benchDevPtau>>, m: ReturnType<typeof machine>): string {
  const f = (x: number, d = 2) => x.toFixed(d);
  const lines = [
    `# zkinfer benchmark`,
    '',
    `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, snarkjs ${m.snarkjs}, circom2 ${m.circom2}; ${m.date}${quick ? ' (quick run)' : ''}`,
    '',
    '| model | layers | constraints | ptau | compile s | setup s | witness s | prove s (median, min-max) | verify ms | proof bytes (JSON / binary) | peak RSS MiB |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...results.map(
      (r) =>
        `| ${r.model} | ${r.layers} | ${r.constraints} | 2^${r.ptauPower} | ${f(r.compileSeconds, 1)} | ${f(r.setupSeconds, 1)} | ${f(r.witnessSeconds.median, 3)} | ${f(r.proveSeconds.median)} (${f(r.proveSeconds.min)}-${f(r.proveSeconds.max)}, n=${r.proveSeconds.runs}) | ${f(r.verifyMs.median, 1)} | ${r.proofJsonBytes} / ${r.proofBinaryBytes} | ${f(r.peakRssMiB, 0)} |`,
    ),
    '',
    'Setup includes generating the local development ptau (cold cache) and the Groth16 phase 2.',
    '',
    '## Local development ptau vs snarkjs prepare phase2',
    '',
    formatTable(ptau),
    '',
  ];
  return lines.join('\n');
}

async function main() {
  const m = machine();
  console.error(`benchmarking the bundled model (${RUNS} proofs)...`);
  const results = [await benchModel('mlp')];
  const ptauPowers = quick ? [10, 12, 14] : [10, 12, 14, 16, 18];
  const snarkjsPowers = quick ? [10] : [10, 12];
  console.error(`benchmarking ptau generation at 2^${ptauPowers.join(', 2^')} (snarkjs prepare at 2^${snarkjsPowers.join(', 2^')})...`);
  const ptau = await benchDevPtau(ptauPowers, snarkjsPowers);
  const md = markdown(results, ptau, m);
  const dir = path.dirname(new URL(import.meta.url).pathname);
  await writeFileAtomic(path.join(dir, 'results.json'), JSON.stringify({ machine: m, quick, models: results, ptau }, null, 2));
  await writeFileAtomic(path.join(dir, 'results.md'), md);
  process.stdout.write(`${md}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
