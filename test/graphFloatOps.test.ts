import { describe, expect, it } from 'vitest';
import { runOnnx } from '../bench/ort.js';
import { NodeAttrs, type AttrValue, type DType, type Node, type Tensor } from '../src/graph/ir.js';
import { OPS } from '../src/graph/ops/index.js';
import type { OpCtx, OpInput } from '../src/graph/ops/types.js';
import { expectZkinferError } from './helpers/errors.js';
import { rng } from './helpers/models.js';
import { f, OnnxGraphBuilder, type AttrValueSpec, type OnnxDType } from './helpers/onnxGraph.js';

// Each case is a one-node ONNX model run by onnxruntime on random float32 inputs; the OpDef's infer must
// give onnxruntime's output dtypes and shapes, and its evalFloat (float64 on the same float32 inputs)
// onnxruntime's values within 1e-5 relative (plus 1e-6 absolute, for float32 rounding near zero).

const r = rng(7);

interface In {
  dtype: DType;
  shape: number[];
  data?: number[];
  /** An initializer (a constant input for infer) rather than a graph input. */
  constant?: boolean;
  /** Random floats in [lo, hi). */
  range?: [number, number];
}

const F = (shape: number[], range?: [number, number]): In => ({ dtype: 'float', shape, range });
const I = (shape: number[], data?: number[]): In => ({ dtype: 'int', shape, data });
const B = (shape: number[]): In => ({ dtype: 'bool', shape });
const C = (x: In, data?: number[]): In => ({ ...x, constant: true, data: data ?? x.data });
const ints = (v: number[]) => C(I([v.length], v));
const sc = (v: number): In => C({ dtype: 'float', shape: [], data: [v] });

interface Case {
  op: string;
  inputs: Array<In | null>;
  attrs?: Record<string, AttrValueSpec | undefined>;
  opset?: number;
  /** Node outputs (only the first is compared). */
  outputs?: number;
}

const ONNX_TYPE: Record<DType, OnnxDType> = { float: 'float', int: 'int64', bool: 'bool' };

function values(x: In): number[] {
  if (x.data) return x.data;
  const n = x.shape.reduce((a, b) => a * b, 1);
  const [lo, hi] = x.range ?? [-2, 2];
  return Array.from({ length: n }, () => {
    if (x.dtype === 'bool') return r() < 0.5 ? 1 : 0;
    if (x.dtype === 'int') return Math.floor(r() * 11) - 5;
    return Math.fround(lo + r() * (hi - lo));
  });
}

function irAttrs(attrs: Record<string, AttrValueSpec | undefined>): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) out[k] = typeof v === 'object' && v !== null && 'forceFloat' in v ? v.forceFloat : (v as AttrValue);
  return out;
}

function nodeOf(c: Case): { node: Node; ctx: OpCtx } {
  const inputs = c.inputs.map((x, i) => (x ? `in${i}` : ''));
  const outputs = Array.from({ length: c.outputs ?? 1 }, (_, i) => `out${i}`);
  const node: Node = { name: `n_${c.op}`, op: c.op, inputs, outputs, attrs: irAttrs(c.attrs ?? {}) };
  return { node, ctx: { node, attrs: new NodeAttrs(node), opset: c.opset ?? 17 } };
}

function close(a: number, b: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (!Number.isFinite(b)) return a === b;
  return Math.abs(a - b) <= 1e-6 + 1e-5 * Math.abs(b);
}

async function check(c: Case): Promise<void> {
  const def = OPS.get(c.op);
  if (!def) throw new Error(`no OpDef for ${c.op}`);
  const { ctx } = nodeOf(c);
  const data = c.inputs.map((x) => (x ? values(x) : undefined));
  const tensors: Array<Tensor | undefined> = c.inputs.map((x, i) => (x ? { dtype: x.dtype, shape: x.shape, data: Float64Array.from(data[i]!) } : undefined));
  const opInputs: Array<OpInput | undefined> = c.inputs.map((x, i) => (x ? { dtype: x.dtype, shape: x.shape, ...(x.constant ? { value: tensors[i] } : {}) } : undefined));
  const [inferred] = def.infer(ctx, opInputs);

  const g = new OnnxGraphBuilder(c.op, { opset: c.opset ?? 17 });
  const feeds: Record<string, { shape: number[]; data: number[] }> = {};
  c.inputs.forEach((x, i) => {
    if (!x) return;
    if (x.constant) g.initializer(`in${i}`, ONNX_TYPE[x.dtype], x.shape, data[i]!);
    else {
      g.input(`in${i}`, ONNX_TYPE[x.dtype], x.shape);
      feeds[`in${i}`] = { shape: x.shape, data: data[i]! };
    }
  });
  const outs = Array.from({ length: c.outputs ?? 1 }, (_, i) => `out${i}`);
  g.node(c.op, ctx.node.inputs, outs, c.attrs ?? {});
  g.output('out0', ONNX_TYPE[inferred.dtype]);
  const ort = (await runOnnx(g.encode(), feeds)).out0;

  const label = `${c.op} ${JSON.stringify(c.attrs ?? {})} opset ${c.opset ?? 17}`;
  expect(inferred.shape, label).toEqual(ort.shape);
  expect(inferred.dtype, label).toBe(ort.dtype);
  const [mine] = def.evalFloat(ctx, tensors);
  expect(mine.shape, label).toEqual(ort.shape);
  expect(mine.dtype, label).toBe(inferred.dtype);
  const bad = Array.from(mine.data).findIndex((v, i) => !close(v, ort.data[i]));
  expect(bad, `${label}: [${bad}] ${mine.data[bad]} vs onnxruntime ${ort.data[bad]}`).toBe(-1);
}

