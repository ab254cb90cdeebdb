import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { programCosts } from '../src/graph/cost.js';
import { importOnnxGraph } from '../src/graph/onnx.js';
import { runPasses } from '../src/graph/passes/index.js';
import { lowerGraph, type Sample } from '../src/graph/quant/lower.js';
import { dequantizeOutputs, quantizeInputs, runProgram } from '../src/graph/quant/reference.js';
import { checkOpModel, randomSamples } from './helpers/graphCheck.js';
import { expectZkinferError } from './helpers/errors.js';
import { OnnxGraphBuilder, f, type AttrValueSpec } from './helpers/onnxGraph.js';

const artifactsDir = mkdtempSync(path.join(tmpdir(), 'zkinfer-nonlinear-'));
afterAll(() => rmSync(artifactsDir, { recursive: true, force: true }));

let seed = 11;
const rnd = (n: number, s = 1) => Array.from({ length: n }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 2 * s);

/** x [1, n] -> op -> y, with optional constant extra inputs. */
function unaryModel(op: string, attrs: Record<string, AttrValueSpec> = {}, opts: { n?: number; opset?: number; extra?: (g: OnnxGraphBuilder) => string[]; out?: number[] } = {}) {
  const n = opts.n ?? 8;
  const g = new OnnxGraphBuilder(op, { opset: opts.opset ?? 17 });
  g.input('x', 'float', [1, n]);
  g.node(op, ['x', ...(opts.extra?.(g) ?? [])], ['y'], attrs);
  g.output('y', 'float', opts.out ?? [1, n]);
  return g.encode();
}

const samplesFor = (bytes: Uint8Array, count: number, lo: number, hi: number, s = 5): Sample[] => randomSamples(runPasses(importOnnxGraph(bytes, 'op')), count, lo, hi, s);

/** Samples on the grid of `scale` (so the integer input is the float input exactly). */
function gridSamples(bytes: Uint8Array, count: number, lo: number, hi: number, scale: number): Sample[] {
  return samplesFor(bytes, count, lo, hi).map((m) => new Map([...m].map(([k, v]) => [k, v.map((x) => Math.round(x / scale) * scale)])));
}

describe('piecewise-linear ops: exact clamps', () => {
  it('Relu, LeakyRelu, PRelu (per-channel constant and computed slope), Abs, Clip (both, min only), HardSigmoid, HardSwish: circuit == reference', async () => {
    const g = new OnnxGraphBuilder('pwl');
    g.input('x', 'float', [2, 3, 4]);
    g.input('s', 'float', [4]);
    g.initializer('slope', 'float', [3, 1], [0.25, -0.1, 1.5]);
    g.initializer('lo', 'float', [], [-0.5]);
    g.initializer('hi', 'float', [], [1.2]);
    g.node('Relu', ['x'], ['relu']);
    g.node('LeakyRelu', ['x'], ['leaky'], { alpha: f(0.1) });
    g.node('PRelu', ['x', 'slope'], ['prelu']);
    g.node('PRelu', ['x', 's'], ['prelu2']);
    g.node('Abs', ['x'], ['abs']);
    g.node('Clip', ['x', 'lo', 'hi'], ['clip']);
    g.node('Clip', ['x', 'lo'], ['clipmin']);
    g.node('HardSigmoid', ['x'], ['hsig'], { alpha: f(0.3), beta: f(0.4) });
    g.node('HardSwish', ['x'], ['hswish']);
    for (const o of ['relu', 'leaky', 'prelu', 'prelu2', 'abs', 'clip', 'clipmin', 'hsig', 'hswish']) g.output(o, 'float', [2, 3, 4]);
    const { program } = await checkOpModel(g.encode(), { circuit: true, artifactsDir, range: [-3, 3] });
    const costs = programCosts(program).nodes;
    // Relu, LeakyRelu, Abs and a constant-slope PRelu: one 13-constraint clamp per element (12-bit input).
    for (const op of ['relu_0', 'leakyrelu_1', 'prelu_2', 'abs_4']) expect(costs.find((c) => c.node === op)!.constraints, op).toBe(24 * 13);
  });

  it('each op alone within 2% of onnxruntime on [-3, 3] (own output scale)', async () => {
    const cases: Array<[string, Record<string, AttrValueSpec>, ((g: OnnxGraphBuilder) => string[])?]> = [
      ['Relu', {}],
      ['LeakyRelu', {}],
      ['LeakyRelu', { alpha: f(0.0137) }],
      ['LeakyRelu', { alpha: f(1.7) }],
      ['PRelu', {}, (g) => [g.initializer('s', 'float', [8], rnd(8, 0.6))]],
      ['Abs', {}],
      ['Clip', {}, (g) => [g.initializer('lo', 'float', [], [0.4]), g.initializer('hi', 'float', [], [0.8])]],
      ['Clip', {}, (g) => ['', g.initializer('hi', 'float', [], [-0.3])]],
      ['HardSigmoid', {}],
      ['HardSwish', {}],
    ];
    for (const [op, attrs, extra] of cases) await checkOpModel(unaryModel(op, attrs, { extra }), { range: [-3, 3], count: 16 });
  });

  it('Clip before opset 11 (attributes) and on ints; Relu of a non-negative value is free', async () => {
    await checkOpModel(unaryModel('Clip', { min: f(-1), max: f(0.5) }, { opset: 10 }), { range: [-3, 3] });
    const g = new OnnxGraphBuilder('ints');
    g.input('x', 'int32', [1, 6]);
    g.initializer('lo', 'int32', [], [-3]);
    g.initializer('hi', 'int32', [], [4]);
    g.node('Clip', ['x', 'lo', 'hi'], ['c']);
    const [r] = g.node('Relu', ['x']);
    g.node('Relu', [r], ['rr']);
    g.output('c', 'int32', [1, 6]).output('rr', 'int32', [1, 6]);
    const { program } = await checkOpModel(g.encode(), { range: [-9, 9], tolerance: 0 });
    expect(programCosts(program).nodes.map((n) => n.node)).not.toContain('relu_2');
  });
});

