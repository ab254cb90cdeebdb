/**
 * Conformance runner: `npm run conformance -- DIR [--compile-only] [--only a,b] [--json FILE] [--tolerance 0.02]`.
 * DIR holds <name>/network.onnx + <name>/input.json (EZKL's layout). For each model: import, calibrate on
 * input.json, compile, set up, prove on input.json, verify, and compare the proved outputs with
 * onnxruntime's on the same input. A model whose error exceeds the tolerance at the default activation
 * widths is rebuilt with wider activations, lookup domains and inputs (WIDTHS; the table's `bits` column
 * says which activation width passed).
 */
import { mkdirSync, readdirSync, existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ZkinferError } from '../src/util/errors.js';
import { buildGraphModel, compileGraphProgram, loadGraph, lowerGraph, proveGraph, readSample, dequantizeOutputs, quantizeInputs, runProgram } from '../src/graph/index.js';
import type { Graph, QProgram, Sample } from '../src/graph/index.js';
import { verify } from '../src/verify/index.js';
import { runOnnx } from './ort.js';

interface Row {
  model: string;
  ops: string;
  result: 'pass' | 'fail' | 'error';
  bits?: number;
  constraints?: number;
  /** max |proved - onnxruntime| / max |onnxruntime| over every output element. */
  relError?: number;
  proveSeconds?: number;
  verifyMs?: number;
  reason?: string;
}

/** Widths tried in order: activations, lookup domains, float inputs (the first that meets the tolerance wins). */
const WIDTHS = [
  { activationBits: 8, lookupBits: 8, inputBits: 12 },
  { activationBits: 12, lookupBits: 10, inputBits: 16 },
  { activationBits: 16, lookupBits: 12, inputBits: 20 },
];
type Widths = (typeof WIDTHS)[number];

function lowerOptions(graph: Graph, w: Widths) {
  return { activationBits: w.activationBits, lookupBits: w.lookupBits, inputs: Object.fromEntries(graph.inputs.filter((i) => i.dtype === 'float').map((i) => [i.name, { bits: w.inputBits }])) };
}

function args() {
  const argv = process.argv.slice(2);
  const flag = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv.splice(i, 2)[1] : undefined;
  };
  const compileOnly = argv.includes('--compile-only');
  const only = flag('--only')?.split(',');
  const json = flag('--json') ?? 'bench/conformance.json';
  const tolerance = Number(flag('--tolerance') ?? 0.02);
  const artifacts = flag('--artifacts') ?? path.resolve('artifacts/conformance');
  const dir = argv.find((a) => !a.startsWith('--'));
  if (!dir) throw new ZkinferError('BAD_INPUT', 'usage: npm run conformance -- DIR [--compile-only] [--only a,b] [--json FILE] [--tolerance 0.02]');
  return { dir, compileOnly, only, json, tolerance, artifacts };
}

/** onnxruntime's outputs for the sample, in the graph's output order. */
async function reference(file: string, graph: Graph, sample: Sample): Promise<Float64Array[]> {
  const inputs = Object.fromEntries(graph.inputs.map((i) => [i.name, { shape: i.shape, data: sample.get(i.name)! }]));
  const outs = await runOnnx(file, inputs);
  return graph.outputs.map((o) => outs[o.name].data);
}

function relError(got: number[][], want: Float64Array[]): number {
  let err = 0;
  let top = 0;
  want.forEach((w, o) => w.forEach((v, i) => {
    err = Math.max(err, Math.abs(got[o][i] - v));
    top = Math.max(top, Math.abs(v));
  }));
  return top > 0 ? err / top : err;
}

function quantizedOutputs(program: QProgram, sample: Sample): number[][] {
  return dequantizeOutputs(program, runProgram(program, quantizeInputs(program, sample))).map((o) => o.values);
}

