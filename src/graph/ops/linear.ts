/**
 * Linear operators: matrix products, normalisations with fixed statistics, element-wise arithmetic and
 * the sums (ReduceSum, ReduceMean). Conv, ConvTranspose and the pools are in conv.ts and pool.ts.
 * Arithmetic keeps the first input's dtype; int Div truncates toward zero, as onnxruntime's integer
 * division does.
 */
import { fail } from '../../util/errors.js';
import { nodeLabel, size, tensor, type Tensor } from '../ir.js';
import { broadcastIndex, broadcastShapes, map1, map2, mapN, need, onlyOutputs, requireDtype } from './broadcast.js';
import { reduceOp, sumOf } from './reduce.js';
import { lowerBilinear } from './lowerLinear.js';
import type { OpCtx, OpDef, OpInput, TypeShape } from './types.js';

const NUMERIC = ['float', 'int'] as const;

function gemmDims(ctx: OpCtx, a: readonly number[], b: readonly number[], c: readonly number[] | undefined): { m: number; n: number; k: number } {
  const { attrs } = ctx;
  const transA = attrs.int('transA', 0);
  const transB = attrs.int('transB', 0);
  attrs.require('transA', transA === 0 || transA === 1, 'transA is 0 or 1');
  attrs.require('transB', transB === 0 || transB === 1, 'transB is 0 or 1');
  if (a.length !== 2 || b.length !== 2) fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: A and B must be 2-D (got [${a}] and [${b}])`);
  const [m, k] = transA ? [a[1], a[0]] : [a[0], a[1]];
  const [kb, n] = transB ? [b[1], b[0]] : [b[0], b[1]];
  if (k !== kb) fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: inner dimensions ${k} and ${kb} differ`);
  if (c) {
    const out = broadcastShapes(ctx.node, [[m, n], c]);
    if (out.length !== 2 || out[0] !== m || out[1] !== n) fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: C of shape [${c}] does not broadcast to [${m},${n}]`);
  }
  return { m, n, k };
}

const gemm: OpDef = {
  op: 'Gemm',
  infer(ctx, inputs) {
    const a = need(ctx, inputs, 0);
    const { m, n } = gemmDims(ctx, a.shape, need(ctx, inputs, 1).shape, inputs[2]?.shape);
    return [{ dtype: a.dtype, shape: [m, n] }];
  },
  evalFloat(ctx, inputs) {
    const a = need(ctx, inputs, 0);
    const b = need(ctx, inputs, 1);
    const c = inputs[2];
    const { m, n, k } = gemmDims(ctx, a.shape, b.shape, c?.shape);
    const alpha = ctx.attrs.float('alpha', 1);
    const beta = ctx.attrs.float('beta', 1);
    const tA = ctx.attrs.int('transA', 0) === 1;
    const tB = ctx.attrs.int('transB', 0) === 1;
    const out = new Float64Array(m * n);
    const cmap = c ? broadcastIndex([m, n], c.shape) : undefined;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += a.data[tA ? p * m + i : i * k + p] * b.data[tB ? j * k + p : p * n + j];
        let v = alpha * s;
        if (c && cmap) v += beta * c.data[cmap[i * n + j]];
        out[i * n + j] = v;
      }
    }
    return [tensor(a.dtype, [m, n], out)];
  },
  // A constant operand makes every output a linear form (weights quantized per output element, then one
  // requantization, whose clamp is also a fused Relu); two computed operands cost one product per term.
  lower(ctx, [a, b, c]) {
    const { m, n, k } = gemmDims(ctx, a!.shape, b!.shape, c?.shape);
    const alpha = ctx.attrs.float('alpha', 1);
    const beta = ctx.attrs.float('beta', 1);
    const tA = ctx.attrs.int('transA', 0) === 1;
    const tB = ctx.attrs.int('transB', 0) === 1;
    const cmap = c ? broadcastIndex([m, n], c.shape) : undefined;
    return [
      lowerBilinear(ctx, a!, b!, [m, n], (o) => {
        const [i, j] = [Math.floor(o / n), o % n];
        return Array.from({ length: k }, (_, p) => [tA ? p * m + i : i * k + p, tB ? j * k + p : p * n + j, alpha]);
      }, c && cmap ? (o) => [c, cmap[o], beta] : undefined),
    ];
  },
};

interface MatMulPlan {
  batch: number[];
  m: number;
  k: number;
  n: number;
  out: number[];
  aBatch: number[];
  bBatch: number[];
}

function matmulPlan(ctx: OpCtx, a: readonly number[], b: readonly number[]): MatMulPlan {
  if (a.length === 0 || b.length === 0) fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: MatMul of a scalar`);
  const aa = a.length === 1 ? [1, a[0]] : [...a];
  const bb = b.length === 1 ? [b[0], 1] : [...b];
  const [m, k] = aa.slice(-2);
  const [kb, n] = bb.slice(-2);
  if (k !== kb) fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: inner dimensions of [${a}] and [${b}] differ`);
  const aBatch = aa.slice(0, -2);
  const bBatch = bb.slice(0, -2);
  const batch = broadcastShapes(ctx.node, [aBatch, bBatch]);
  const out = [...batch];
  if (a.length > 1) out.push(m);
  if (b.length > 1) out.push(n);
  return { batch, m, k, n, out, aBatch, bBatch };
}

const matmul: OpDef = {
  op: 'MatMul',
  infer(ctx, inputs) {
    const a = need(ctx, inputs, 0);
    return [{ dtype: a.dtype, shape: matmulPlan(ctx, a.shape, need(ctx, inputs, 1).shape).out }];
  },
  evalFloat(ctx, inputs) {
    const a = need(ctx, inputs, 0);
    const b = need(ctx, inputs, 1);
    const p = matmulPlan(ctx, a.shape, b.shape);
    const am = broadcastIndex(p.batch, p.aBatch);
    const bm = broadcastIndex(p.batch, p.bBatch);
    const { m, k, n } = p;
    const out = new Float64Array(size(p.batch) * m * n);
    for (let t = 0; t < am.length; t++) {
      const ao = am[t] * m * k;
      const bo = bm[t] * k * n;
      const oo = t * m * n;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let q = 0; q < k; q++) s += a.data[ao + i * k + q] * b.data[bo + q * n + j];
          out[oo + i * n + j] = s;
        }
      }
    }
    return [tensor(a.dtype, p.out, out)];
  },
};

/** Per-channel affine map y = x * mul[c] + add[c] over (N, C, ...). */
function perChannel(x: Tensor, mul: ArrayLike<number>, add: ArrayLike<number>): Tensor {
  const c = x.shape[1];
  const inner = size(x.shape.slice(2));
  const out = new Float64Array(x.data.length);
  for (let i = 0; i < out.length; i++) {
    const ch = Math.floor(i / inner) % c;
    out[i] = x.data[i] * mul[ch] + add[ch];
  }
  return tensor(x.dtype, x.shape, out);
}

function checkChannels(ctx: OpCtx, inputs: Array<OpInput | undefined>, from: number, count: number): TypeShape[] {
  const x = need(ctx, inputs, 0);
  requireDtype(ctx, x, ['float']);
  if (x.shape.length < 2) fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: input X must be (N, C, ...) (got [${x.shape}])`);
  for (let i = from; i < from + count; i++) {
    const s = need(ctx, inputs, i).shape;
    if (s.length !== 1 || s[0] !== x.shape[1]) fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: input ${i} must have shape [${x.shape[1]}] (got [${s}])`);
  }
  return [{ dtype: x.dtype, shape: [...x.shape] }];
}

const batchNorm: OpDef = {
  op: 'BatchNormalization',
  infer(ctx, inputs) {
    const { attrs } = ctx;
    attrs.require('training_mode', attrs.int('training_mode', 0) === 0, 'inference only (training_mode 0)');
    attrs.require('spatial', attrs.int('spatial', 1) === 1, 'spatial 1 (per-channel statistics)');
    attrs.require('is_test', !attrs.has('is_test') || attrs.int('is_test') === 1, 'inference only (is_test 1)');
    onlyOutputs(ctx, 1, ['running_mean', 'running_var', 'saved_mean', 'saved_var']);
    return checkChannels(ctx, inputs, 1, 4);
  },
  evalFloat(ctx, inputs) {
    const x = need(ctx, inputs, 0);
    const [scale, bias, mean, v] = [1, 2, 3, 4].map((i) => need(ctx, inputs, i).data);
    const eps = ctx.attrs.float('epsilon', 1e-5);
    const mul = scale.map((s, c) => s / Math.sqrt(v[c] + eps));
    return [perChannel(x, mul, bias.map((b, c) => b - mean[c] * mul[c]))];
  },
};

const instanceNorm: OpDef = {
  op: 'InstanceNormalization',
  infer: (ctx, inputs) => checkChannels(ctx, inputs, 1, 2),
  evalFloat(ctx, inputs) {
    const x = need(ctx, inputs, 0);
    const scale = need(ctx, inputs, 1).data;
    const bias = need(ctx, inputs, 2).data;
    const eps = ctx.attrs.float('epsilon', 1e-5);
    const c = x.shape[1];
    const inner = size(x.shape.slice(2));
    const out = new Float64Array(x.data.length);
    for (let g = 0; g < x.data.length / inner; g++) {
      const ch = g % c;
      const base = g * inner;
      let mean = 0;
      for (let i = 0; i < inner; i++) mean += x.data[base + i];
      mean /= inner;
      let v = 0;
      for (let i = 0; i < inner; i++) v += (x.data[base + i] - mean) ** 2;
      v /= inner;
      const mul = scale[ch] / Math.sqrt(v + eps);
      for (let i = 0; i < inner; i++) out[base + i] = (x.data[base + i] - mean) * mul + bias[ch];
    }
    return [tensor(x.dtype, x.shape, out)];
  },
};

/** A broadcasting op on numbers whose dtype is the first input's. */
function variadic(op: string, min: number, max: number, fn: (xs: number[], int: boolean, ctx: OpCtx) => number): OpDef {
  const present = (ctx: OpCtx, inputs: ReadonlyArray<unknown>) => {
    if (inputs.length < min || inputs.length > max || inputs.some((x) => x === undefined)) {
      fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: ${op} takes ${min === max ? min : `${min} or more`} inputs (got ${inputs.length})`);
    }
  };
  return {
    op,
    infer(ctx, inputs) {
      present(ctx, inputs);
      const xs = inputs as OpInput[];
      xs.forEach((x, i) => requireDtype(ctx, x, [...NUMERIC], `input ${i}`));
      return [{ dtype: xs[0].dtype, shape: broadcastShapes(ctx.node, xs.map((x) => x.shape)) }];
    },
    evalFloat(ctx, inputs) {
      present(ctx, inputs);
      const xs = inputs as Tensor[];
      const int = xs[0].dtype === 'int';
      if (xs.length === 2) return [map2(ctx.node, xs[0].dtype, xs[0], xs[1], (a, b) => fn([a, b], int, ctx))];
      return [mapN(ctx.node, xs[0].dtype, xs, (v) => fn(v, int, ctx))];
    },
  };
}