describe('lookups', () => {
  const lookups: Array<[string, Record<string, AttrValueSpec>, [number, number], number?]> = [
    ['Elu', {}, [-3, 3]],
    ['Elu', { alpha: f(0.5) }, [-3, 3]],
    ['Celu', { alpha: f(0.7) }, [-3, 3]],
    ['Selu', {}, [-3, 3]],
    ['Sigmoid', {}, [-3, 3]],
    ['Tanh', {}, [-3, 3]],
    ['Softplus', {}, [-3, 3]],
    ['Softsign', {}, [-3, 3]],
    ['Erf', {}, [-3, 3]],
    ['Gelu', {}, [-3, 3], 20],
    ['Gelu', { approximate: 'tanh' }, [-3, 3], 20],
    ['Exp', {}, [-3, 3]],
    ['Sin', {}, [-3, 3]],
    ['Cos', {}, [-3, 3]],
    // Steep near 0: on [0.5, 3] (see the Sqrt / Log precision note in ops/nonlinear.ts).
    ['Log', {}, [0.5, 3]],
    ['Sqrt', {}, [0.5, 3]],
    ['Reciprocal', {}, [0.5, 3]],
  ];
  it('each lookup op within 2% of onnxruntime', async () => {
    for (const [op, attrs, range, opset] of lookups) {
      const bytes = unaryModel(op, attrs, { opset });
      const r = await checkOpModel(bytes, { samples: samplesFor(bytes, 16, ...range), tolerance: 0.02 });
      expect(r.relError, `${op} ${JSON.stringify(attrs)}`).toBeLessThanOrEqual(0.02);
    }
  });

  it('lookups in one circuit (graph outputs at activation bits + 4, an intermediate at 8): circuit == reference', async () => {
    const g = new OnnxGraphBuilder('lk', { opset: 20 });
    g.input('x', 'float', [1, 4]);
    for (const op of ['Sigmoid', 'Tanh', 'Exp', 'Erf', 'Gelu', 'Softplus', 'Elu', 'Sin']) g.node(op, ['x'], [op.toLowerCase()]);
    const [t] = g.node('Tanh', ['x']);
    g.node('Sigmoid', [t], ['sig_tanh']); // an 8-bit intermediate read directly by a second table
    for (const o of ['sigmoid', 'tanh', 'exp', 'erf', 'gelu', 'softplus', 'elu', 'sin', 'sig_tanh']) g.output(o, 'float', [1, 4]);
    const bytes = g.encode();
    const { program } = await checkOpModel(bytes, { samples: samplesFor(bytes, 6, -3, 3), circuit: true, artifactsDir });
    const sig = program.outputs.find((o) => o.name === 'sigmoid')!;
    expect(sig.scale).toBeLessThan(1 / 2 ** 11);
  });

  it('Log, Sqrt, Reciprocal of values whose bounds include <= 0 give the clamped table value', async () => {
    for (const op of ['Log', 'Sqrt', 'Reciprocal']) {
      const bytes = unaryModel(op, {}, { n: 4 });
      const graph = runPasses(importOnnxGraph(bytes, 'op'));
      const calib = samplesFor(bytes, 8, 0.2, 3);
      const xmin = Math.min(...calib.flatMap((m) => Array.from(m.get('x')!)));
      const program = lowerGraph(graph, calib);
      expect(
        program.prims.some((p) => p.kind === 'lookup'),
        op,
      ).toBe(true);
      // x = 0 is a valid input (the input range starts at 0): a finite, clamped table value.
      const zero = new Map([['x', new Float64Array(4)]]);
      const [out] = dequantizeOutputs(program, runProgram(program, quantizeInputs(program, zero)));
      const top = Math.max(...out.values);
      expect(out.values.every(Number.isFinite), op).toBe(true);
      if (op === 'Log') expect(top, op).toBeLessThanOrEqual(Math.log(xmin)); // log 0 -> the range's bottom
      if (op === 'Reciprocal') expect(top, op).toBeGreaterThanOrEqual(1 / xmin); // 1/0 -> the range's top
    }
  });
});

