import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OnnxGraphBuilder } from './helpers/onnxGraph.js';
import { checkOpModel, randomSamples } from './helpers/graphCheck.js';
import { requantWidth } from '../src/graph/quant/bounds.js';
import { FOLD_GUARD_BITS } from '../src/graph/quant/builder.js';
import { formBounds, type QProgram } from '../src/graph/quant/lower.js';
import type { AttrValueSpec } from './helpers/onnxGraph.js';
import { importOnnxGraph } from '../src/graph/onnx.js';
import { PASSES, runPasses } from '../src/graph/passes/index.js';
import { programCosts } from '../src/graph/cost.js';
import { lowerGraph } from '../src/graph/quant/lower.js';
import type { Graph } from '../src/graph/ir.js';

/**
 * Cost per activation (issue 15 item 2): sums of computed tensors at unrelated scales are kept as narrow
 * forms when their rounding meets the requantization's precision, or requantized once with the
 * multiplier folded into their weights; circuit == reference and within 2% of onnxruntime throughout.
 */
const artifactsDir = mkdtempSync(path.join(tmpdir(), 'zkinfer-activ-'));
afterAll(() => rmSync(artifactsDir, { recursive: true, force: true }));

let seed = 11;
const rnd = (n: number, s = 1) => Array.from({ length: n }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 2 * s);

const primsOf = (p: QProgram, node: string) => p.prims.filter((q) => q.node === node);

describe('element-wise sums of computed tensors', () => {
  it('x * x + x after a Conv (the LeNet activation) is kept as a narrow form: no requantization at the Add, the pool and the next Conv read it', async () => {
    const g = new OnnxGraphBuilder('poly');
    g.input('x', 'float', [1, 2, 8, 8]);
    g.initializer('w1', 'float', [3, 2, 3, 3], rnd(54, 0.5));
    g.initializer('b1', 'float', [3], rnd(3, 0.2));
    g.initializer('w2', 'float', [4, 3, 3, 3], rnd(108, 0.5));
    g.initializer('w3', 'float', [5, 4], rnd(20));
    const [c] = g.node('Conv', ['x', 'w1', 'b1'], ['c']);
    const [m] = g.node('Mul', [c, c], ['m']);
    const [a] = g.node('Add', [m, c], ['a']);
    const [p] = g.node('AveragePool', [a], ['p'], { kernel_shape: [2, 2], strides: [2, 2] });
    const [c2] = g.node('Conv', [p, 'w2'], ['c2']);
    const [fl] = g.node('Flatten', [c2], ['fl']);
    g.node('Gemm', [fl, 'w3'], ['y'], { transB: 1 });
    g.output('y', 'float', [1, 5]);
    const { program } = await checkOpModel(g.encode(), { circuit: true, artifactsDir });
    expect(primsOf(program, 'add_2')).toEqual([]);
    // conv_4 reads the kept sums directly: 3 channels x 3 x 3 taps x 4 pooled positions x (x * x, x).
    const convIn = primsOf(program, 'conv_4');
    expect(convIn.length).toBe(4);
    for (const q of convIn) expect(q.kind === 'requant' && q.in.terms.length).toBe(3 * 9 * 4 * 2);
    expect(primsOf(program, 'mul_1').length).toBe(3 * 6 * 6);
  });

  it("a sum that must be requantized folds the multiplier into its weights: the shift is the operands' width plus the guard bits", async () => {
    const g = new OnnxGraphBuilder('fold');
    g.input('x', 'float', [1, 6]);
    g.input('z', 'float', [1, 6]);
    g.initializer('k', 'float', [1], [37.3]);
    g.initializer('w', 'float', [3, 6], rnd(18));
    const [zk] = g.node('Mul', ['z', 'k'], ['zk']);
    const [s] = g.node('Add', ['x', zk], ['s']);
    g.node('Gemm', [s, 'w'], ['y'], { transB: 1 });
    g.output('y', 'float', [1, 3]);
    const graph = runPasses(importOnnxGraph(g.encode(), 'op'));
    const { program } = await checkOpModel(g.encode(), { circuit: true, artifactsDir, samples: randomSamples(graph, 8, -1, 1, 3) });
    const adds = primsOf(program, 'add_1');
    expect(adds.length).toBe(6);
    const bounds = formBounds(program);
    for (const q of adds) {
      if (q.kind !== 'requant') throw new Error('expected a requant');
      // Inputs are 12-bit: x and z reach 2^11 each, so s = 12 + guard bits, and M = 1.
      expect([q.mult, q.shift]).toEqual([1, 12 + FOLD_GUARD_BITS]);
      expect(requantWidth(q, bounds(q.in)).n).toBeLessThanOrEqual(10);
    }
  });
});

