/**
 * Conformance runner: `npm run conformance -- DIR [--compile-only] [--only a,b] [--json FILE] [--tolerance 0.02]`.
 * DIR holds <name>/network.onnx + <name>/input.json (EZKL's layout). For each model: import, calibrate on
 * input.json, compile, set up, prove on input.json, verify, and compare the proved outputs with
 * onnxruntime's on the same input. A model whose error exceeds the tolerance at the default activation
 * widths is rebuilt with wider activations, lookup domains and inputs (WIDTHS; the table's `bits` column
 * says which activation width passed).
 *
 * Each model runs in its own child process (`--one NAME`), so a model that exhausts memory or runs past
 * `--timeout` seconds (default 1800) is recorded as an error and the run goes on; the child's peak RSS is
 * in the table.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ZkinferError } from '../src/util/errors.js';
import { buildGraphModel, compileGraphProgram, loadGraph, lowerGraph, proveGraph, readSample, dequantizeOutputs, quantizeInputs, runProgram } from '../src/graph/index.js';
import type { Graph, QProgram, Sample } from '../src/graph/index.js';
import { verify } from '../src/verify/index.js';
import { openOnnx } from './ort.js';

interface Row {
  model: string;
  ops: string;
  result: 'pass' | 'fail' | 'error';
  bits?: number;
  constraints?: number;
  setupSeconds?: number;
  peakRssMB?: number;
  /** How the reference was obtained when onnxruntime refused the file as it is (bench/ortCompat.ts). */
  note?: string;
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
  return {
    activationBits: w.activationBits,
    lookupBits: w.lookupBits,
    inputs: Object.fromEntries(graph.inputs.filter((i) => i.dtype === 'float').map((i) => [i.name, { bits: w.inputBits }])),
  };
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
  const timeout = Number(flag('--timeout') ?? 1800);
  const one = flag('--one');
  const dir = argv.find((a) => !a.startsWith('--'));
  if (!dir) throw new ZkinferError('BAD_INPUT', 'usage: npm run conformance -- DIR [--compile-only] [--only a,b] [--json FILE] [--tolerance 0.02] [--timeout SECONDS]');
  return { dir, compileOnly, only, json, tolerance, artifacts, timeout, one };
}

/** onnxruntime's outputs for the sample, in the graph's output order. */
async function reference(file: string, graph: Graph, sample: Sample): Promise<{ want: Float64Array[]; note?: string }> {
  const inputs = Object.fromEntries(graph.inputs.map((i) => [i.name, { shape: i.shape, data: sample.get(i.name)! }]));
  const runner = await openOnnx(file);
  try {
    const outs = await runner.run(inputs);
    return { want: graph.outputs.map((o) => outs[o.name].data), note: runner.note };
  } finally {
    await runner.release();
  }
}

function relError(got: number[][], want: Float64Array[]): number {
  let err = 0;
  let top = 0;
  want.forEach((w, o) =>
    w.forEach((v, i) => {
      err = Math.max(err, Math.abs(got[o][i] - v));
      top = Math.max(top, Math.abs(v));
    }),
  );
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
    const { want, note } = await reference(file, graph, sample);
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
      return { model: name, ops, note, result: rel <= opts.tolerance ? 'pass' : 'fail', bits, constraints: c.circuit.constraints, relError: rel };
    }
    let t = performance.now();
    const model = await buildGraphModel(graph, [sample], { ...lowerOptions(graph, widths), artifactsDir: opts.artifacts });
    const setupSeconds = (performance.now() - t) / 1000;
    t = performance.now();
    const { bundle } = await proveGraph(model, sample);
    const proveSeconds = (performance.now() - t) / 1000;
    t = performance.now();
    const verdict = await verify(bundle, model.key);
    const verifyMs = performance.now() - t;
    const got = (verdict.output?.outputs ?? []).map((o) => o.values);
    const rel = verdict.valid ? relError(got, want) : Infinity;
    const ok = verdict.valid && rel <= opts.tolerance;
    return {
      model: name,
      ops,
      note,
      result: ok ? 'pass' : 'fail',
      bits,
      constraints: model.circuit.constraints,
      relError: rel,
      setupSeconds,
      proveSeconds,
      verifyMs,
      ...(verdict.valid ? {} : { reason: verdict.reason }),
    };
  } catch (err) {
    const reason = err instanceof ZkinferError ? err.message : `internal error: ${(err as Error).stack?.split('\n').slice(0, 3).join(' | ')}`;
    return { model: name, ops, result: 'error', reason };
  }
}

