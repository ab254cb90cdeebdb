import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runOnnx } from '../bench/ort.js';
import { importOnnxGraph } from '../src/graph/onnx.js';
import { runPasses } from '../src/graph/passes/index.js';
import { runFloat } from '../src/graph/quant/lower.js';
import { checkOpModel, randomSamples } from './helpers/graphCheck.js';
import { expectZkinferError } from './helpers/errors.js';
import { OnnxGraphBuilder, f, type AttrValueSpec } from './helpers/onnxGraph.js';

const artifactsDir = mkdtempSync(path.join(tmpdir(), 'zkinfer-recurrent-'));
afterAll(() => rmSync(artifactsDir, { recursive: true, force: true }));

let seed = 7;
const rnd = (n: number, s = 0.6) => Array.from({ length: n }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 2 * s);

interface Spec {
  op: 'LSTM' | 'GRU' | 'RNN';
  T?: number;
  I?: number;
  H?: number;
  dirs?: 1 | 2;
  attrs?: Record<string, AttrValueSpec>;
  /** Initial state from a graph input (computed) instead of absent. */
  initial?: boolean;
  peepholes?: boolean;
  bias?: boolean;
  outputs?: number;
  lens?: number[];
}

const gatesOf = { LSTM: 4, GRU: 3, RNN: 1 };

/** x [T, 1, I] (or [1, T, I] with layout 1) -> op -> its outputs, with random constant weights. */
function recurrentModel(spec: Spec): Uint8Array {
  const { op, T = 3, I = 3, H = 4, dirs = 1 } = spec;
  const layout = spec.attrs?.layout === 1 ? 1 : 0;
  const G = gatesOf[op];
  const g = new OnnxGraphBuilder(op.toLowerCase(), { opset: 17 });
  g.input('x', 'float', layout === 0 ? [T, 1, I] : [1, T, I]);
  const state = layout === 0 ? [dirs, 1, H] : [1, dirs, H];
  const inputs = ['x', g.initializer('W', 'float', [dirs, G * H, I], rnd(dirs * G * H * I)), g.initializer('R', 'float', [dirs, G * H, H], rnd(dirs * G * H * H))];
  inputs.push(spec.bias === false ? '' : g.initializer('B', 'float', [dirs, 2 * G * H], rnd(dirs * 2 * G * H, 0.3)));
  inputs.push(spec.lens ? g.initializer('lens', 'int32', [1], spec.lens) : '');
  if (spec.initial) {
    g.input('h0', 'float', state);
    inputs.push('h0');
    if (op === 'LSTM') {
      g.input('c0', 'float', state);
      inputs.push('c0');
    }
  } else inputs.push('', ...(op === 'LSTM' ? [''] : []));
  if (spec.peepholes) inputs.push(g.initializer('P', 'float', [dirs, 3 * H], rnd(dirs * 3 * H)));
  while (inputs[inputs.length - 1] === '') inputs.pop();
  const n = spec.outputs ?? (op === 'LSTM' ? 3 : 2);
  const outs = ['y', 'yh', 'yc'].slice(0, n);
  g.node(op, inputs, outs, { hidden_size: H, ...(dirs === 2 ? { direction: 'bidirectional' } : {}), ...spec.attrs });
  for (const o of outs) g.output(o, 'float');
  return g.encode();
}

/** The unrolled float graph equals onnxruntime to float32 precision. */
async function floatMatches(bytes: Uint8Array): Promise<void> {
  const graph = runPasses(importOnnxGraph(bytes, 'rnn'));
  expect(
    graph.nodes.some((n) => ['LSTM', 'GRU', 'RNN'].includes(n.op)),
    'the op is expanded',
  ).toBe(false);
  for (const sample of randomSamples(graph, 3, -2, 2)) {
    const want = await runOnnx(bytes, Object.fromEntries(graph.inputs.map((i) => [i.name, { shape: i.shape, data: sample.get(i.name)! }])));
    const got = runFloat(graph, sample);
    for (const o of graph.outputs) {
      expect(got.get(o.name)!.shape, o.name).toEqual(want[o.name].shape);
      got.get(o.name)!.data.forEach((v, i) => expect(Math.abs(v - want[o.name].data[i]), `${o.name}[${i}]`).toBeLessThan(1e-5));
    }
  }
}