async function runModel(dir: string, name: string, opts: ReturnType<typeof args>): Promise<Row> {
  const file = path.join(dir, name, 'network.onnx');
  let ops = '';
  try {
    const graph = await loadGraph(file);
    ops = [...new Set(graph.nodes.map((n) => n.op))].join(',');
    const sample = await readSample(graph, path.join(dir, name, 'input.json'));
    const want = await reference(file, graph, sample);
    // The narrowest width whose integer reference (equal to the circuit) meets the tolerance.
    let widths = WIDTHS[0];
    let program = lowerGraph(graph, [sample], lowerOptions(graph, widths));
    for (const w of WIDTHS.slice(1)) {
      if (relError(quantizedOutputs(program, sample), want) <= opts.tolerance) break;
      widths = w;
      program = lowerGraph(graph, [sample], lowerOptions(graph, widths));
    }
    const bits = widths.activationBits;
    if (opts.compileOnly) {
      const c = await compileGraphProgram(program, { artifactsDir: opts.artifacts, graph });
      const rel = relError(quantizedOutputs(program, sample), want);
      return { model: name, ops, result: rel <= opts.tolerance ? 'pass' : 'fail', bits, constraints: c.circuit.constraints, relError: rel };
    }
    const model = await buildGraphModel(graph, [sample], { ...lowerOptions(graph, widths), artifactsDir: opts.artifacts });
    let t = performance.now();
    const { bundle } = await proveGraph(model, sample);
    const proveSeconds = (performance.now() - t) / 1000;
    t = performance.now();
    const verdict = await verify(bundle, model.key);
    const verifyMs = performance.now() - t;
    const got = (verdict.output?.outputs ?? []).map((o) => o.values);
    const rel = verdict.valid ? relError(got, want) : Infinity;
    const ok = verdict.valid && rel <= opts.tolerance;
    return { model: name, ops, result: ok ? 'pass' : 'fail', bits, constraints: model.circuit.constraints, relError: rel, proveSeconds, verifyMs, ...(verdict.valid ? {} : { reason: verdict.reason }) };
  } catch (err) {
    const reason = err instanceof ZkinferError ? err.message : `internal error: ${(err as Error).stack?.split('\n').slice(0, 3).join(' | ')}`;
    return { model: name, ops, result: 'error', reason };
  }
}

const pad = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s.padEnd(n));

async function main(): Promise<void> {
  const opts = args();
  const names = readdirSync(opts.dir)
    .filter((n) => existsSync(path.join(opts.dir, n, 'network.onnx')))
    .filter((n) => !opts.only || opts.only.includes(n))
    .sort();
  mkdirSync(opts.artifacts, { recursive: true });
  const rows: Row[] = [];
  process.stdout.write(`${pad('model', 24)} ${pad('result', 6)} ${'bits'.padStart(4)} ${'constraints'.padStart(11)} ${'rel err'.padStart(8)} ${'prove s'.padStart(8)} ${'verify ms'.padStart(9)}  ops / reason\n`);
  for (const name of names) {
    const r = await runModel(opts.dir, name, opts);
    rows.push(r);
    const num = (v: number | undefined, d: number, w: number) => (v === undefined ? '-' : v.toFixed(d)).padStart(w);
    process.stdout.write(
      `${pad(name, 24)} ${pad(r.result, 6)} ${String(r.bits ?? '-').padStart(4)} ${String(r.constraints ?? '-').padStart(11)} ${(r.relError === undefined ? '-' : `${(100 * r.relError).toFixed(2)}%`).padStart(8)} ${num(r.proveSeconds, 2, 8)} ${num(r.verifyMs, 0, 9)}  ${r.reason ?? r.ops}\n`,
    );
  }
  const passed = rows.filter((r) => r.result === 'pass').length;
  const summary = `conformance: ${passed} of ${rows.length} models ${opts.compileOnly ? 'compile with' : 'prove and verify with'} outputs within ${100 * opts.tolerance}% of onnxruntime (${rows.filter((r) => r.result === 'fail').length} outside, ${rows.filter((r) => r.result === 'error').length} errors)`;
  process.stdout.write(`${summary}\n`);
  writeFileSync(opts.json, JSON.stringify({ date: new Date().toISOString(), dir: opts.dir, compileOnly: opts.compileOnly, tolerance: opts.tolerance, peakRssMB: process.resourceUsage().maxRSS / 1024, summary, rows }, null, 2));
  process.exit(0);
}

await main();
