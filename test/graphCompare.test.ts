import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { importOnnxGraph } from '../src/graph/onnx.js';
import { runPasses } from '../src/graph/passes/index.js';
import { lowerGraph } from '../src/graph/quant/lower.js';
import { programCosts } from '../src/graph/cost.js';
import { OnnxGraphBuilder, f } from './helpers/onnxGraph.js';
import { checkOpModel, randomSamples } from './helpers/graphCheck.js';

const artifactsDir = mkdtempSync(path.join(tmpdir(), 'zkinfer-compare-'));
afterAll(() => rmSync(artifactsDir, { recursive: true, force: true }));

let seed = 11;
const rnd = (n: number, s = 1) => Array.from({ length: n }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 2 * s);

/** Lower a model on random samples and return the error (for refusals). */
function lowerOnly(bytes: Uint8Array, samples?: ReturnType<typeof randomSamples>) {
  const graph = runPasses(importOnnxGraph(bytes, 'op'));
  return lowerGraph(graph, samples ?? randomSamples(graph, 4));
}

describe('comparison, logic and Where lowering', () => {
  it('Less/LessOrEqual/Greater/GreaterOrEqual/Equal (float and int, constants, broadcasting), Not/And/Or/Xor, Where: exact, circuit == reference', async () => {
    const g = new OnnxGraphBuilder('compare');
    g.input('x', 'float', [2, 3]);
    g.input('y', 'float', [1, 3]);
    g.input('i', 'int64', [2, 3]);
    g.input('j', 'int64', [3]);
    g.initializer('c', 'float', [3], rnd(3));
    g.initializer('c2', 'float', [], [0.3]);
    g.initializer('ic', 'int64', [2, 1], [0, -1]);
    const [lt] = g.node('Less', ['x', 'y']);
    const [le] = g.node('LessOrEqual', ['x', 'c']);
    const [gt] = g.node('Greater', ['c2', 'x']);
    const [ge] = g.node('GreaterOrEqual', ['i', 'ic']);
    const [eq] = g.node('Equal', ['i', 'j']);
    const [eqb] = g.node('Equal', [lt, le]);
    g.node('Not', [lt], ['not']);
    g.node('And', [lt, ge], ['and']);
    g.node('Or', [gt, eq], ['or']);
    g.node('Xor', [le, eqb], ['xor']);
    g.node('Identity', [gt], ['gt']);
    g.node('Where', [lt, 'x', 'y'], ['w']);
    g.node('Where', [ge, 'i', 'j'], ['wi']);
    for (const o of ['not', 'and', 'or', 'xor', 'gt']) g.output(o, 'bool', [2, 3]);
    g.output('w', 'float', [2, 3]);
    g.output('wi', 'int64', [2, 3]);
    const { program } = await checkOpModel(g.encode(), { circuit: true, artifactsDir, count: 6 });
    const kinds = program.prims.map((p) => p.kind);
    // x < y (computed both sides), x <= c and c2 > x (thresholds), i >= ic (threshold), i == j (2 each).
    expect(kinds.filter((k) => k === 'less').length).toBe(6 + 6 + 6 + 6);
    expect(kinds.filter((k) => k === 'equal').length).toBe(6);
  });

  it('comparisons against constants are exact thresholds: no constraint when the bounds decide', () => {
    const g = new OnnxGraphBuilder('thresholds');
    g.input('x', 'float', [4]);
    g.initializer('big', 'float', [], [1000]);
    g.node('Less', ['x', 'big'], ['a']);
    g.node('Greater', ['x', 'big'], ['b']);
    g.output('a', 'bool', [4]);
    g.output('b', 'bool', [4]);
    const program = lowerOnly(g.encode());
    expect(program.prims.length).toBe(0);
    expect(program.outputs[0].elems.every((e) => e.bias === 1 && e.terms.length === 0)).toBe(true);
  });

  it('Where: constant x and y are linear in the condition; a broadcast of three; constant condition folds', async () => {
    const g = new OnnxGraphBuilder('where');
    g.input('x', 'float', [2, 1, 3]);
    g.input('y', 'float', [4, 1]);
    g.initializer('t', 'float', [], [0.25]);
    g.initializer('k1', 'float', [], [1.5]);
    g.initializer('k2', 'float', [3], [-2, 0.5, 0.75]);
    g.initializer('cc', 'bool', [3], [1, 0, 1]);
    const [c] = g.node('Less', ['x', 't']);
    g.node('Where', [c, 'k1', 'k2'], ['a']);
    g.node('Where', [c, 'x', 'y'], ['b']);
    g.node('Where', ['cc', 'x', 'y'], ['d']);
    g.output('a', 'float', [2, 1, 3]);
    g.output('b', 'float', [2, 4, 3]);
    g.output('d', 'float', [2, 4, 3]);
    const { program } = await checkOpModel(g.encode(), { circuit: true, artifactsDir, count: 6 });
    // Only the computed Where costs products (2 x 4 x 3 elements); k1/k2 are exact at scale 2^-2.
    expect(program.prims.filter((p) => p.kind === 'mul').length).toBe(24);
  });
});