async function checkAll(cases: Case[]): Promise<void> {
  for (const c of cases) await check(c);
}

/** infer must refuse, naming the node and every fragment. */
function refuses(c: Case, ...fragments: string[]): void {
  const def = OPS.get(c.op)!;
  const { ctx } = nodeOf(c);
  const ins = c.inputs.map((x) =>
    x ? { dtype: x.dtype, shape: x.shape, ...(x.constant ? { value: { dtype: x.dtype, shape: x.shape, data: Float64Array.from(values(x)) } } : {}) } : undefined,
  );
  expectZkinferError(() => def.infer(ctx, ins), 'UNSUPPORTED_LAYER', `n_${c.op}`, ...fragments);
}

const W = (shape: number[]) => C(F(shape));

describe('linear ops match onnxruntime', () => {
  it('Gemm: alpha, beta, transA, transB, C broadcast or absent', () =>
    checkAll([
      { op: 'Gemm', inputs: [F([3, 4]), W([4, 5]), W([5])] },
      { op: 'Gemm', inputs: [F([4, 3]), W([5, 4]), W([3, 1])], attrs: { transA: 1, transB: 1, alpha: 0.5, beta: 2.5 } },
      { op: 'Gemm', inputs: [F([3, 4]), W([5, 4]), W([3, 5])], attrs: { transB: 1, beta: 0.25 } },
      { op: 'Gemm', inputs: [F([3, 4]), W([4, 5]), W([])], attrs: { alpha: 1.5 } },
      { op: 'Gemm', inputs: [F([3, 4]), F([4, 2])] },
    ]));

  it('MatMul: 1-D operands, batched, broadcast batch dims', () =>
    checkAll([
      { op: 'MatMul', inputs: [F([3, 4]), F([4, 5])] },
      { op: 'MatMul', inputs: [F([4]), F([4, 5])] },
      { op: 'MatMul', inputs: [F([2, 3, 4]), F([4])] },
      { op: 'MatMul', inputs: [F([4]), F([4])] },
      { op: 'MatMul', inputs: [F([2, 1, 3, 4]), F([3, 4, 2])] },
      { op: 'MatMul', inputs: [F([3, 4]), F([2, 4, 5])] },
    ]));

  it('Conv 1-D/2-D/3-D: pads, strides, dilations, groups, depthwise, auto_pad, bias', () =>
    checkAll([
      { op: 'Conv', inputs: [F([1, 2, 5, 5]), W([3, 2, 3, 3]), W([3])] },
      { op: 'Conv', inputs: [F([2, 4, 7, 6]), W([6, 2, 3, 2])], attrs: { group: 2, pads: [1, 0, 2, 1], strides: [2, 1], dilations: [1, 2] } },
      { op: 'Conv', inputs: [F([1, 3, 6, 6]), W([3, 1, 3, 3]), W([3])], attrs: { group: 3, kernel_shape: [3, 3] } },
      { op: 'Conv', inputs: [F([1, 2, 7, 8]), W([2, 2, 3, 2])], attrs: { auto_pad: 'SAME_UPPER', strides: [2, 3] } },
      { op: 'Conv', inputs: [F([1, 2, 7, 8]), W([2, 2, 2, 4])], attrs: { auto_pad: 'SAME_LOWER', strides: [2, 1] } },
      { op: 'Conv', inputs: [F([1, 2, 7, 8]), W([2, 2, 3, 3])], attrs: { auto_pad: 'VALID', strides: [2, 2] } },
      { op: 'Conv', inputs: [F([2, 3, 9]), W([4, 3, 3]), W([4])], attrs: { pads: [2, 1], strides: [2], dilations: [2] } },
      { op: 'Conv', inputs: [F([1, 2, 4, 5, 3]), W([2, 1, 2, 3, 2]), W([2])], attrs: { group: 2, pads: [1, 0, 1, 0, 1, 1] } },
    ]));

  it('ConvTranspose: pads, strides, dilations, group, output_padding, output_shape, auto_pad', () =>
    checkAll([
      { op: 'ConvTranspose', inputs: [F([1, 2, 3, 3]), W([2, 3, 3, 3]), W([3])] },
      { op: 'ConvTranspose', inputs: [F([1, 2, 3, 4]), W([2, 2, 3, 2])], attrs: { strides: [2, 3], pads: [1, 0, 0, 1], output_padding: [1, 2] } },
      { op: 'ConvTranspose', inputs: [F([1, 4, 3, 3]), W([4, 1, 2, 2]), W([2])], attrs: { group: 2, dilations: [2, 1] } },
      { op: 'ConvTranspose', inputs: [F([1, 2, 3, 3]), W([2, 2, 3, 3])], attrs: { strides: [2, 2], output_shape: [6, 7] } },
      { op: 'ConvTranspose', inputs: [F([1, 2, 3, 3]), W([2, 2, 3, 3])], attrs: { strides: [2, 2], output_shape: [6, 7], auto_pad: 'SAME_UPPER' } },
      { op: 'ConvTranspose', inputs: [F([1, 2, 3, 3]), W([2, 2, 3, 3])], attrs: { strides: [2, 2], auto_pad: 'SAME_UPPER' } },
      { op: 'ConvTranspose', inputs: [F([1, 2, 3, 3]), W([2, 2, 2, 2])], attrs: { strides: [2, 2], auto_pad: 'SAME_LOWER' } },
      { op: 'ConvTranspose', inputs: [F([1, 2, 3, 4]), W([2, 2, 3, 4])], attrs: { strides: [2, 1], auto_pad: 'SAME_LOWER' } },
      { op: 'ConvTranspose', inputs: [F([1, 2, 3, 4]), W([2, 2, 3, 4])], attrs: { strides: [2, 1], auto_pad: 'SAME_UPPER', dilations: [1, 2] } },
      { op: 'ConvTranspose', inputs: [F([1, 2, 3, 3]), W([2, 2, 3, 3])], attrs: { strides: [2, 2], output_shape: [5, 8], auto_pad: 'SAME_LOWER' } },
      { op: 'ConvTranspose', inputs: [F([1, 1, 2, 3, 2]), W([1, 2, 2, 2, 3])], attrs: { strides: [1, 2, 2], pads: [0, 1, 1, 1, 0, 0] } },
      { op: 'ConvTranspose', inputs: [F([2, 3, 5]), W([3, 2, 3]), W([2])], attrs: { strides: [2], pads: [1, 2] } },
    ]));

  it('BatchNormalization and InstanceNormalization', () =>
    checkAll([
      { op: 'BatchNormalization', inputs: [F([2, 3, 4, 2]), W([3]), W([3]), W([3]), C(F([3], [0.1, 2]))], attrs: { epsilon: 1e-3 } },
      { op: 'BatchNormalization', inputs: [F([2, 3]), W([3]), W([3]), W([3]), C(F([3], [0.1, 2]))] },
      { op: 'BatchNormalization', inputs: [F([1, 2, 5]), W([2]), W([2]), W([2]), C(F([2], [0.1, 2]))], opset: 9 },
      { op: 'InstanceNormalization', inputs: [F([2, 3, 4, 5]), W([3]), W([3])] },
      { op: 'InstanceNormalization', inputs: [F([1, 2, 6]), W([2]), W([2])], attrs: { epsilon: 0.01 } },
    ]));

  it('Add, Sub, Mul, Div with broadcasting, float and int (Div truncates)', () =>
    checkAll([
      ...['Add', 'Sub', 'Mul', 'Div'].flatMap((op) => [
        { op, inputs: [F([2, 3, 4]), F([3, 1])] },
        { op, inputs: [F([1, 4]), F([3, 1])] },
        { op, inputs: [F([]), F([2, 2])] },
      ]),
      ...['Add', 'Sub', 'Mul'].map((op) => ({ op, inputs: [I([2, 3]), I([3])] })),
      { op: 'Div', inputs: [I([2, 4], [7, -7, 9, -9, 0, 5, -1, 13]), I([4], [2, 2, -4, -4])] },
    ]));

  it('Neg, Sum, Mean (variadic)', () =>
    checkAll([
      { op: 'Neg', inputs: [F([3, 2])] },
      { op: 'Neg', inputs: [I([4])] },
      { op: 'Sum', inputs: [F([2, 3])] },
      { op: 'Sum', inputs: [F([2, 3]), F([3]), F([2, 1])] },
      { op: 'Mean', inputs: [F([2, 3]), F([1, 3]), F([2, 1]), F([])] },
      { op: 'Mean', inputs: [F([4])] },
    ]));

  it('ReduceSum and ReduceMean: axes attribute or input, keepdims, noop_with_empty_axes', () =>
    checkAll([
      { op: 'ReduceSum', inputs: [F([2, 3, 4]), ints([1])] },
      { op: 'ReduceSum', inputs: [F([2, 3, 4]), ints([-1, 0])], attrs: { keepdims: 0 } },
      { op: 'ReduceSum', inputs: [F([2, 3, 4])] },
      { op: 'ReduceSum', inputs: [F([2, 3, 4]), ints([])], attrs: { noop_with_empty_axes: 1 } },
      { op: 'ReduceSum', inputs: [F([2, 3, 4])], attrs: { axes: [0, 2] }, opset: 11 },
      { op: 'ReduceSum', inputs: [I([2, 3]), ints([1])] },
      { op: 'ReduceMean', inputs: [F([2, 3, 4])], attrs: { axes: [1], keepdims: 0 } },
      { op: 'ReduceMean', inputs: [I([2, 3], [1, 2, 2, -1, -2, -2])], attrs: { axes: [1] } },
      { op: 'ReduceMean', inputs: [F([2, 3, 4])], opset: 13 },
      { op: 'ReduceMean', inputs: [F([2, 3, 4]), ints([2, 0])], opset: 18 },
      { op: 'ReduceMean', inputs: [F([2, 3, 4])], attrs: { noop_with_empty_axes: 1 }, opset: 18 },
    ]));
});

