/**
 * `npm run bench:split [-- --model cifar|reduced|small] [--variants whole,2,4] [--artifacts DIR] [--compile-only]
 * [--no-compile-terms]`: issue 15's split-model figures. A LeNet (bench/lenet.ts; default the 3x32x32
 * CIFAR one) proved whole and split into 2 and 4 chunks (the cut tensors whose largest chunk is smallest,
 * by the cost estimates): constraints, setup s, prove s (here with snarkjs's own threads, and on 1 and 2
 * prover threads), verify ms, bundle and key bytes; a chain whose middle proof is swapped for another
 * input's must be rejected. Then compile (through the linker, each model in a fresh process: seconds,
 * peak RSS, µs per term) of three LeNet sizes. Writes bench/split.md. Dev ptau files are made before the
 * setups are timed.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as snarkjs from 'snarkjs';
import { importOnnxGraph } from '../src/graph/onnx.js';
import { runPasses } from '../src/graph/passes/index.js';
import { compileGraphProgram, graphBundle, setupGraphCircuit, type GraphModel } from '../src/graph/pipeline.js';
import { linkedWitness } from '../src/graph/link/index.js';
import { cutNames, splitGraph, type SplitProgram } from '../src/graph/split.js';
import { compileSplit, proveSplit, setupSplit, type SplitModel } from '../src/graph/splitPipeline.js';
import { quantizeInputs } from '../src/graph/quant/reference.js';
import type { Graph } from '../src/graph/ir.js';
import type { Sample } from '../src/graph/quant/lower.js';
import { computeWitnessBin } from '../src/circuit/witness.js';
import { ProverThreads } from '../src/queue/proverThreads.js';
import { localDevPtau, requiredPower } from '../src/setup/ptau.js';
import { verifyBundle, verifyChain } from '../src/verify/core.js';
import { COMPILE_MODELS, type CompileRow } from './compileTerms.js';
import { CIFAR_LENET, lenetName, lenetOnnx, lenetSamples, type LenetConfig } from './lenet.js';

const args = process.argv.slice(2);
const opt = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const MODELS: Record<string, LenetConfig> = {
  cifar: CIFAR_LENET,
  reduced: { channels: 1, side: 12, kernel: 3, conv: [4, 8], dense: [32, 16], classes: 10 },
  small: COMPILE_MODELS.small,
};
const which = opt('--model') ?? 'cifar';
const config =
  MODELS[which] ??
  (() => {
    throw new Error(`--model: one of ${Object.keys(MODELS).join(', ')}`);
  })();
const variants = (opt('--variants') ?? 'whole,2,4').split(',');
const order = (variant: string) => (variant === 'whole' ? 0 : parseInt(variant, 10));
const secs = (t: number) => (performance.now() - t) / 1000;
const OUT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'split.md');
const ROWS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'split.json');
const log = (line: string) => process.stderr.write(`[bench:split] ${line}\n`);

interface Row {
  variant: string;
  cuts: string;
  constraints: number[];
  compileS: number;
  setupS: number;
  proveMainS: number;
  prove1S: number;
  prove2S: number;
  verifyMs: number;
  bundleBytes: number;
  keyBytes: number;
}

/** Exactly n chunks, cut where the largest chunk's estimate is smallest (every choice of n - 1 valid cut tensors). */
function splitInto(graph: Graph, calibration: Sample[], n: number): SplitProgram {
  const names = cutNames(graph);
  let best: SplitProgram | undefined;
  const pick = (from: number, chosen: string[]) => {
    if (chosen.length === n - 1) {
      try {
        const s = splitGraph(graph, calibration, { split: chosen });
        if (!best || Math.max(...s.estimates) < Math.max(...best.estimates)) best = s;
      } catch {
        // not a valid set of cuts
      }
      return;
    }
    for (let i = from; i < names.length; i++) pick(i + 1, [...chosen, names[i]]);
  };
  pick(0, []);
  if (!best) throw new Error(`no ${n - 1} tensors of ${lenetName(config)} cut it into ${n} chunks`);
  return best;
}

async function ptauFor(circuits: Array<{ constraints: number; publicInputs: number; outputs: number }>, artifactsDir: string) {
  for (const p of new Set(circuits.map((c) => requiredPower(c.constraints, c.publicInputs, c.outputs)))) await localDevPtau(p, { artifactsDir });
}