const intDiv = (a: number, b: number, ctx: OpCtx): number => {
  if (b === 0) fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: integer division by zero`);
  return Math.trunc(a / b);
};

export const binaryArith: OpDef[] = [
  variadic('Add', 2, 2, ([a, b]) => a + b),
  variadic('Sub', 2, 2, ([a, b]) => a - b),
  variadic('Mul', 2, 2, ([a, b]) => a * b),
  variadic('Div', 2, 2, ([a, b], int, ctx) => (int ? intDiv(a, b, ctx) : a / b)),
  variadic('Sum', 1, Infinity, (xs) => xs.reduce((s, x) => s + x, 0)),
  variadic('Mean', 1, Infinity, (xs, int) => (int ? Math.trunc : (v: number) => v)(xs.reduce((s, x) => s + x, 0) / xs.length)),
];

const neg: OpDef = {
  op: 'Neg',
  infer(ctx, inputs) {
    const x = need(ctx, inputs, 0);
    requireDtype(ctx, x, [...NUMERIC]);
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
  evalFloat: (ctx, inputs) => [map1(need(ctx, inputs, 0), need(ctx, inputs, 0).dtype, (v) => -v)],
};

export const linearOps: OpDef[] = [
  gemm,
  matmul,
  batchNorm,
  instanceNorm,
  ...binaryArith,
  neg,
  reduceOp({ op: 'ReduceSum', axesSince: 13, fn: sumOf }),
  reduceOp({ op: 'ReduceMean', fn: (v) => sumOf(v) / v.length }),
];