describe('pools match onnxruntime', () => {
  it('AveragePool: pads, count_include_pad, ceil_mode, strides, auto_pad, 1-D and 2-D', () =>
    checkAll([
      { op: 'AveragePool', inputs: [F([1, 2, 5, 5])], attrs: { kernel_shape: [2, 2] } },
      { op: 'AveragePool', inputs: [F([1, 2, 6, 7])], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2] } },
      { op: 'AveragePool', inputs: [F([1, 2, 6, 7])], attrs: { kernel_shape: [3, 3], pads: [1, 0, 1, 2], strides: [2, 2], count_include_pad: 1 } },
      { op: 'AveragePool', inputs: [F([1, 2, 6, 7])], attrs: { kernel_shape: [3, 2], strides: [2, 2], ceil_mode: 1 } },
      { op: 'AveragePool', inputs: [F([1, 2, 6, 7])], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 3], ceil_mode: 1, count_include_pad: 1 } },
      { op: 'AveragePool', inputs: [F([1, 2, 7, 5])], attrs: { kernel_shape: [2, 3], strides: [2, 2], auto_pad: 'SAME_UPPER' } },
      { op: 'AveragePool', inputs: [F([1, 2, 7, 5])], attrs: { kernel_shape: [2, 3], strides: [2, 2], auto_pad: 'SAME_LOWER', count_include_pad: 1 } },
      { op: 'AveragePool', inputs: [F([2, 3, 9])], attrs: { kernel_shape: [3], strides: [2], pads: [1, 2] } },
      { op: 'AveragePool', inputs: [F([2, 3, 8])], attrs: { kernel_shape: [3], strides: [3], ceil_mode: 1, auto_pad: 'VALID' } },
      { op: 'AveragePool', inputs: [F([1, 1, 7, 7])], attrs: { kernel_shape: [2, 2], dilations: [2, 2], pads: [1, 1, 0, 0] }, opset: 19 },
      { op: 'AveragePool', inputs: [F([1, 1, 5, 5])], attrs: { kernel_shape: [2, 2], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 } },
      { op: 'AveragePool', inputs: [F([1, 1, 5, 5])], attrs: { kernel_shape: [2, 2], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1, count_include_pad: 1 } },
      { op: 'GlobalAveragePool', inputs: [F([2, 3, 4, 5])] },
      { op: 'GlobalAveragePool', inputs: [F([2, 3, 4])] },
    ]));

  it('MaxPool: pads (ignored), strides, dilations, ceil_mode, auto_pad; GlobalMaxPool', () =>
    checkAll([
      { op: 'MaxPool', inputs: [F([1, 2, 5, 5])], attrs: { kernel_shape: [2, 2] } },
      { op: 'MaxPool', inputs: [F([1, 2, 6, 7], [-3, -1])], attrs: { kernel_shape: [3, 3], pads: [1, 1, 2, 2], strides: [2, 2] } },
      { op: 'MaxPool', inputs: [F([1, 2, 7, 7])], attrs: { kernel_shape: [2, 3], dilations: [2, 1], strides: [1, 2] } },
      { op: 'MaxPool', inputs: [F([1, 2, 6, 7])], attrs: { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1, pads: [1, 1, 1, 1] } },
      { op: 'MaxPool', inputs: [F([1, 2, 7, 5])], attrs: { kernel_shape: [2, 3], strides: [2, 2], auto_pad: 'SAME_UPPER' } },
      { op: 'MaxPool', inputs: [F([1, 2, 7, 5])], attrs: { kernel_shape: [3, 2], strides: [2, 2], auto_pad: 'SAME_LOWER' } },
      { op: 'MaxPool', inputs: [F([2, 3, 9])], attrs: { kernel_shape: [3], strides: [2], pads: [1, 1], storage_order: 0 } },
      { op: 'MaxPool', inputs: [F([1, 1, 5, 5])], attrs: { kernel_shape: [2, 2], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 } },
      { op: 'GlobalMaxPool', inputs: [F([2, 3, 4, 5])] },
    ]));
});

