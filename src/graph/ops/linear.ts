/**
 * Linear operators: matrix products, normalisations with fixed statistics, element-wise arithmetic and
 * the sums (ReduceSum, ReduceMean). Conv, ConvTranspose and the pools are in conv.ts and pool.ts.
 * Arithmetic keeps the first input's dtype; int Div truncates toward zero, as onnxruntime's integer
 * division does.
 */
import { fail } from '../../util/errors.js';
import { nodeLabel, size, tensor, type Tensor } from '../ir.js';
import { constForm, divide, product, scaleForm } from '../quant/composite.js';
import type { LowerCtx, QTensor } from '../quant/qtensor.js';
import { broadcastIndex, broadcastShapes, map1, map2, mapN, need, onlyOutputs, reduceGroups, reducedShape, requireDtype } from './broadcast.js';
import { plan as reducePlan, reduceOp, sumOf } from './reduce.js';
import { lowerGroupNorm } from './lowerNorm.js';
import { keepProducts, lowerAffine, lowerBilinear, lowerSum, truncDiv, weightedSum } from './lowerLinear.js';
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
      lowerBilinear(
        ctx,
        a!,
        b!,
        [m, n],
        (o) => {
          const [i, j] = [Math.floor(o / n), o % n];
          return Array.from({ length: k }, (_, p) => [tA ? p * m + i : i * k + p, tB ? j * k + p : p * n + j, alpha]);
        },
        c && cmap ? (o) => [c, cmap[o], beta] : undefined,
      ),
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
  // As Gemm: a constant operand gives linear forms (weights quantized per output element, one
  // requantization onto the calibrated range, whose clamp is also a fused Relu); two computed operands
  // cost one Mul per term, summed exactly, then one requantization. Batched, broadcast and 1-D operands
  // are index maps.
  lower(ctx, [a, b]) {
    const p = matmulPlan(ctx, a!.shape, b!.shape);
    const am = broadcastIndex(p.batch, p.aBatch);
    const bm = broadcastIndex(p.batch, p.bBatch);
    const { m, k, n } = p;
    return [
      lowerBilinear(ctx, a!, b!, p.out, (o) => {
        const t = Math.floor(o / (m * n));
        const i = Math.floor(o / n) % m;
        const j = o % n;
        return Array.from({ length: k }, (_, q) => [am[t] * m * k + i * k + q, bm[t] * k * n + q * n + j, 1]);
      }),
    ];
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
    return [
      perChannel(
        x,
        mul,
        bias.map((b, c) => b - mean[c] * mul[c]),
      ),
    ];
  },
  // Not folded into a Conv/Gemm: the per-channel affine map x * mul[c] + add[c] (lowerAffine): x's
  // integers, one requantization per element onto the calibrated range (10-bit multipliers, each within
  // a factor 2 of the largest). Needs constant statistics.
  lower(ctx, [x]) {
    const consts = [1, 2, 3, 4].map((i) => ctx.constant(i));
    if (consts.some((t) => !t)) fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: BatchNormalization needs constant scale, bias, mean and variance`);
    const [scale, bias, mean, v] = consts.map((t) => t!.data);
    const eps = ctx.attrs.float('epsilon', 1e-5);
    const mul = scale.map((s, c) => s / Math.sqrt(v[c] + eps));
    const add = bias.map((b, c) => b - mean[c] * mul[c]);
    const ch = channelOf(x!.shape);
    return [
      lowerAffine(
        ctx,
        x!,
        identityMap(x!.elems.length),
        x!.shape,
        (o) => mul[ch(o)],
        (o) => add[ch(o)],
      ),
    ];
  },
};

const identityMap = (n: number) => Int32Array.from({ length: n }, (_, i) => i);
const channelOf = (shape: number[]) => {
  const inner = size(shape.slice(2));
  return (o: number) => Math.floor(o / inner) % shape[1];
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
  // Per (n, c) group: the shared group normalization (lowerNorm.ts), then scale[c] and bias[c].
  lower(ctx, [x]) {
    const sc = ctx.constant(1);
    const bi = ctx.constant(2);
    if (!sc || !bi) fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: InstanceNormalization needs constant scale and bias`);
    const ch = channelOf(x!.shape);
    return [
      lowerGroupNorm(
        ctx,
        x!,
        size(x!.shape.slice(2)),
        ctx.attrs.float('epsilon', 1e-5),
        (o) => sc.data[ch(o)],
        (o) => bi.data[ch(o)],
      ),
    ];
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
      return [
        {
          dtype: xs[0].dtype,
          shape: broadcastShapes(
            ctx.node,
            xs.map((x) => x.shape),
          ),
        },
      ];
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
  { ...variadic('Add', 2, 2, ([a, b]) => a + b), lower: (ctx, xs) => lowerSumOp(ctx, xs, [1, 1]) },
  { ...variadic('Sub', 2, 2, ([a, b]) => a - b), lower: (ctx, xs) => lowerSumOp(ctx, xs, [1, -1]) },
  { ...variadic('Mul', 2, 2, ([a, b]) => a * b), lower: lowerMul },
  { ...variadic('Div', 2, 2, ([a, b], int, ctx) => (int ? intDiv(a, b, ctx) : a / b)), lower: lowerDiv },
  {
    ...variadic('Sum', 1, Infinity, (xs) => xs.reduce((s, x) => s + x, 0)),
    lower: (ctx, xs) =>
      lowerSumOp(
        ctx,
        xs,
        xs.map(() => 1),
      ),
  },
  {
    ...variadic('Mean', 1, Infinity, (xs, int) => (int ? Math.trunc : (v: number) => v)(xs.reduce((s, x) => s + x, 0) / xs.length)),
    lower: (ctx, xs) =>
      xs[0]!.dtype === 'int'
        ? [
            intMean(
              ctx,
              lowerSumOp(
                ctx,
                xs,
                xs.map(() => 1),
              )[0],
              xs.length,
            ),
          ]
        : lowerSumOp(
            ctx,
            xs,
            xs.map(() => 1 / xs.length),
          ),
  },
];