async function proveWhole(model: GraphModel, sample: Sample, threads?: ProverThreads) {
  const x = quantizeInputs(model.program, sample);
  const wtns = model.linked ? await linkedWitness(model.linked, model.program, [{ x }]) : await computeWitnessBin(model.circuit.wasmPath, { x });
  const r = threads ? await threads.proveWitness(model.zkeyPath, wtns) : await snarkjs.groth16.prove(model.zkeyPath, { type: 'mem', data: wtns });
  return graphBundle(model, r.proof, r.publicSignals);
}

async function benchWhole(graph: Graph, calibration: Sample[], samples: Sample[], artifactsDir: string): Promise<Row> {
  log('whole: compile');
  let t = performance.now();
  const program = splitGraph(graph, calibration, { split: 'auto', chunkConstraints: Number.MAX_SAFE_INTEGER }).whole;
  const circuit = await compileGraphProgram(program, { artifactsDir, graph, emit: 'linked' });
  const compileS = secs(t);
  const keysDir = path.join(artifactsDir, 'setup-whole');
  await ptauFor([circuit.circuit], keysDir);
  log(`whole: setup (${circuit.circuit.constraints} constraints)`);
  t = performance.now();
  const model = await setupGraphCircuit(circuit, { artifactsDir: keysDir });
  const setupS = secs(t);
  log('whole: prove');
  t = performance.now();
  const bundle = await proveWhole(model, samples[0]);
  const proveMainS = secs(t);
  const threads = new ProverThreads(1, artifactsDir);
  let prove1S: number;
  try {
    await proveWhole(model, samples[0], threads); // warm: the thread builds its curve once
    t = performance.now();
    await proveWhole(model, samples[1], threads);
    prove1S = secs(t);
  } finally {
    await threads.close();
  }
  t = performance.now();
  const v = await verifyBundle(model.key, bundle);
  const verifyMs = 1000 * secs(t);
  if (!v.valid) throw new Error(`whole bundle did not verify: ${v.reason}`);
  return {
    variant: 'whole',
    cuts: '—',
    constraints: [circuit.circuit.constraints],
    compileS,
    setupS,
    proveMainS,
    prove1S,
    prove2S: prove1S,
    verifyMs,
    bundleBytes: JSON.stringify(bundle).length,
    keyBytes: JSON.stringify(model.key).length,
  };
}

async function benchSplit(graph: Graph, calibration: Sample[], samples: Sample[], n: number, artifactsDir: string): Promise<Row> {
  const split = splitInto(graph, calibration, n);
  log(`${split.chunks.length} chunks at ${split.cuts.join(', ')}: compile`);
  let t = performance.now();
  const circuits = await compileSplit(split, { artifactsDir, graph, emit: 'linked' });
  const compileS = secs(t);
  // Keys in a directory of this variant's own: two splits can share a chunk (the same cut), and a cached key would hide its setup time.
  const keysDir = path.join(artifactsDir, `setup-${n}`);
  await ptauFor(
    circuits.chunks.map((c) => c.circuit),
    keysDir,
  );
  log(`setup (${circuits.chunks.map((c) => c.circuit.constraints).join(' + ')} constraints)`);
  t = performance.now();
  const model: SplitModel = await setupSplit(circuits, { artifactsDir: keysDir });
  const setupS = secs(t);
  log('prove');
  t = performance.now();
  const { bundle } = await proveSplit(model, samples[0]);
  const proveMainS = secs(t);
  const onThreads = async (k: number, sample: Sample) => {
    const threads = new ProverThreads(k, artifactsDir);
    try {
      await proveSplit(model, sample, { threads }); // warm: each thread builds its curve once
      t = performance.now();
      const r = await proveSplit(model, sample, { threads });
      return { s: secs(t), bundle: r.bundle };
    } finally {
      await threads.close();
    }
  };
  const prove1S = (await onThreads(1, samples[1])).s;
  const two = await onThreads(2, samples[1]);
  t = performance.now();
  const v = await verifyChain(model.chainKey, bundle);
  const verifyMs = 1000 * secs(t);
  if (!v.valid) throw new Error(`chain did not verify: ${v.reason}`);
  // A link swapped for the same chunk's proof on another input must break the chain.
  const j = Math.min(1, bundle.links.length - 1);
  const swapped = { ...bundle, links: bundle.links.map((l, k) => (k === j ? two.bundle.links[j] : l)) };
  const sv = await verifyChain(model.chainKey, swapped);
  if (sv.valid) throw new Error('a swapped link verified');
  log(`swapped link rejected: ${sv.reason}`);
  return {
    variant: `${split.chunks.length} chunks`,
    cuts: split.cuts.join(', '),
    constraints: circuits.chunks.map((c) => c.circuit.constraints),
    compileS,
    setupS,
    proveMainS,
    prove1S,
    prove2S: two.s,
    verifyMs,
    bundleBytes: JSON.stringify(bundle).length,
    keyBytes: JSON.stringify(model.chainKey).length,
  };
}