describe('non-linear ops match onnxruntime', () => {
  const x = () => F([3, 4], [-4, 4]);
  it('activations with their attributes', () =>
    checkAll([
      { op: 'Relu', inputs: [x()] },
      { op: 'LeakyRelu', inputs: [x()] },
      { op: 'LeakyRelu', inputs: [x()], attrs: { alpha: 0.3 } },
      { op: 'PRelu', inputs: [F([2, 3, 4]), W([3, 1])] },
      { op: 'PRelu', inputs: [F([2, 3, 4]), W([])] },
      { op: 'Elu', inputs: [x()] },
      { op: 'Elu', inputs: [x()], attrs: { alpha: 0.5 } },
      { op: 'Celu', inputs: [x()] },
      { op: 'Celu', inputs: [x()], attrs: { alpha: 2.5 } },
      { op: 'Selu', inputs: [x()] },
      { op: 'Selu', inputs: [x()], attrs: { alpha: 1.5, gamma: 0.75 } },
      { op: 'Sigmoid', inputs: [F([20], [-20, 20])] },
      { op: 'HardSigmoid', inputs: [x()] },
      { op: 'HardSigmoid', inputs: [x()], attrs: { alpha: 0.3, beta: 0.4 } },
      { op: 'HardSwish', inputs: [x()] },
      { op: 'Tanh', inputs: [x()] },
      { op: 'Softplus', inputs: [F([20], [-30, 30])] },
      { op: 'Softsign', inputs: [x()] },
      { op: 'Erf', inputs: [F([40], [-5, 5])] },
      { op: 'Gelu', inputs: [F([30], [-5, 5])], opset: 20 },
      { op: 'Gelu', inputs: [F([30], [-5, 5])], opset: 20, attrs: { approximate: 'tanh' } },
    ]));

  it('exp, log, sqrt, reciprocal, abs, sign, rounding, sin, cos', () =>
    checkAll([
      { op: 'Exp', inputs: [x()] },
      { op: 'Log', inputs: [F([3, 4], [0.01, 10])] },
      { op: 'Sqrt', inputs: [F([3, 4], [0, 10])] },
      { op: 'Reciprocal', inputs: [F([3, 4], [0.1, 3])] },
      { op: 'Abs', inputs: [x()] },
      { op: 'Abs', inputs: [I([6])] },
      { op: 'Sign', inputs: [{ ...F([6]), data: [-2.5, 0, 3, -0.1, 0.5, 0] }] },
      { op: 'Floor', inputs: [x()] },
      { op: 'Ceil', inputs: [x()] },
      { op: 'Round', inputs: [{ ...F([10]), data: [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, 2.6, -2.6, 3] }] },
      { op: 'Sin', inputs: [x()] },
      { op: 'Cos', inputs: [x()] },
    ]));

  it('Pow with a broadcast exponent tensor, float and int', () =>
    checkAll([
      { op: 'Pow', inputs: [F([2, 3], [0.1, 3]), F([3], [-2, 3])] },
      { op: 'Pow', inputs: [F([2, 3]), C({ dtype: 'float', shape: [], data: [2] })] },
      { op: 'Pow', inputs: [F([2, 3]), I([1], [3])] },
      { op: 'Pow', inputs: [I([2, 3]), I([3], [0, 1, 2])] },
    ]));

  it('Clip: bounds as inputs (either absent) and as opset-6 attributes', () =>
    checkAll([
      { op: 'Clip', inputs: [x(), sc(-1), sc(2)] },
      { op: 'Clip', inputs: [x(), null, sc(0.5)] },
      { op: 'Clip', inputs: [x(), sc(-0.5)] },
      { op: 'Clip', inputs: [x()] },
      { op: 'Clip', inputs: [I([6]), C(I([], [-2])), C(I([], [3]))], opset: 13 },
      { op: 'Clip', inputs: [x()], attrs: { min: -1.5, max: f(1) }, opset: 6 },
      { op: 'Clip', inputs: [x()], attrs: { max: 0.25 }, opset: 6 },
      { op: 'Clip', inputs: [x()], opset: 6 },
    ]));

  it('Mod: fmod 1 on floats, Python-style integer Mod', () =>
    checkAll([
      { op: 'Mod', inputs: [F([3, 4], [-5, 5]), F([4], [0.5, 2])], attrs: { fmod: 1 } },
      { op: 'Mod', inputs: [F([3, 4], [-5, 5]), F([1], [-2, -0.5])], attrs: { fmod: 1 } },
      { op: 'Mod', inputs: [I([8], [7, -7, 7, -7, 0, 5, 3, -9]), I([8], [3, 3, -3, -3, 2, 5, 4, 4])] },
      { op: 'Mod', inputs: [I([8], [7, -7, 7, -7, 0, 5, 3, -9]), I([8], [3, 3, -3, -3, 2, 5, 4, 4])], attrs: { fmod: 1 } },
    ]));
});

