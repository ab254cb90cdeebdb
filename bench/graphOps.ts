/**
 * `npm run bench:ops`: constraints per output element of each graph operator, measured by compiling a
 * one-op model with circom (the r1cs count, minus the input range checks), and its largest error against
 * onnxruntime relative to the largest |output| on random inputs in [-3, 3]. Writes bench/graph-ops.md.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { compileCircom } from '../src/circuit/compile.js';
import { emitGraphCircuit } from '../src/graph/emit.js';
import { importOnnxGraph } from '../src/graph/onnx.js';
import { runPasses } from '../src/graph/passes/index.js';
import { lowerGraph, type Sample } from '../src/graph/quant/lower.js';
import { dequantizeOutputs, quantizeInputs, runProgram } from '../src/graph/quant/reference.js';
import { unsignedBits } from '../src/graph/quant/prims.js';
import { OnnxGraphBuilder, f, type AttrValueSpec } from '../test/helpers/onnxGraph.js';
import { runOnnx } from './ort.js';

interface Case {
  label: string;
  op: string;
  attrs?: Record<string, AttrValueSpec>;
  /** Extra constant inputs after x: [name, dims, values]. */
  consts?: Array<[number[], number[]]>;
  /** A second computed input of x's shape. */
  twoInputs?: boolean;
  shape?: number[];
}

const rnd = (n: number, seed: number) => Array.from({ length: n }, (_, i) => Math.sin(seed * 97 + i * 13.7) * 0.5);
const CASES: Case[] = [
  { label: 'Relu', op: 'Relu' },
  { label: 'LeakyRelu(0.01)', op: 'LeakyRelu', attrs: { alpha: f(0.01) } },
  {
    label: 'Clip(-1, 1)',
    op: 'Clip',
    consts: [
      [[], [-1]],
      [[], [1]],
    ],
  },
  { label: 'Abs', op: 'Abs' },
  { label: 'HardSigmoid', op: 'HardSigmoid' },
  { label: 'Sigmoid', op: 'Sigmoid' },
  { label: 'Tanh', op: 'Tanh' },
  { label: 'Exp', op: 'Exp' },
  { label: 'Erf', op: 'Erf' },
  { label: 'Softplus', op: 'Softplus' },
  { label: 'Floor', op: 'Floor' },
  { label: 'Mul (two computed)', op: 'Mul', twoInputs: true },
  { label: 'Add (two computed)', op: 'Add', twoInputs: true },
  { label: 'Mul by a constant', op: 'Mul', consts: [[[], [0.37]]] },
  {
    label: 'Gemm 16 -> 16',
    op: 'Gemm',
    consts: [
      [[16, 16], rnd(256, 1)],
      [[16], rnd(16, 2)],
    ],
    attrs: { transB: 1 },
    shape: [1, 16],
  },
  { label: 'Conv 3x3, 2 -> 4 channels', op: 'Conv', consts: [[[4, 2, 3, 3], rnd(72, 3)]], attrs: { pads: [1, 1, 1, 1] }, shape: [1, 2, 6, 6] },
  { label: 'MaxPool 2x2', op: 'MaxPool', attrs: { kernel_shape: [2, 2], strides: [2, 2] }, shape: [1, 2, 6, 6] },
  { label: 'AveragePool 2x2', op: 'AveragePool', attrs: { kernel_shape: [2, 2], strides: [2, 2] }, shape: [1, 2, 6, 6] },
  { label: 'Softmax (16)', op: 'Softmax', attrs: { axis: -1 }, shape: [1, 16] },
  { label: 'Less than a constant', op: 'Less', consts: [[[], [0.2]]] },
  { label: 'ReduceMax (16)', op: 'ReduceMax', attrs: { keepdims: 0 }, shape: [1, 16] },
];

function model(c: Case): Uint8Array {
  const shape = c.shape ?? [1, 16];
  const g = new OnnxGraphBuilder(c.label.replace(/\W+/g, '_'), { opset: 13 });
  g.input('x', 'float', shape);
  const inputs = ['x'];
  if (c.twoInputs) inputs.push(g.input('y', 'float', shape));
  (c.consts ?? []).forEach(([dims, values], i) => inputs.push(g.initializer(`c${i}`, 'float', dims, values)));
  g.node(c.op, inputs, ['out'], c.attrs ?? {});
  g.output('out', c.op === 'Less' ? 'bool' : 'float');
  return g.encode();
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-bench-ops-'));
  const rows: string[] = ['| op | output elements | constraints (total) | constraints / element | max error / max |output| |', '|---|---:|---:|---:|---:|'];
  for (const c of CASES) {
    try {
      const bytes = model(c);
      const graph = runPasses(importOnnxGraph(bytes, c.label));
      const samples: Sample[] = Array.from(
        { length: 16 },
        (_, k) => new Map(graph.inputs.map((i, j) => [i.name, Float64Array.from({ length: i.shape.reduce((a, b) => a * b, 1) }, (_, n) => 3 * Math.sin(k * 31 + n * 7.3 + j))])),
      );
      const program = lowerGraph(graph, samples);
      const compiled = await compileCircom(emitGraphCircuit(program).source, { name: 'op', artifactsDir: dir });
      const inputChecks = program.inputs.reduce((a, i) => a + i.shape.reduce((x, y) => x * y, 1) * unsignedBits(i.hi - i.lo), 0);
      const outputs = program.outputs.reduce((a, o) => a + o.elems.length, 0);
      let err = 0;
      let top = 0;
      for (const s of samples) {
        const ort = await runOnnx(bytes, Object.fromEntries(graph.inputs.map((i) => [i.name, { shape: i.shape, data: s.get(i.name)! }])));
        const got = dequantizeOutputs(program, runProgram(program, quantizeInputs(program, s)))[0].values;
        ort.out.data.forEach((v, i) => {
          err = Math.max(err, Math.abs(got[i] - v));
          top = Math.max(top, Math.abs(v));
        });
      }
      const own = compiled.constraints - inputChecks;
      rows.push(`| ${c.label} | ${outputs} | ${own} | ${(own / outputs).toFixed(1)} | ${((100 * err) / (top || 1)).toFixed(2)}% |`);
    } catch (e) {
      rows.push(`| ${c.label} | - | - | - | error: ${(e as Error).message.split('\n')[0]} |`);
    }
    process.stdout.write(`${rows[rows.length - 1]}\n`);
  }
  const md = [
    '# Graph operators: constraints per element',
    '',
    `Measured ${new Date().toISOString()} by \`npm run bench:ops\` (8-bit activations and lookup domains, 12-bit float inputs; input range checks excluded).`,
    '',
    ...rows,
    '',
  ].join('\n');
  await writeFile(path.join(import.meta.dirname, 'graph-ops.md'), md);
  await rm(dir, { recursive: true, force: true });
  process.exit(0);
}

await main();
