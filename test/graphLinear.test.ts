import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OnnxGraphBuilder, f } from './helpers/onnxGraph.js';
import { checkOpModel } from './helpers/graphCheck.js';
import { programCosts } from '../src/graph/cost.js';
import { importOnnxGraph } from '../src/graph/onnx.js';
import { runPasses } from '../src/graph/passes/index.js';
import type { QProgram, Sample } from '../src/graph/quant/lower.js';

const artifactsDir = mkdtempSync(path.join(tmpdir(), 'zkinfer-linear-'));
afterAll(() => rmSync(artifactsDir, { recursive: true, force: true }));

let seed = 7;
const rnd = (n: number, s = 1) => Array.from({ length: n }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 2 * s);

describe('Gemm lowering', () => {
  it('Gemm + Relu + Gemm (transB, bias, fused Relu): within 2% of onnxruntime, circuit == reference', async () => {
    const g = new OnnxGraphBuilder('mlp');
    g.input('x', 'float', ['batch', 6]);
    g.initializer('w1', 'float', [5, 6], rnd(30));
    g.initializer('b1', 'float', [5], rnd(5));
    g.initializer('w2', 'float', [5, 3], rnd(15));
    const [h] = g.node('Gemm', ['x', 'w1', 'b1'], undefined, { transB: 1 });
    const [r] = g.node('Relu', [h]);
    g.node('Gemm', [r, 'w2'], ['y'], { alpha: f(0.5) });
    g.output('y', 'float', ['batch', 3]);
    const { program, constraints } = await checkOpModel(g.encode(), { circuit: true, artifactsDir });
    expect(program.prims.filter((p) => p.kind === 'requant').length).toBe(5); // the Relu costs nothing extra
    expect(constraints).toBeGreaterThan(0);
  });

  it('Gemm of two computed inputs (products) and transA', async () => {
    const g = new OnnxGraphBuilder('gemm2');
    g.input('a', 'float', [3, 2]);
    g.input('b', 'float', [3, 4]);
    g.node('Gemm', ['a', 'b'], ['y'], { transA: 1 });
    g.output('y', 'float', [2, 4]);
    await checkOpModel(g.encode(), { circuit: true, artifactsDir });
  });
});

/** Samples with a [lo, hi] range per input (default [-2, 2]); ints are whole numbers. */
function samplesFor(bytes: Uint8Array, ranges: Record<string, [number, number]>, n = 8): Sample[] {
  const graph = runPasses(importOnnxGraph(bytes, 'op'));
  return Array.from({ length: n }, () => {
    const m = new Map<string, Float64Array>();
    for (const i of graph.inputs) {
      const [lo, hi] = ranges[i.name] ?? [-2, 2];
      const count = i.shape.reduce((a, b) => a * b, 1);
      m.set(
        i.name,
        Float64Array.from(rnd(count, 1), (v) => {
          const u = lo + ((v + 1) / 2) * (hi - lo);
          return i.dtype === 'int' ? Math.round(u) : u;
        }),
      );
    }
    return m;
  });
}

const costOf = (program: QProgram) => programCosts(program);
const nodeCost = (program: QProgram, name: string) => costOf(program).nodes.find((n) => n.node === name)?.constraints ?? 0;

describe('MatMul lowering', () => {
  it('constant weights (fused Relu), computed operands with batch broadcast, 1-D operands: circuit == reference', async () => {
    const g = new OnnxGraphBuilder('matmul');
    g.input('a', 'float', [2, 3, 4]);
    g.input('b', 'float', [4, 2]);
    g.input('v', 'float', [4]);
    g.initializer('w', 'float', [4, 5], rnd(20));
    g.initializer('w1', 'float', [4], rnd(4));
    const [h] = g.node('MatMul', ['a', 'w']);
    const [r] = g.node('Relu', [h]);
    g.initializer('w5', 'float', [5, 2], rnd(10));
    g.node('MatMul', [r, 'w5'], ['y0']);
    g.node('MatMul', ['a', 'b'], ['y1']);
    g.node('MatMul', ['v', 'w'], ['y2']);
    g.node('MatMul', ['a', 'w1'], ['y3']);
    g.node('MatMul', ['v', 'b'], ['y4']);
    g.output('y0', 'float', [2, 3, 2]).output('y1', 'float', [2, 3, 2]).output('y2', 'float', [5]).output('y3', 'float', [2, 3]).output('y4', 'float', [2]);
    await checkOpModel(g.encode(), { circuit: true, artifactsDir });
  });
});