describe('comparison and selection ops match onnxruntime', () => {
  it('Less, LessOrEqual, Greater, GreaterOrEqual, Equal give bools', () =>
    checkAll(
      ['Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'Equal'].flatMap((op) => [
        { op, inputs: [I([2, 3]), I([3])] },
        { op, inputs: [F([2, 3]), F([2, 1])] },
        {
          op,
          inputs: [
            { ...F([4]), data: [1, 2, 3, 4] },
            { ...F([4]), data: [2, 2, 2, 2] },
          ],
        },
      ]),
    ));

  it('Not, And, Or, Xor, Equal on bools; Where broadcasting three', () =>
    checkAll([
      { op: 'Not', inputs: [B([2, 3])] },
      ...['And', 'Or', 'Xor', 'Equal'].map((op) => ({ op, inputs: [B([2, 3]), B([3])] })),
      { op: 'Where', inputs: [B([2, 1, 4]), F([3, 1]), F([4])] },
      { op: 'Where', inputs: [B([4]), I([2, 4]), I([])] },
    ]));

  it('Max and Min: variadic, broadcasting, float and int', () =>
    checkAll([
      ...['Max', 'Min'].flatMap((op) => [
        { op, inputs: [F([2, 3])] },
        { op, inputs: [F([2, 3]), F([3])] },
        { op, inputs: [F([2, 1]), F([3]), F([1, 3]), F([])] },
        { op, inputs: [I([2, 3]), I([2, 1])] },
      ]),
    ]));

  it('ReduceMax and ReduceMin; ArgMax and ArgMin with axis, keepdims, select_last_index', () =>
    checkAll([
      { op: 'ReduceMax', inputs: [F([2, 3, 4])], attrs: { axes: [1] } },
      { op: 'ReduceMax', inputs: [F([2, 3, 4])], attrs: { keepdims: 0 } },
      { op: 'ReduceMax', inputs: [F([2, 3, 4]), ints([0, -1])], attrs: { keepdims: 0 }, opset: 18 },
      { op: 'ReduceMin', inputs: [I([2, 3, 4])], attrs: { axes: [2, 0] } },
      { op: 'ReduceMin', inputs: [F([2, 3, 4]), ints([1])], opset: 18 },
      { op: 'ArgMax', inputs: [F([3, 4])] },
      { op: 'ArgMax', inputs: [F([3, 4])], attrs: { axis: -1, keepdims: 0 } },
      { op: 'ArgMax', inputs: [I([3, 5])], attrs: { axis: 1, select_last_index: 1 } },
      { op: 'ArgMax', inputs: [I([3, 5])], attrs: { axis: 1 } },
      { op: 'ArgMin', inputs: [F([2, 3, 4])], attrs: { axis: 1 } },
      { op: 'ArgMin', inputs: [I([4, 5])], attrs: { axis: 0, keepdims: 0, select_last_index: 1 } },
    ]));
});