describe('recurrent layers unrolled into the ops they are made of', () => {
  const floatCases: Array<[string, Spec]> = [
    ['LSTM forward with every output', { op: 'LSTM' }],
    ['LSTM bidirectional, computed initial state, peepholes, clip', { op: 'LSTM', dirs: 2, initial: true, peepholes: true, attrs: { clip: f(1.5) } }],
    [
      'LSTM without bias, sequence_lens full, HardSigmoid(alpha, beta) / Softsign / Elu(alpha)',
      { op: 'LSTM', bias: false, lens: [3], attrs: { activations: ['HardSigmoid', 'softsign', 'Elu'], activation_alpha: f([0.3, 0.8]), activation_beta: f([0.4]) } },
    ],
    ['GRU reverse, LeakyRelu(alpha) / Tanh', { op: 'GRU', attrs: { direction: 'reverse', activations: ['LeakyRelu', 'Tanh'], activation_alpha: f([0.2]) } }],
    ['GRU linear_before_reset, bidirectional, initial state', { op: 'GRU', dirs: 2, initial: true, attrs: { linear_before_reset: 1 } }],
    ['RNN Tanh, Y only', { op: 'RNN', outputs: 1 }],
    ['RNN Relu / Sigmoid, bidirectional, clip', { op: 'RNN', dirs: 2, attrs: { activations: ['Relu', 'Sigmoid'], clip: f(0.7) } }],
  ];
  for (const [name, spec] of floatCases) it(`float meaning == onnxruntime: ${name}`, () => floatMatches(recurrentModel(spec)));

  it('layout 1 (batch first, which onnxruntime does not run) means layout 0 on transposed tensors', () => {
    for (const op of ['LSTM', 'GRU'] as const) {
      const spec: Spec = { op, T: 3, initial: true };
      const s0 = seed;
      const g0 = runPasses(importOnnxGraph(recurrentModel(spec), 'l0'));
      seed = s0;
      const g1 = runPasses(importOnnxGraph(recurrentModel({ ...spec, attrs: { layout: 1 } }), 'l1'));
      // B = 1, so [T, 1, I] and [1, T, I] hold the same numbers, as do [dirs, 1, H] and [1, dirs, H].
      const sample = randomSamples(g0, 1, -2, 2)[0];
      const a = runFloat(g0, sample);
      const b = runFloat(g1, sample);
      expect(b.get('y')!.shape).toEqual([1, 3, 1, 4]);
      expect(Array.from(b.get('y')!.data)).toEqual(Array.from(a.get('y')!.data));
      expect(Array.from(b.get('yh')!.data)).toEqual(Array.from(a.get('yh')!.data));
    }
  });

  it('LSTM quantized within 3% of onnxruntime, circuit == reference, cost = stated gadget sums', async () => {
    const { constraints } = await checkOpModel(recurrentModel({ op: 'LSTM', T: 2, H: 3 }), { circuit: true, artifactsDir, tolerance: 0.03, count: 4 });
    expect(constraints).toBeGreaterThan(0);
  });

  it('GRU (linear_before_reset) and RNN quantized within 3% of onnxruntime, circuit == reference', async () => {
    await checkOpModel(recurrentModel({ op: 'GRU', T: 2, H: 3, initial: true, attrs: { linear_before_reset: 1 } }), { circuit: true, artifactsDir, tolerance: 0.03, count: 4 });
    await checkOpModel(recurrentModel({ op: 'RNN', T: 3, H: 3, dirs: 2 }), { circuit: true, artifactsDir, tolerance: 0.03, count: 4 });
  });

  it('refuses what it does not unroll, naming node and attribute', () => {
    const load = (spec: Spec) => () => runPasses(importOnnxGraph(recurrentModel(spec), 'rnn'));
    expectZkinferError(load({ op: 'LSTM', lens: [2] }), 'UNSUPPORTED_LAYER', 'sequence_lens must be a constant equal to the sequence length 3');
    expectZkinferError(load({ op: 'LSTM', attrs: { input_forget: 1 } }), 'UNSUPPORTED_LAYER', "'input_forget' = 1");
    expectZkinferError(load({ op: 'RNN', attrs: { activations: ['ScaledTanh'] } }), 'UNSUPPORTED_LAYER', "'activations'");
  });
});