/** conv (3x3, 2 -> 3 channels, `pads`) [+ Relu] -> MaxPool(pool attrs) -> Flatten -> Gemm. */
function convPool(relu: boolean, pads: number[], pool: Record<string, AttrValueSpec>, pooledSize: number): Uint8Array {
  const g = new OnnxGraphBuilder('convpool');
  g.input('x', 'float', [1, 2, 8, 8]);
  g.initializer('w1', 'float', [3, 2, 3, 3], rnd(54, 0.5));
  g.initializer('b1', 'float', [3], rnd(3, 0.2));
  let [h] = g.node('Conv', ['x', 'w1', 'b1'], ['c'], { pads });
  if (relu) [h] = g.node('Relu', [h], ['r']);
  const [p] = g.node('MaxPool', [h], ['p'], pool);
  const [fl] = g.node('Flatten', [p], ['fl']);
  const n = 3 * pooledSize;
  g.initializer('w2', 'float', [4, n], rnd(4 * n));
  g.node('Gemm', [fl, 'w2'], ['y'], { transB: 1 });
  g.output('y', 'float', [1, 4]);
  return g.encode();
}

const unfused = (bytes: Uint8Array): Graph => {
  let g = importOnnxGraph(bytes, 'op');
  for (const [name, pass] of PASSES) if (name !== 'fuseMaxPool') g = pass(g);
  return g;
};

describe('max pooling on accumulators (fuseMaxPool)', () => {
  it.each<[string, boolean, number[], Record<string, AttrValueSpec>, number, number]>([
    ['Conv + Relu -> MaxPool 2x2', true, [0, 0, 0, 0], { kernel_shape: [2, 2], strides: [2, 2] }, 9, 0],
    ['padded Conv (signed) -> MaxPool 2x2 with padding', false, [1, 1, 1, 1], { kernel_shape: [2, 2], strides: [2, 2], pads: [1, 1, 0, 0] }, 16, 1],
  ])('%s: one requantization per pooled output, fewer constraints, within 2%%, circuit == reference', async (_, relu, pads, pool, pooledSize, singles) => {
    const bytes = convPool(relu, pads, pool, pooledSize);
    const { graph, program } = await checkOpModel(bytes, { circuit: true, artifactsDir });
    expect(graph.nodes.map((n) => n.op)).not.toContain('MaxPool');
    const conv = graph.nodes.find((n) => n.op === 'Conv')!;
    expect(conv.attrs.__pool).toBe('MaxPool');
    const pooled = program.prims.filter((q) => q.node === conv.name);
    expect(pooled.filter((q) => q.kind === 'requant').length).toBe(3 * pooledSize);
    // One comparison chain per window, but none for a padded corner's window of a single element.
    expect(pooled.filter((q) => q.kind === 'max').length).toBe(3 * (pooledSize - singles));
    const plain = unfused(bytes);
    expect(plain.nodes.map((n) => n.op)).toContain('MaxPool');
    const before = programCosts(lowerGraph(plain, randomSamples(plain, 8))).total;
    expect(programCosts(program).total).toBeLessThan(before);
  });

  it('overlapping windows (3x3, stride 1) are not fused: comparing wider values there would cost more', () => {
    const g = runPasses(importOnnxGraph(convPool(true, [1, 1, 1, 1], { kernel_shape: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] }, 64), 'op'));
    expect(g.nodes.map((n) => n.op)).toContain('MaxPool');
  });
});