/** Broadcast shape and each input's index map. */
function broadcastPlan(ctx: LowerCtx, xs: Array<QTensor | undefined>) {
  const qs = xs as QTensor[];
  const shape = broadcastShapes(
    ctx.node,
    qs.map((q) => q.shape),
  );
  return { qs, shape, maps: qs.map((q) => broadcastIndex(shape, q.shape)) };
}

// Add, Sub, Sum, Mean (float): one form per element (lowerSum): operands of equal or integer-multiple
// scales add exactly with no constraint (Mean's 1/n is a scale change), constants are biases; other
// scales are combined with 12-bit integer weights and requantized (one requantization per element).
function lowerSumOp(ctx: LowerCtx, xs: Array<QTensor | undefined>, coefs: number[]): QTensor[] {
  const { qs, shape, maps } = broadcastPlan(ctx, xs);
  return [
    lowerSum(
      ctx,
      qs[0].dtype,
      shape,
      qs.map((q, i) => ({ q, map: maps[i], coef: coefs[i], value: ctx.constant(i) })),
    ),
  ];
}

/** int Mean: the exact sum divided by n, truncated toward zero (truncDiv). */
function intMean(ctx: LowerCtx, sum: QTensor, n: number): QTensor {
  return ctx.b.map(sum, (f) => truncDiv(ctx.b, f, constForm(n)));
}

// Mul. By a constant: a scalar only changes the scale (exact, free); per-element constants are an affine
// map with one requantization per element (lowerAffine). Two computed tensors: one Mul (exact product at
// scale sx * sy), kept exact while it is narrow enough (keepProducts: the reader requantizes it with what
// it adds), else requantized onto the calibrated range (int: the exact product at scale 1).
function lowerMul(ctx: LowerCtx, xs: Array<QTensor | undefined>): QTensor[] {
  const { qs, shape, maps } = broadcastPlan(ctx, xs);
  const count = size(shape);
  const cs = [ctx.constant(0), ctx.constant(1)];
  if (cs[0] && cs[1]) return [ctx.b.constant(map2(ctx.node, qs[0].dtype, cs[0], cs[1], (a, b) => a * b))];
  for (const [x, c] of [
    [0, 1],
    [1, 0],
  ]) {
    const cv = cs[c];
    if (cv)
      return [
        lowerAffine(
          ctx,
          qs[x],
          maps[x],
          shape,
          (o) => cv.data[maps[c][o]],
          () => 0,
        ),
      ];
  }
  const [a, b] = qs;
  const dtype = a.dtype;
  const prods = Array.from({ length: count }, (_, o) => product(ctx.b, a.elems[maps[0][o]], b.elems[maps[1][o]]));
  const exact: QTensor = { dtype, shape, scale: a.scale * b.scale, elems: prods };
  if (dtype !== 'float' || ctx.graphOutputOnly() || keepProducts(ctx, exact)) return [exact];
  return [ctx.b.requantize(exact, ctx.b.rangeFor(ctx.outStats()))];
}