describe('extrema lowering', () => {
  it('Max/Min (variadic, broadcast, constants), ReduceMax/ReduceMin, ArgMax/ArgMin (select_last_index, keepdims, int ties)', async () => {
    const g = new OnnxGraphBuilder('extrema');
    g.input('x', 'float', [2, 3, 4]);
    g.input('y', 'float', [3, 1]);
    g.initializer('c', 'float', [4], rnd(4));
    g.node('Max', ['x', 'y', 'c'], ['mx']);
    g.node('Min', ['x', 'y'], ['mn']);
    g.node('ReduceMax', ['x'], ['rmax'], { axes: [1], keepdims: 0 });
    g.node('ReduceMin', ['x'], ['rmin'], { axes: [0, 2], keepdims: 1 });
    g.output('mx', 'float', [2, 3, 4]);
    g.output('mn', 'float', [2, 3, 4]);
    g.output('rmax', 'float', [2, 4]);
    g.output('rmin', 'float', [1, 3, 1]);
    await checkOpModel(g.encode(), { circuit: true, artifactsDir, count: 6 });
  });

  it('ArgMax/ArgMin on int (ties: first or last index) and float, keepdims 0/1; Min of one input', async () => {
    const g = new OnnxGraphBuilder('args');
    g.input('i', 'int64', [3, 5]);
    g.input('x', 'float', [3, 5]);
    g.node('ArgMax', ['i'], ['a0'], { axis: 1, keepdims: 1 });
    g.node('ArgMax', ['i'], ['a1'], { axis: 1, keepdims: 0, select_last_index: 1 });
    g.node('ArgMin', ['i'], ['a2'], { axis: 0, keepdims: 0 });
    g.node('ArgMin', ['i'], ['a3'], { axis: 0, keepdims: 0, select_last_index: 1 });
    g.node('ArgMax', ['x'], ['a4'], { axis: 0, keepdims: 0 });
    g.node('ReduceMax', ['i'], ['ri'], { keepdims: 0 });
    g.output('a0', 'int64', [3, 1]);
    g.output('a1', 'int64', [3]);
    g.output('a2', 'int64', [5]);
    g.output('a3', 'int64', [5]);
    g.output('a4', 'int64', [5]);
    g.output('ri', 'int64', []);
    // Random ints in [-2, 2]: ties are frequent, so first vs last index is exercised. Indices are exact.
    const { relError } = await checkOpModel(g.encode(), { circuit: true, artifactsDir, count: 8, tolerance: 0 });
    expect(relError).toBe(0);
  });
});