describe('rounding, sign, Mod: exact in integers', () => {
  const scale = 2 ** -6; // a dyadic scale: Round has exact ties (x.5) on this grid
  const exactCheck = (bytes: Uint8Array, circuit = false, lo = -3, hi = 3) =>
    checkOpModel(bytes, { samples: gridSamples(bytes, 8, lo, hi, scale), lower: { inputs: { x: { scale } } }, tolerance: 1e-9, circuit, artifactsDir });

  it('Floor, Ceil, Round (ties to even), Sign, Mod (fmod, per-element divisors): exact, circuit == reference', async () => {
    const g = new OnnxGraphBuilder('round');
    g.input('x', 'float', [1, 8]);
    g.initializer('c', 'float', [8], [0.75, -1.5, 0.5, 2, 0.25, -0.375, 1, 3]);
    for (const op of ['Floor', 'Ceil', 'Round', 'Sign']) g.node(op, ['x'], [op.toLowerCase()]);
    g.node('Mod', ['x', 'c'], ['mod'], { fmod: 1 });
    for (const o of ['floor', 'ceil', 'round', 'sign', 'mod']) g.output(o, 'float', [1, 8]);
    const bytes = g.encode();
    const samples = gridSamples(bytes, 8, -3, 3, scale);
    samples[0].set('x', Float64Array.from([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0, -3]));
    await checkOpModel(bytes, { samples, lower: { inputs: { x: { scale } } }, tolerance: 1e-9, circuit: true, artifactsDir });
  });

  it('each alone: exact on a grid at a non-dyadic scale too', async () => {
    for (const s of [scale, 0.0173]) {
      for (const [op, attrs, extra] of [
        ['Floor', {}],
        ['Ceil', {}],
        ['Round', {}],
        ['Sign', {}],
        ['Mod', { fmod: 1 }, (g: OnnxGraphBuilder) => [g.initializer('c', 'float', [], [0.7])]],
      ] as Array<[string, Record<string, AttrValueSpec>, ((g: OnnxGraphBuilder) => string[])?]>) {
        const bytes = unaryModel(op, attrs, { extra });
        // Mod with a non-dyadic divisor: r = x - c t at a unit s / 2^12 (error <= |t| s / 2^13).
        await checkOpModel(bytes, { samples: gridSamples(bytes, 8, -3, 3, s), lower: { inputs: { x: { scale: s } } }, tolerance: op === 'Mod' ? 1e-3 : 1e-6 });
      }
    }
    await exactCheck(unaryModel('Floor'), false, 0, 3); // non-negative input
  });

  it('integer Mod (fmod 0, Python sign) and integer Sign, Abs: exact', async () => {
    const g = new OnnxGraphBuilder('imod');
    g.input('x', 'int64', [2, 4]);
    g.initializer('c', 'int64', [4], [3, -2, 5, 7]);
    g.node('Mod', ['x', 'c'], ['m']);
    g.node('Mod', ['x', 'c'], ['fm'], { fmod: 1 });
    g.node('Sign', ['x'], ['s']);
    g.node('Abs', ['x'], ['a']);
    for (const o of ['m', 'fm', 's', 'a']) g.output(o, 'int64', [2, 4]);
    await checkOpModel(g.encode(), { range: [-20, 20], tolerance: 0, circuit: true, artifactsDir });
  });
});