describe('Conv, ConvTranspose and pool lowering', () => {
  it('Conv (pads, strides, bias, fused Relu) -> MaxPool 2x2 -> AveragePool (pads) and grouped dilated Conv -> GlobalMaxPool, GlobalAveragePool: circuit == reference', async () => {
    const g = new OnnxGraphBuilder('cnn');
    g.input('x', 'float', [1, 2, 7, 7]);
    g.initializer('w', 'float', [4, 2, 3, 3], rnd(72));
    g.initializer('bias', 'float', [4], rnd(4));
    g.initializer('wg', 'float', [4, 1, 2, 2], rnd(16));
    const [c] = g.node('Conv', ['x', 'w', 'bias'], undefined, { pads: [1, 1, 1, 1], strides: [1, 1] });
    const [r] = g.node('Relu', [c]);
    const [m] = g.node('MaxPool', [r], undefined, { kernel_shape: [2, 2], strides: [2, 2] });
    g.node('AveragePool', [m], ['avg'], { kernel_shape: [2, 2], pads: [1, 1, 0, 0] });
    const [cg] = g.node('Conv', ['x', 'wg'], undefined, { group: 2, dilations: [2, 2], strides: [2, 1] });
    g.node('GlobalMaxPool', [cg], ['gmax']);
    g.node('GlobalAveragePool', [cg], ['gavg']);
    g.output('avg', 'float').output('gmax', 'float').output('gavg', 'float');
    const { program } = await checkOpModel(g.encode(), { circuit: true, artifactsDir });
    // AveragePool with count_include_pad 0 and padding: counts 1, 2, 4 -> exact at scale / 4, free.
    expect(nodeCost(program, 'averagepool_3')).toBe(0);
    expect(nodeCost(program, 'globalaveragepool_6')).toBe(0);
  });

  it('1-D and 3-D Conv, count_include_pad, MaxPool on signed values with padding (float check)', async () => {
    const g = new OnnxGraphBuilder('conv13');
    g.input('x1', 'float', [2, 3, 9]);
    g.input('x3', 'float', [1, 2, 4, 4, 3]);
    g.initializer('w1', 'float', [2, 3, 3], rnd(18));
    g.initializer('w3', 'float', [3, 2, 2, 2, 2], rnd(48));
    g.initializer('b3', 'float', [3], rnd(3));
    g.node('Conv', ['x1', 'w1'], ['y1'], { pads: [2, 1], strides: [2] });
    g.node('Conv', ['x3', 'w3', 'b3'], ['y3'], { auto_pad: 'SAME_UPPER' });
    g.node('AveragePool', ['x1'], ['p1'], { kernel_shape: [3], pads: [1, 1], count_include_pad: 1 });
    g.node('MaxPool', ['x1'], ['p2'], { kernel_shape: [3], pads: [1, 1], strides: [2], dilations: [2] });
    g.node('AveragePool', ['x3'], ['p3'], { kernel_shape: [3, 3, 2], pads: [1, 1, 0, 1, 1, 1] });
    g.output('y1', 'float').output('y3', 'float').output('p1', 'float').output('p2', 'float').output('p3', 'float');
    await checkOpModel(g.encode());
  });

  it('ConvTranspose (strides, pads, output_padding, groups, bias) and Conv of computed weights: circuit == reference', async () => {
    const g = new OnnxGraphBuilder('convt');
    g.input('x', 'float', [1, 2, 3, 3]);
    g.input('k', 'float', [1, 2, 2, 2]);
    g.initializer('w', 'float', [2, 2, 3, 3], rnd(36));
    g.initializer('bias', 'float', [4], rnd(4));
    g.initializer('w1', 'float', [2, 3, 2], rnd(12));
    g.input('x1', 'float', [1, 2, 4]);
    g.node('ConvTranspose', ['x', 'w', 'bias'], ['y'], { strides: [2, 2], pads: [1, 0, 1, 1], output_padding: [1, 0], group: 2 });
    g.node('Conv', ['x', 'k'], ['z']);
    g.node('ConvTranspose', ['x1', 'w1'], ['y1'], { strides: [3], dilations: [2] });
    g.output('y', 'float').output('z', 'float').output('y1', 'float');
    await checkOpModel(g.encode(), { circuit: true, artifactsDir });
  });

  it('a Conv + Relu costs no more than the Conv alone', async () => {
    const build = (relu: boolean) => {
      const g = new OnnxGraphBuilder('convrelu');
      g.input('x', 'float', [1, 2, 6, 6]);
      g.initializer('w', 'float', [3, 2, 3, 3], rnd(54));
      g.initializer('bias', 'float', [3], rnd(3));
      const [c] = g.node('Conv', ['x', 'w', 'bias']);
      const [r] = relu ? g.node('Relu', [c]) : [c];
      g.node('Flatten', [r], ['y']);
      g.output('y', 'float');
      return g.encode();
    };
    const plain = await checkOpModel(build(false));
    const fused = await checkOpModel(build(true));
    expect(fused.graph.nodes.map((n) => n.op)).toEqual(['Conv', 'Flatten']);
    expect(costOf(fused.program).total).toBeLessThanOrEqual(costOf(plain.program).total);
  });
});