const pad = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s.padEnd(n));
const ROW = 'CONFORMANCE-ROW ';

/** Run one model in a child process (this script with `--one NAME`), killed after the timeout. */
function runIsolated(name: string, opts: ReturnType<typeof args>): Promise<Row> {
  const argv = [
    ...process.execArgv,
    process.argv[1],
    opts.dir,
    '--one',
    name,
    '--tolerance',
    String(opts.tolerance),
    '--artifacts',
    opts.artifacts,
    ...(opts.compileOnly ? ['--compile-only'] : []),
  ];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeout * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith(ROW));
      if (line) return resolve(JSON.parse(line.slice(ROW.length)) as Row);
      const why = signal === 'SIGKILL' ? `timed out after ${opts.timeout} s` : `exited with ${code ?? signal}: ${err.trim().split('\n').slice(-2).join(' | ').slice(0, 300)}`;
      resolve({ model: name, ops: '', result: 'error', reason: why });
    });
  });
}

async function main(): Promise<void> {
  const opts = args();
  mkdirSync(opts.artifacts, { recursive: true });
  if (opts.one) {
    const row = await runModel(opts.dir, opts.one, opts);
    process.stdout.write(`${ROW}${JSON.stringify({ ...row, peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024) })}\n`);
    process.exit(0);
  }
  const names = readdirSync(opts.dir)
    .filter((n) => existsSync(path.join(opts.dir, n, 'network.onnx')))
    .filter((n) => !opts.only || opts.only.includes(n))
    .sort();
  const rows: Row[] = [];
  process.stdout.write(
    `${pad('model', 24)} ${pad('result', 6)} ${'bits'.padStart(4)} ${'constraints'.padStart(11)} ${'rel err'.padStart(8)} ${'setup s'.padStart(8)} ${'prove s'.padStart(8)} ${'verify ms'.padStart(9)} ${'RSS MB'.padStart(7)}  ops / reason\n`,
  );
  for (const name of names) {
    const r = await runIsolated(name, opts);
    rows.push(r);
    const num = (v: number | undefined, d: number, w: number) => (v === undefined ? '-' : v.toFixed(d)).padStart(w);
    const what = [r.reason, r.note].filter(Boolean).join('; ') || r.ops;
    process.stdout.write(
      `${pad(name, 24)} ${pad(r.result, 6)} ${String(r.bits ?? '-').padStart(4)} ${String(r.constraints ?? '-').padStart(11)} ${(r.relError === undefined ? '-' : `${(100 * r.relError).toFixed(2)}%`).padStart(8)} ${num(r.setupSeconds, 1, 8)} ${num(r.proveSeconds, 2, 8)} ${num(r.verifyMs, 0, 9)} ${num(r.peakRssMB, 0, 7)}  ${what}\n`,
    );
  }
  const passed = rows.filter((r) => r.result === 'pass').length;
  const summary = `conformance: ${passed} of ${rows.length} models ${opts.compileOnly ? 'compile with' : 'prove and verify with'} outputs within ${100 * opts.tolerance}% of onnxruntime (${rows.filter((r) => r.result === 'fail').length} outside, ${rows.filter((r) => r.result === 'error').length} errors)`;
  process.stdout.write(`${summary}\n`);
  writeFileSync(opts.json, JSON.stringify({ date: new Date().toISOString(), dir: opts.dir, compileOnly: opts.compileOnly, tolerance: opts.tolerance, summary, rows }, null, 2));
  process.exit(0);
}

await main();