describe('Pow with a constant exponent', () => {
  const powModel = (e: number, dims: number[] = []) =>
    unaryModel(
      'Pow',
      {},
      { out: dims.length ? [2, 1, 8] : undefined, extra: (g) => [g.initializer('e', 'float', dims, dims.length ? Array(dims.reduce((a, b) => a * b, 1)).fill(e) : [e])] },
    );

  it('exponents 2 and 3 are exact products (1 and 2 constraints), 2 feeding a table is requantized: circuit == reference', async () => {
    const g = new OnnxGraphBuilder('pow');
    g.input('x', 'float', [1, 6]);
    g.initializer('two', 'float', [], [2]);
    g.initializer('three', 'float', [1, 1], [3]);
    g.node('Pow', ['x', 'two'], ['sq']);
    g.node('Pow', ['x', 'three'], ['cube']);
    const [q] = g.node('Pow', ['x', 'two']);
    g.node('Sigmoid', [q], ['sig']);
    for (const o of ['sq', 'cube', 'sig']) g.output(o, 'float', [1, 6]);
    const { program } = await checkOpModel(g.encode(), { range: [-3, 3], circuit: true, artifactsDir });
    const costs = programCosts(program).nodes;
    expect(costs.find((c) => c.node === 'pow_0')!.constraints).toBe(6);
    expect(costs.find((c) => c.node === 'pow_1')!.constraints).toBe(12);
  });

  it('exponents 1, 0, 0.5, 1.7, -1, 4 and a broadcast exponent; an int Pow', async () => {
    for (const e of [1, 0, 2, 4]) await checkOpModel(powModel(e), { range: [-3, 3] });
    for (const e of [0.5, 1.7, -1]) await checkOpModel(powModel(e), { range: [0.5, 3] });
    await checkOpModel(powModel(3, [2, 1, 1]), { range: [-2, 2] });
    const g = new OnnxGraphBuilder('ipow');
    g.input('x', 'int64', [1, 5]);
    g.initializer('e', 'int64', [], [3]);
    g.node('Pow', ['x', 'e'], ['y']);
    g.output('y', 'int64', [1, 5]);
    await checkOpModel(g.encode(), { range: [-9, 9], tolerance: 0 });
  });
});

describe('refusals', () => {
  const lowerOf = (bytes: Uint8Array) => () => {
    const graph = runPasses(importOnnxGraph(bytes, 'op'));
    return lowerGraph(graph, samplesFor(bytes, 2, 0.5, 2));
  };
  const twoInputs = (op: string, attrs: Record<string, AttrValueSpec> = {}, eDims = [1, 4]) => {
    const g = new OnnxGraphBuilder('r');
    g.input('x', 'float', [1, 4]);
    g.input('e', 'float', eDims);
    g.node(op, ['x', 'e'], ['y'], attrs, { name: 'the_node' });
    g.output('y', 'float', [1, 4]);
    return g.encode();
  };

  it('Pow with a computed exponent, Mod with a computed or zero divisor, Clip with a computed bound', () => {
    expectZkinferError(lowerOf(twoInputs('Pow')), 'UNSUPPORTED_LAYER', 'the_node', 'computed exponent');
    expectZkinferError(lowerOf(twoInputs('Mod', { fmod: 1 })), 'UNSUPPORTED_LAYER', 'the_node', 'computed divisor');
    expectZkinferError(lowerOf(unaryModel('Mod', { fmod: 1 }, { extra: (g) => [g.initializer('c', 'float', [4], [1, 0, 2, 3])], n: 4 })), 'UNSUPPORTED_LAYER', 'mod_0', 'zero');
    expectZkinferError(lowerOf(twoInputs('Clip', {}, [])), 'UNSUPPORTED_LAYER', 'the_node', 'must be a constant');
    expectZkinferError(lowerOf(unaryModel('Pow', {}, { extra: (g) => [g.initializer('e', 'float', [4], [1, 2, 2, 2])], n: 4 })), 'UNSUPPORTED_LAYER', 'one value');
  });
});