describe('element-wise arithmetic lowering', () => {
  it('Add/Sub/Mul/Div/Neg/Sum/Mean with broadcasting, constants and computed operands: circuit == reference', async () => {
    const g = new OnnxGraphBuilder('arith');
    g.input('x', 'float', [2, 3]);
    g.input('y', 'float', [3]);
    g.input('p', 'float', [2, 1]);
    g.initializer('c', 'float', [2, 3], rnd(6));
    g.initializer('s', 'float', [], [-0.37]);
    g.initializer('cd', 'float', [3], [0.5, -2, 3]);
    g.node('Add', ['x', 'y'], ['add']);
    g.node('Sub', ['c', 'x'], ['sub']);
    g.node('Mul', ['x', 's'], ['muls']);
    g.node('Mul', ['c', 'x'], ['mulc']);
    g.node('Mul', ['x', 'y'], ['mulxy']);
    g.node('Div', ['x', 'p'], ['divxp']);
    g.node('Div', ['x', 'cd'], ['divc']);
    g.node('Div', ['x', 's'], ['divs']);
    g.node('Neg', ['y'], ['neg']);
    g.node('Sum', ['x', 'y', 'c', 'p'], ['sum']);
    g.node('Mean', ['x', 'y', 'p'], ['mean']);
    // Internal values (requantized): a product and a quotient feeding an Add.
    const [m2] = g.node('Mul', ['x', 'p']);
    const [d2] = g.node('Div', ['y', 'p']);
    g.node('Add', [m2, d2], ['mixed']);
    for (const o of ['add', 'sub', 'muls', 'mulc', 'mulxy', 'divxp', 'divc', 'divs', 'neg', 'sum', 'mean', 'mixed']) g.output(o, 'float');
    const bytes = g.encode();
    const { program } = await checkOpModel(bytes, { samples: samplesFor(bytes, { p: [0.5, 2] }), circuit: true, artifactsDir });
    // A scalar constant Mul/Div and Add/Sub/Neg/Sum/Mean of these operands cost nothing.
    for (const n of ['add_0', 'sub_1', 'mul_2', 'div_7', 'neg_8', 'sum_9', 'mean_10']) expect(nodeCost(program, n), n).toBe(0);
  });

  const intModel = (ops: string[]) => {
    const g = new OnnxGraphBuilder('intarith');
    g.input('a', 'int64', [2, 4]);
    g.input('b', 'int64', [4]);
    g.initializer('k', 'int64', [4], [3, -2, 5, 1]);
    g.initializer('ax', 'int64', [1], [0]);
    const all: Record<string, () => string[]> = {
      add: () => g.node('Add', ['a', 'b'], ['add']),
      sub: () => g.node('Sub', ['a', 'k'], ['sub']),
      mul: () => g.node('Mul', ['a', 'b'], ['mul']),
      mulk: () => g.node('Mul', ['a', 'k'], ['mulk']),
      divk: () => g.node('Div', ['a', 'k'], ['divk']),
      divb: () => g.node('Div', ['a', 'b'], ['divb']),
      rmean: () => g.node('ReduceMean', ['a'], ['rmean'], { axes: [1], keepdims: 0 }),
      rsum: () => g.node('ReduceSum', ['a', 'ax'], ['rsum']),
    };
    for (const o of ops) g.output(all[o]()[0], 'int64');
    const bytes = g.encode();
    return { bytes, samples: samplesFor(bytes, { a: [-9, 9], b: [1, 7] }) };
  };

  it('int Add/Sub/Mul, Div by a computed divisor (truncation toward zero), ReduceSum: exact, circuit == reference', async () => {
    const { bytes, samples } = intModel(['add', 'sub', 'mul', 'mulk', 'divb', 'rsum']);
    const { relError } = await checkOpModel(bytes, { samples, tolerance: 0, circuit: true, artifactsDir });
    expect(relError).toBe(0);
  });

  // Reference only: with a constant divisor circom folds part of DivFloor's divisor range check, so the
  // r1cs has fewer constraints than the gadget's stated count (gadgets.ts), which checkOpModel compares.
  it('int Div by constants (negative, 1) and ReduceMean truncate toward zero: exact', async () => {
    const { bytes, samples } = intModel(['divk', 'rmean']);
    expect((await checkOpModel(bytes, { samples, tolerance: 0 })).relError).toBe(0);
  });
});