describe('normalisation lowering', () => {
  it('Softmax and LogSoftmax on the last and a middle axis: circuit == reference', async () => {
    const g = new OnnxGraphBuilder('softmax');
    g.input('x', 'float', [2, 4, 3]);
    g.node('Softmax', ['x'], ['s1'], { axis: 1 });
    g.node('Softmax', ['x'], ['s2'], { axis: -1 });
    g.output('s1', 'float', [2, 4, 3]);
    g.output('s2', 'float', [2, 4, 3]);
    await checkOpModel(g.encode(), { circuit: true, artifactsDir, count: 6, range: [-4, 4] });
    const h = new OnnxGraphBuilder('logsoftmax');
    h.input('x', 'float', [2, 4, 3]);
    h.node('LogSoftmax', ['x'], ['l1'], { axis: 1 });
    h.output('l1', 'float', [2, 4, 3]);
    await checkOpModel(h.encode(), { circuit: true, artifactsDir, count: 6, range: [-4, 4] });
  });

  it('Softmax of 10 random logits in [-4, 4] against onnxruntime (precision: the exp table step and 2^-8)', async () => {
    const g = new OnnxGraphBuilder('softmax10');
    g.input('x', 'float', [1, 10]);
    g.node('Softmax', ['x'], ['y'], { axis: 1 });
    g.output('y', 'float', [1, 10]);
    const { relError } = await checkOpModel(g.encode(), { count: 64, range: [-4, 4] });
    expect(relError).toBeLessThan(0.02);
  });

  it('ReduceL1, ReduceL2, ReduceSumSquare, ReduceLogSumExp, ReduceProd over several axes', async () => {
    const g = new OnnxGraphBuilder('reduce');
    g.input('x', 'float', [2, 3, 4]);
    g.node('ReduceL1', ['x'], ['l1'], { axes: [2], keepdims: 0 });
    g.node('ReduceL2', ['x'], ['l2'], { axes: [1], keepdims: 0 });
    g.node('ReduceSumSquare', ['x'], ['ss'], { axes: [0, 2], keepdims: 0 });
    g.output('l1', 'float', [2, 3]);
    g.output('l2', 'float', [2, 4]);
    g.output('ss', 'float', [3]);
    await checkOpModel(g.encode(), { circuit: true, artifactsDir, count: 6 });
    const h = new OnnxGraphBuilder('reduce2');
    h.input('x', 'float', [2, 3, 4]);
    h.node('ReduceLogSumExp', ['x'], ['lse'], { axes: [2], keepdims: 1 });
    h.node('ReduceProd', ['x'], ['p'], { axes: [1], keepdims: 0 });
    h.output('lse', 'float', [2, 3, 1]);
    h.output('p', 'float', [2, 4]);
    await checkOpModel(h.encode(), { circuit: true, artifactsDir, count: 6 });
  });

  it('reductions whose result another node reads are requantized (ReduceL1 -> Relu-free Less)', async () => {
    const g = new OnnxGraphBuilder('reduce3', { opset: 18 });
    g.input('x', 'float', [3, 4]);
    g.initializer('ax', 'int64', [1], [1]);
    const [s] = g.node('ReduceSumSquare', ['x', 'ax'], undefined, { keepdims: 0 });
    const [l] = g.node('ReduceLogSumExp', ['x', 'ax'], undefined, { keepdims: 0 });
    g.node('Max', [s, l], ['y']);
    g.output('y', 'float', [3]);
    await checkOpModel(g.encode(), { count: 6 });
  });
});