describe('normalisations and remaining reductions match onnxruntime', () => {
  it('Softmax and LogSoftmax: single axis from opset 13, coerced 2-D before', () =>
    checkAll(
      ['Softmax', 'LogSoftmax'].flatMap((op) => [
        { op, inputs: [F([2, 3, 4], [-5, 5])] },
        { op, inputs: [F([2, 3, 4], [-5, 5])], attrs: { axis: 1 } },
        { op, inputs: [F([2, 3, 4], [-5, 5])], attrs: { axis: 0 }, opset: 13 },
        { op, inputs: [F([2, 3, 4], [-5, 5])], opset: 11 },
        { op, inputs: [F([2, 3, 4], [-5, 5])], attrs: { axis: 0 }, opset: 11 },
        { op, inputs: [F([2, 3, 4], [-5, 5])], attrs: { axis: -1 }, opset: 11 },
      ]),
    ));

  it('ReduceL1, ReduceL2, ReduceLogSumExp, ReduceSumSquare, ReduceProd', () =>
    checkAll(
      ['ReduceL1', 'ReduceL2', 'ReduceLogSumExp', 'ReduceSumSquare', 'ReduceProd']
        .flatMap((op) => [
          { op, inputs: [F([2, 3, 4])], attrs: { axes: [1] } },
          { op, inputs: [F([2, 3, 4])], attrs: { axes: [0, 2], keepdims: 0 } },
          { op, inputs: [F([2, 3, 4])] },
          { op, inputs: [F([2, 3, 4]), ints([-1])], opset: 18 },
          { op, inputs: [F([2, 3, 4])], attrs: { noop_with_empty_axes: 1 }, opset: 18 },
        ])
        .concat(['ReduceL1', 'ReduceL2', 'ReduceSumSquare', 'ReduceProd'].map((op) => ({ op, inputs: [I([2, 3])], attrs: { axes: [1] } }))),
    ));

  it('LayerNormalization: axis, epsilon, scale and bias broadcast', () =>
    checkAll([
      { op: 'LayerNormalization', inputs: [F([2, 3, 4]), W([4]), W([4])] },
      { op: 'LayerNormalization', inputs: [F([2, 3, 4]), W([3, 4]), W([4])], attrs: { axis: 1, epsilon: 1e-3 } },
      { op: 'LayerNormalization', inputs: [F([2, 3, 4]), W([1, 4])], attrs: { axis: -2 } },
      { op: 'LayerNormalization', inputs: [F([5, 6]), W([6]), W([6])], attrs: { axis: -1 } },
    ]));
});