async function compileTerms(): Promise<CompileRow[]> {
  const run = promisify(execFile);
  const here = path.dirname(fileURLToPath(import.meta.url));
  const rows: CompileRow[] = [];
  for (const name of Object.keys(COMPILE_MODELS)) {
    log(`compile-time per term: ${name}`);
    const { stdout } = await run(process.execPath, ['--import', 'tsx', path.join(here, 'compileTerms.ts'), name], { maxBuffer: 1 << 20 });
    rows.push(JSON.parse(stdout.trim().split('\n').pop()!) as CompileRow);
  }
  return rows;
}

async function main(): Promise<void> {
  const artifactsDir = opt('--artifacts') ?? (await mkdtemp(path.join(os.tmpdir(), 'zkinfer-bench-split-')));
  const lines: string[] = [`# Split models (npm run bench:split -- ${args.join(' ')})`, '', `model: ${lenetName(config)}, random weights; ${os.cpus().length} cores`, ''];
  if (!args.includes('--compile-only')) {
    const graph = runPasses(importOnnxGraph(lenetOnnx(config), 'lenet'));
    const calibration = lenetSamples(graph, 4);
    const samples = lenetSamples(graph, 2);
    // Rows are kept in split.json by variant and merged with earlier runs' (`--variants whole,4` measures again only those).
    const previous = await readFile(ROWS, 'utf8').then(
      (t) => JSON.parse(t) as { model: string; rows: Row[] },
      () => undefined,
    );
    const rows: Row[] = previous?.model === lenetName(config) ? previous.rows : [];
    const put = (r: Row) => {
      const i = rows.findIndex((x) => x.variant === r.variant);
      if (i >= 0) rows[i] = r;
      else rows.push(r);
      rows.sort((a, b) => order(a.variant) - order(b.variant));
    };
    const table = () => [
      '| variant | cuts | constraints | compile s | setup s | prove s (snarkjs threads) | prove s (1 prover thread) | prove s (2 prover threads) | verify ms | bundle bytes | key bytes |',
      '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...rows.map(
        (r) =>
          `| ${r.variant} | ${r.cuts} | ${r.constraints.join(' + ')} | ${r.compileS.toFixed(1)} | ${r.setupS.toFixed(1)} | ${r.proveMainS.toFixed(1)} | ${r.prove1S.toFixed(1)} | ${r.variant === 'whole' ? '—' : r.prove2S.toFixed(1)} | ${r.verifyMs.toFixed(0)} | ${r.bundleBytes} | ${r.keyBytes} |`,
      ),
      '',
      "A chain with one link swapped for the same chunk's proof on another input was rejected for every split.",
      '',
    ];
    // Each row is written as soon as it is measured: a CIFAR run takes over an hour, and a late failure should not lose the rows before it.
    const partial = async () => {
      await writeFile(ROWS, JSON.stringify({ model: lenetName(config), rows }, null, 2));
      await writeFile(OUT, [...lines, ...table()].join('\n'));
    };
    for (const v of variants) {
      put(v === 'whole' ? await benchWhole(graph, calibration, samples, artifactsDir) : await benchSplit(graph, calibration, samples, Number(v), artifactsDir));
      await partial();
      log(`peak RSS so far ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
    }
    lines.push(...table());
  }
  if (!args.includes('--no-compile-terms')) {
    const rows = await compileTerms();
    lines.push(
      'Compile through the linker (fresh artifacts, gadget compiles included; each model in its own process):',
      '',
      '| model | constraints | form terms | lower s | compile s | of which gadget compiles s | peak RSS MB | µs per term | µs per term after gadget compiles |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...rows.map(
        (r) =>
          `| ${r.model} | ${r.constraints} | ${r.terms} | ${r.lowerSeconds.toFixed(1)} | ${r.compileSeconds.toFixed(1)} | ${r.gadgetSeconds.toFixed(1)} | ${r.peakRssMb.toFixed(0)} | ${r.usPerTerm.toFixed(1)} | ${((1e6 * (r.compileSeconds - r.gadgetSeconds)) / r.terms).toFixed(1)} |`,
      ),
      '',
    );
  }
  const text = lines.join('\n');
  process.stdout.write(`${text}\n`);
  await writeFile(OUT, text);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