describe('Gather with computed indices and Cast of computed values', () => {
  it('a table indexed by an ArgMax (one-hot and lookup), a computed tensor indexed by a computed index, negative indices', async () => {
    const g = new OnnxGraphBuilder('gather');
    g.input('x', 'float', [2, 5]);
    g.initializer('table', 'float', [5, 3], rnd(15));
    g.initializer('classes', 'int64', [5], [7, -3, 2, 9, 0]);
    g.initializer('zero', 'float', [], [0]);
    g.initializer('m1', 'int64', [], [-1]);
    g.initializer('two', 'int64', [], [2]);
    const [a] = g.node('ArgMax', ['x'], undefined, { axis: 1, keepdims: 0 });
    g.node('Gather', ['table', a], ['t'], { axis: 0 });
    g.node('Gather', ['classes', a], ['cls'], { axis: 0 });
    g.node('Gather', ['x', a], ['gx'], { axis: 1 });
    const [c] = g.node('Less', ['x', 'zero']);
    const [neg] = g.node('Where', [c, 'm1', 'two']);
    g.node('Gather', ['classes', neg], ['cn'], { axis: 0 });
    g.output('t', 'float', [2, 3]);
    g.output('cls', 'int64', [2]);
    g.output('gx', 'float', [2, 2]);
    g.output('cn', 'int64', [2, 5]);
    const { program } = await checkOpModel(g.encode(), { circuit: true, artifactsDir, count: 8 });
    expect(program.prims.some((p) => p.kind === 'lookup')).toBe(true);
  });

  it('Cast float -> int (truncation toward zero), float -> bool, int -> bool', async () => {
    const g = new OnnxGraphBuilder('cast');
    g.input('x', 'float', [2, 4]);
    g.input('i', 'int64', [2, 4]);
    g.node('Cast', ['x'], ['xi'], { to: 7 });
    g.node('Cast', ['i'], ['ib'], { to: 9 });
    g.node('Cast', ['xi'], ['xb'], { to: 9 });
    g.output('xi', 'int64', [2, 4]);
    g.output('ib', 'bool', [2, 4]);
    g.output('xb', 'bool', [2, 4]);
    // Inputs in [-3.5, 3.5]: truncation of the dequantized input is exact; a real input within half a
    // quantization step of an integer may still truncate differently from onnxruntime's float.
    const { relError } = await checkOpModel(g.encode(), { circuit: true, artifactsDir, count: 6, range: [-3.5, 3.5], tolerance: 0 });
    expect(relError).toBe(0);
  });
});

describe('refusals', () => {
  it('Gather whose computed indices may leave the axis is refused by name', () => {
    const g = new OnnxGraphBuilder('gatherbad');
    g.input('c', 'bool', [2]);
    g.initializer('table', 'float', [3], [1, 2, 3]);
    g.initializer('five', 'int64', [], [5]);
    g.initializer('zero', 'int64', [], [0]);
    const [idx] = g.node('Where', ['c', 'five', 'zero']);
    g.node('Gather', ['table', idx], ['y'], { axis: 0 }, { name: 'pick' });
    g.output('y', 'float', [2]);
    const graph = runPasses(importOnnxGraph(g.encode(), 'op'));
    const samples = [new Map([['c', Float64Array.of(0, 0)]])];
    expect(() => lowerGraph(graph, samples)).toThrow(/node 'pick' \(Gather\): computed indices may take values in \[0, 5\], outside \[-3, 2\]/);
  });

  it('ReduceL2 of a computed int tensor is refused', () => {
    const g = new OnnxGraphBuilder('l2int');
    g.input('i', 'int64', [2, 3]);
    g.node('ReduceL2', ['i'], ['y'], { axes: [1] }, { name: 'norm' });
    g.output('y', 'int64', [2, 1]);
    expect(() => lowerOnly(g.encode())).toThrow(/node 'norm' \(ReduceL2\).*not supported/);
  });

  it('Gather indices of a non-int dtype are refused', () => {
    const g = new OnnxGraphBuilder('gatherfloat');
    g.input('x', 'float', [3]);
    g.input('b', 'bool', [2]);
    g.node('Gather', ['x', 'b'], ['y'], { axis: 0 }, { name: 'g' });
    g.output('y', 'float', [2]);
    expect(() => runPasses(importOnnxGraph(g.encode(), 'op'))).toThrow(/node 'g' \(Gather\)/);
  });
});

void f;
void programCosts;