describe('unsupported attributes and outputs are refused by infer, naming node, attribute and value', () => {
  it('refusals', () => {
    refuses({ op: 'MaxPool', inputs: [F([1, 1, 4, 4])], attrs: { kernel_shape: [2, 2] }, outputs: 2 }, 'Indices', 'out1');
    refuses({ op: 'MaxPool', inputs: [F([1, 1, 4, 4])], attrs: { kernel_shape: [2, 2], storage_order: 1 } }, "'storage_order' = 1");
    refuses({ op: 'LayerNormalization', inputs: [F([2, 4]), W([4])], outputs: 3 }, 'Mean');
    refuses({ op: 'LayerNormalization', inputs: [F([2, 4]), W([4])], attrs: { stash_type: 0 } }, "'stash_type' = 0");
    refuses({ op: 'BatchNormalization', inputs: [F([2, 3]), W([3]), W([3]), W([3]), W([3])], attrs: { training_mode: 1 } }, "'training_mode' = 1");
    refuses({ op: 'BatchNormalization', inputs: [F([2, 3]), W([3]), W([3]), W([3]), W([3])], outputs: 3 }, 'running_mean');
    refuses({ op: 'BatchNormalization', inputs: [F([2, 3]), W([3]), W([3]), W([3]), W([3])], attrs: { spatial: 0 }, opset: 7 }, "'spatial' = 0");
    refuses({ op: 'Conv', inputs: [F([1, 2, 5, 5]), W([2, 2, 3, 3])], attrs: { auto_pad: 'SAME' } }, '\'auto_pad\' = "SAME"');
    refuses({ op: 'Conv', inputs: [F([1, 3, 5, 5]), W([2, 1, 3, 3])], attrs: { group: 2 } }, "'group' = 2");
    refuses({ op: 'Conv', inputs: [F([1, 2, 5, 5]), W([2, 2, 3, 3])], attrs: { strides: [1] } }, "'strides' = [1]");
    refuses({ op: 'Conv', inputs: [F([1, 2, 5, 5]), W([2, 2, 3, 3])], attrs: { kernel_shape: [2, 2] } }, "'kernel_shape' = [2,2]");
    refuses({ op: 'ConvTranspose', inputs: [F([1, 2, 3, 3]), W([2, 2, 3, 3])], attrs: { output_padding: [2, 0] } }, "'output_padding' = [2,0]");
    refuses({ op: 'ConvTranspose', inputs: [F([1, 2, 3, 3]), W([2, 2, 3, 3])], attrs: { output_shape: [1, 2, 5, 5] } }, "'output_shape' = [1,2,5,5]");
    refuses({ op: 'AveragePool', inputs: [F([1, 1, 4, 4])], attrs: { kernel_shape: [2, 2], count_include_pad: 2 } }, "'count_include_pad' = 2");
    refuses({ op: 'AveragePool', inputs: [F([1, 1, 4, 4])], attrs: {} }, "'kernel_shape'");
    refuses({ op: 'Gemm', inputs: [F([2, 3]), W([3, 2])], attrs: { transA: 2 } }, "'transA' = 2");
    refuses({ op: 'Gelu', inputs: [F([3])], attrs: { approximate: 'erf' }, opset: 20 }, '\'approximate\' = "erf"');
    refuses({ op: 'Mod', inputs: [F([3]), F([3])] }, "'fmod'", 'fmod 1 for float inputs');
    refuses({ op: 'Mod', inputs: [I([3]), I([3])], attrs: { fmod: 2 } }, "'fmod' = 2");
    refuses({ op: 'Clip', inputs: [F([3])], attrs: { min: 0 }, opset: 13 }, "'min' = 0");
    refuses({ op: 'Clip', inputs: [F([3]), C(F([2]))], opset: 13 }, 'min input must be a scalar');
    refuses({ op: 'ReduceSum', inputs: [F([2, 3])], attrs: { axes: [0] }, opset: 13 }, "'axes' = [0]");
    refuses({ op: 'ReduceSum', inputs: [F([2, 3]), I([1])], opset: 13 }, "'axes' must be a constant");
    refuses({ op: 'ReduceMean', inputs: [F([2, 3])], attrs: { axes: [2] }, opset: 13 }, 'axes 2 is out of range');
    refuses({ op: 'ReduceMax', inputs: [F([2, 3])], attrs: { keepdims: 3 }, opset: 13 }, "'keepdims' = 3");
    refuses({ op: 'ArgMax', inputs: [F([2, 3])], attrs: { select_last_index: 2 } }, "'select_last_index' = 2");
    refuses({ op: 'ArgMin', inputs: [F([2, 3])], attrs: { axis: 2 } }, 'axis 2 is out of range');
    refuses({ op: 'Softmax', inputs: [F([2, 3])], attrs: { axis: -3 } }, 'axis -3 is out of range');
    refuses({ op: 'Add', inputs: [F([2, 3]), F([2])] }, 'do not broadcast');
    refuses({ op: 'Sigmoid', inputs: [I([2])] }, "dtype 'int'");
    refuses({ op: 'And', inputs: [F([2]), B([2])] }, "dtype 'float'");
    refuses({ op: 'Where', inputs: [F([2]), F([2]), F([2])] }, 'condition');
    refuses({ op: 'MatMul', inputs: [F([2, 3]), F([4, 2])] }, 'inner dimensions');
    refuses({ op: 'PRelu', inputs: [F([3]), W([2, 3])] }, 'does not broadcast to X');
  });

  it('evalFloat refuses integer division and modulo by zero, naming the node', () => {
    const run = (op: string) => {
      const { ctx } = nodeOf({ op, inputs: [I([2]), I([2])] });
      const t = (v: number[]): Tensor => ({ dtype: 'int', shape: [2], data: Float64Array.from(v) });
      return () => OPS.get(op)!.evalFloat(ctx, [t([3, 4]), t([1, 0])]);
    };
    expectZkinferError(run('Div'), 'UNSUPPORTED_LAYER', 'n_Div', 'division by zero');
    expectZkinferError(run('Mod'), 'UNSUPPORTED_LAYER', 'n_Mod', 'modulo by zero');
  });

  it('registers every op once', () => {
    const want =
      'Gemm MatMul Conv ConvTranspose AveragePool GlobalAveragePool BatchNormalization InstanceNormalization Add Sub Mul Div Neg Sum Mean ReduceSum ReduceMean Relu LeakyRelu PRelu Elu Celu Selu Sigmoid HardSigmoid HardSwish Tanh Softplus Softsign Erf Gelu Exp Log Sqrt Reciprocal Pow Abs Sign Floor Ceil Round Clip Mod Sin Cos Less LessOrEqual Greater GreaterOrEqual Equal Not And Or Xor Where Max Min MaxPool GlobalMaxPool ReduceMax ReduceMin ArgMax ArgMin Softmax LogSoftmax ReduceL1 ReduceL2 ReduceLogSumExp ReduceSumSquare ReduceProd LayerNormalization';
    for (const op of want.split(' ')) expect(OPS.has(op), op).toBe(true);
  });
});