// Div. By a constant: multiplication by 1/c (see Mul; a zero constant is refused). A computed divisor
// (float) must be > 0 on every calibration value: it is clamped to >= 1 integer unit and each element is
// one DivFloor, floor(x * K / y), at the calibrated output range's resolution (composite.divide).
// int: truncation toward zero (truncDiv: a comparison when the numerator can be negative, a product
// when the divisor is computed, one DivFloor); a negative constant divisor negates; a computed int
// divisor must be >= 1 on the calibration data (it is clamped to >= 1, where onnxruntime would fail).
function lowerDiv(ctx: LowerCtx, xs: Array<QTensor | undefined>): QTensor[] {
  const { qs, shape, maps } = broadcastPlan(ctx, xs);
  const count = size(shape);
  const [x, y] = qs;
  const b = ctx.b;
  const cy = ctx.constant(1);
  const dtype = x.dtype;
  if (cy) {
    const d = (o: number) => cy.data[maps[1][o]];
    for (let o = 0; o < count; o++) if (d(o) === 0) fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: division by a constant 0`);
    if (dtype === 'float')
      return [
        lowerAffine(
          ctx,
          x,
          maps[0],
          shape,
          (o) => 1 / d(o),
          () => 0,
        ),
      ];
    return [{ dtype, shape, scale: 1, elems: Array.from({ length: count }, (_, o) => scaleForm(truncDiv(b, x.elems[maps[0][o]], constForm(Math.abs(d(o)))), Math.sign(d(o)))) }];
  }
  const ys = ctx.inStats(1);
  if (dtype === 'float') {
    if (!(ys.min > 0))
      fail(
        'UNSUPPORTED_LAYER',
        `${nodeLabel(ctx.node)}: the divisor '${ctx.node.inputs[1]}' is not positive on all calibration data (min ${ys.min}); only divisors > 0 are supported`,
      );
    const target = b.rangeFor(ctx.outStats());
    let scale = 1;
    const elems = Array.from({ length: count }, (_, o) => {
      const r = divide(b, x.elems[maps[0][o]], x.scale, y.elems[maps[1][o]], y.scale, target, ctx.node.name);
      scale = r.scale;
      return r.f;
    });
    return [{ dtype, shape, scale, elems }];
  }
  if (!(ys.min >= 1))
    fail(
      'UNSUPPORTED_LAYER',
      `${nodeLabel(ctx.node)}: the integer divisor '${ctx.node.inputs[1]}' is not >= 1 on all calibration data (min ${ys.min}); only positive integer divisors are supported`,
    );
  const den = y.elems.map((f) => {
    const fb = b.bounds(f);
    return fb.lo >= 1 ? f : b.clampInt(f, 1, Math.max(1, Math.ceil(Math.log2(fb.hi))));
  });
  return [{ dtype, shape, scale: 1, elems: Array.from({ length: count }, (_, o) => truncDiv(b, x.elems[maps[0][o]], den[maps[1][o]])) }];
}

const neg: OpDef = {
  op: 'Neg',
  infer(ctx, inputs) {
    const x = need(ctx, inputs, 0);
    requireDtype(ctx, x, [...NUMERIC]);
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
  evalFloat: (ctx, inputs) => [map1(need(ctx, inputs, 0), need(ctx, inputs, 0).dtype, (v) => -v)],
  // Negated forms at the same scale: exact, free.
  lower: (ctx, [x]) => [ctx.b.map(x!, (f) => scaleForm(f, -1))],
};

// ReduceSum, ReduceMean: the exact sum of each group's forms, no constraint; the mean is a scale change
// (scale / count), exact. int ReduceMean truncates toward zero (truncDiv).
function lowerReduce(ctx: LowerCtx, [x, axesIn]: Array<QTensor | undefined>, since: number, mean: boolean): QTensor {
  const axesValue = ctx.constant(1);
  const p = reducePlan(ctx, x!.shape.length, since, axesIn && (axesValue ?? { dtype: axesIn.dtype, shape: axesIn.shape }));
  if (!p.axes) return x!;
  const g = reduceGroups(x!.shape, p.axes);
  const elems = Array.from({ length: g.outer }, (_, o) => weightedSum(Array.from({ length: g.inner }, (_, i) => [x!.elems[g.index(o, i)], 1])));
  const out: QTensor = { dtype: x!.dtype, shape: reducedShape(x!.shape, p.axes, p.keepdims), scale: x!.scale, elems };
  if (!mean || g.inner === 1) return out;
  if (x!.dtype === 'int') return intMean(ctx, out, g.inner);
  return { ...out, scale: x!.scale / g.inner };
}

export const linearOps: OpDef[] = [
  gemm,
  matmul,
  batchNorm,
  instanceNorm,
  ...binaryArith,
  neg,
  { ...reduceOp({ op: 'ReduceSum', axesSince: 13, fn: sumOf }), lower: (ctx, xs) => [lowerReduce(ctx, xs, 13, false)] },
  { ...reduceOp({ op: 'ReduceMean', fn: (v) => sumOf(v) / v.length }), lower: (ctx, xs) => [lowerReduce(ctx, xs, 18, true)] },
];