describe('normalization and reduction lowering', () => {
  it('BatchNormalization (not folded), ReduceSum, ReduceMean: circuit == reference', async () => {
    const g = new OnnxGraphBuilder('bn');
    g.input('x', 'float', [1, 3, 4, 4]);
    g.initializer('sc', 'float', [3], [1.5, -0.2, 0.05]);
    g.initializer('bb', 'float', [3], rnd(3));
    g.initializer('mu', 'float', [3], rnd(3));
    g.initializer('var', 'float', [3], [0.5, 2, 1]);
    const [bn] = g.node('BatchNormalization', ['x', 'sc', 'bb', 'mu', 'var'], ['bn'], { epsilon: f(1e-3) });
    g.node('ReduceSum', [bn, g.initializer('axes', 'int64', [2], [2, 3])], ['rs']);
    g.node('ReduceMean', ['x'], ['rm'], { axes: [1], keepdims: 1 });
    g.output('bn', 'float').output('rs', 'float').output('rm', 'float');
    const { program } = await checkOpModel(g.encode(), { circuit: true, artifactsDir });
    expect(nodeCost(program, 'reducemean_2')).toBe(0);
  });

  it('InstanceNormalization: within 2% (the 1/sqrt lookup over the calibrated variance range), circuit == reference', async () => {
    const g = new OnnxGraphBuilder('in');
    g.input('x', 'float', [1, 2, 3, 4]);
    g.initializer('sc', 'float', [2], [0.7, -1.3]);
    g.initializer('bb', 'float', [2], [0.2, 0.1]);
    g.node('InstanceNormalization', ['x', 'sc', 'bb'], ['y'], { epsilon: f(1e-5) });
    g.output('y', 'float');
    await checkOpModel(g.encode(), { circuit: true, artifactsDir });
  });

  it('LayerNormalization over the last axis and over the last two (Scale broadcast, no B): within 2%, circuit == reference', async () => {
    const g = new OnnxGraphBuilder('ln');
    g.input('x', 'float', [1, 3, 6]);
    g.initializer('sc', 'float', [6], [0.7, -1.3, 1, 0.5, 2, -0.4]);
    g.initializer('bb', 'float', [6], [0.2, 0.1, 0, -0.3, 0.05, 1]);
    g.initializer('s2', 'float', [1, 6], [1, 0.9, 1.1, -1, 0.8, 1.2]);
    g.node('LayerNormalization', ['x', 'sc', 'bb'], ['a'], { axis: -1, epsilon: f(1e-5) });
    g.node('LayerNormalization', ['x', 's2'], ['b'], { axis: 1, epsilon: f(1e-3) });
    g.output('a', 'float');
    g.output('b', 'float');
    const { program } = await checkOpModel(g.encode(), { circuit: true, artifactsDir, range: [-3, 3] });
    // One 1/sqrt lookup per group: 3 rows for axis -1, 1 for axis 1.
    expect(program.prims.filter((p) => p.kind === 'lookup').length).toBe(4);
  });
});

describe('refusals', () => {
  const divModel = (dtype: 'float' | 'int64') => {
    const g = new OnnxGraphBuilder('div');
    g.input('x', dtype, [3]);
    g.input('y', dtype, [3]);
    g.node('Div', ['x', 'y'], ['q']);
    g.output('q', dtype);
    return g.encode();
  };
  it('a float divisor that is not > 0 on the calibration data', async () => {
    await expect(checkOpModel(divModel('float'))).rejects.toThrow(/div.*divisor 'y' is not positive on all calibration data/);
  });
  it('an int divisor that is not >= 1 on the calibration data', async () => {
    const bytes = divModel('int64');
    const samples = [
      new Map([
        ['x', Float64Array.of(5, -3, 2)],
        ['y', Float64Array.of(-2, 1, 3)],
      ]),
    ];
    await expect(checkOpModel(bytes, { samples })).rejects.toThrow(/integer divisor 'y' is not >= 1/);
  });
  it('division by a constant 0', async () => {
    const g = new OnnxGraphBuilder('div0');
    g.input('x', 'float', [2]);
    g.initializer('z', 'float', [2], [1, 0]);
    g.node('Div', ['x', 'z'], ['q']);
    g.output('q', 'float');
    await expect(checkOpModel(g.encode())).rejects.toThrow(/division by a constant 0/);
  });
  it('BatchNormalization with computed statistics', async () => {
    const g = new OnnxGraphBuilder('bnc');
    g.input('x', 'float', [1, 2, 2]);
    g.input('m', 'float', [2]);
    g.initializer('one', 'float', [2], [1, 1]);
    g.initializer('zero', 'float', [2], [0, 0]);
    g.node('BatchNormalization', ['x', 'one', 'zero', 'm', 'one'], ['y']);
    g.output('y', 'float');
    await expect(checkOpModel(g.encode())).rejects.toThrow(/BatchNormalization needs constant scale, bias, mean and variance/);
  });
});
