/**
 * Normalisations over axes computed from the data: Softmax and LogSoftmax (one axis from opset 13; before,
 * the input coerced to 2-D at `axis`, normalised over everything from it on), LayerNormalization (first
 * output only), and the Reduce* ops that are not plain sums or extrema.
 */
import { fail } from '../../util/errors.js';
import { nodeLabel, size, tensor, type Tensor } from '../ir.js';
import { broadcastIndex, broadcastShapes, need, normAxis, onlyOutputs, reduceGroups, requireDtype } from './broadcast.js';
import { softmax } from '../quant/composite.js';
import { axisGroups, lowerReduceL1, lowerReduceL2, lowerReduceLogSumExp, lowerReduceProd, lowerReduceSumSquare, spreadOf } from './lowerCompare.js';
import { lowerGroupNorm } from './lowerNorm.js';
import { reduceOp, sumOf } from './reduce.js';
import type { OpCtx, OpDef } from './types.js';

/** The axes a Softmax normalises over, sorted. */
function softmaxAxes(ctx: OpCtx, rank: number): number[] {
  if (ctx.opset >= 13) return [normAxis(ctx, ctx.attrs.int('axis', -1), rank)];
  const axis = normAxis(ctx, ctx.attrs.int('axis', 1), rank);
  return Array.from({ length: rank - axis }, (_, i) => axis + i);
}

function softmaxOp(op: string, log: boolean): OpDef {
  return {
    op,
    infer(ctx, inputs) {
      const x = need(ctx, inputs, 0);
      requireDtype(ctx, x, ['float']);
      softmaxAxes(ctx, x.shape.length);
      return [{ dtype: x.dtype, shape: [...x.shape] }];
    },
    evalFloat(ctx, inputs) {
      const x = need(ctx, inputs, 0);
      const g = reduceGroups(x.shape, softmaxAxes(ctx, x.shape.length));
      const out = new Float64Array(x.data.length);
      for (let o = 0; o < g.outer; o++) {
        let m = -Infinity;
        for (let i = 0; i < g.inner; i++) m = Math.max(m, x.data[g.index(o, i)]);
        let s = 0;
        for (let i = 0; i < g.inner; i++) s += Math.exp(x.data[g.index(o, i)] - m);
        for (let i = 0; i < g.inner; i++) {
          const k = g.index(o, i);
          out[k] = log ? x.data[k] - m - Math.log(s) : Math.exp(x.data[k] - m) / s;
        }
      }
      return [tensor(x.dtype, x.shape, out)];
    },
    // composite.softmax over the groups along the axes (its header: masked constants, costs): max
    // (MaxOfN), x - max exact, exp by a lookup over the calibrated spread of the input, exact sum, then
    // one reciprocal per group and p = e * r (one Mul per element), or, for LogSoftmax, x - max - log S
    // (one lookup per group). Precision: the exp table's input step (1.25 spread / 2^lookupBits), and
    // 2^-(P + 4) for the reciprocal (P = activation bits).
    lower(ctx, inputs) {
      const x = inputs[0]!;
      return [softmax(ctx.b, x, axisGroups(x.shape, softmaxAxes(ctx, x.shape.length)), log, spreadOf(ctx.inStats(0)))];
    },
  };
}

function layerNormPlan(ctx: OpCtx, x: readonly number[], scale: readonly number[], bias: readonly number[] | undefined) {
  const axis = normAxis(ctx, ctx.attrs.int('axis', -1), x.length);
  const stash = ctx.attrs.int('stash_type', 1);
  ctx.attrs.require('stash_type', stash === 1, 'stash_type 1 (float statistics)');
  const norm = x.slice(axis);
  for (const [name, s] of [
    ['Scale', scale],
    ['B', bias],
  ] as const) {
    if (!s) continue;
    const b = broadcastShapes(ctx.node, [norm, s]);
    if (s.length > norm.length || b.some((d, i) => d !== norm[i])) {
      fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: ${name} of shape [${s}] does not broadcast to the normalised shape [${norm}]`);
    }
  }
  return { axis, norm };
}

const layerNorm: OpDef = {
  op: 'LayerNormalization',
  infer(ctx, inputs) {
    const x = need(ctx, inputs, 0);
    requireDtype(ctx, x, ['float']);
    onlyOutputs(ctx, 1, ['Mean', 'InvStdDev']);
    layerNormPlan(ctx, x.shape, need(ctx, inputs, 1).shape, inputs[2]?.shape);
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
  evalFloat(ctx, inputs) {
    const x = need(ctx, inputs, 0);
    const scale = need(ctx, inputs, 1);
    const bias: Tensor | undefined = inputs[2];
    const { norm } = layerNormPlan(ctx, x.shape, scale.shape, bias?.shape);
    const eps = ctx.attrs.float('epsilon', 1e-5);
    const inner = size(norm);
    const sm = broadcastIndex(norm, scale.shape);
    const bm = bias ? broadcastIndex(norm, bias.shape) : undefined;
    const out = new Float64Array(x.data.length);
    for (let base = 0; base < x.data.length; base += inner) {
      let mean = 0;
      for (let i = 0; i < inner; i++) mean += x.data[base + i];
      mean /= inner;
      let v = 0;
      for (let i = 0; i < inner; i++) v += (x.data[base + i] - mean) ** 2;
      const inv = 1 / Math.sqrt(v / inner + eps);
      for (let i = 0; i < inner; i++) {
        out[base + i] = (x.data[base + i] - mean) * inv * scale.data[sm[i]] + (bias && bm ? bias.data[bm[i]] : 0);
      }
    }
    return [tensor(x.dtype, x.shape, out)];
  },
  // The shared group normalization (lowerNorm.ts) over each group of the normalised shape, then Scale
  // and B broadcast over it (constants).
  lower(ctx, [x]) {
    const scale = ctx.constant(1);
    const bias = ctx.node.inputs[2] ? ctx.constant(2) : undefined;
    if (!scale || (ctx.node.inputs[2] && !bias)) fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: LayerNormalization needs constant Scale and B`);
    const { norm } = layerNormPlan(ctx, x!.shape, scale.shape, bias?.shape);
    const inner = size(norm);
    const sm = broadcastIndex(norm, scale.shape);
    const bm = bias ? broadcastIndex(norm, bias.shape) : undefined;
    return [
      lowerGroupNorm(
        ctx,
        x!,
        inner,
        ctx.attrs.float('epsilon', 1e-5),
        (o) => scale.data[sm[o % inner]],
        (o) => (bias && bm ? bias.data[bm[o % inner]] : 0),
      ),
    ];
  },
};

const logSumExp = (v: Float64Array) => {
  let m = -Infinity;
  for (const x of v) m = Math.max(m, x);
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (const x of v) s += Math.exp(x - m);
  return m + Math.log(s);
};

export const normalizeOps: OpDef[] = [
  softmaxOp('Softmax', false),
  softmaxOp('LogSoftmax', true),
  layerNorm,
  // Lowerings and their costs: lowerCompare.ts (abs by MaxOfN + exact sum; squares by products + exact
  // sum; sqrt, exp and log by lookups; running products with requantization).
  { ...reduceOp({ op: 'ReduceL1', fn: (v) => sumOf(v.map(Math.abs)) }), lower: (ctx, inputs) => [lowerReduceL1(ctx, inputs[0]!)] },
  { ...reduceOp({ op: 'ReduceL2', fn: (v) => Math.sqrt(sumOf(v.map((x) => x * x))) }), lower: (ctx, inputs) => [lowerReduceL2(ctx, inputs[0]!)] },
  { ...reduceOp({ op: 'ReduceLogSumExp', fn: logSumExp, dtypes: ['float'] }), lower: (ctx, inputs) => [lowerReduceLogSumExp(ctx, inputs[0]!)] },
  { ...reduceOp({ op: 'ReduceSumSquare', fn: (v) => sumOf(v.map((x) => x * x)) }), lower: (ctx, inputs) => [lowerReduceSumSquare(ctx, inputs[0]!)] },
  { ...reduceOp({ op: 'ReduceProd', fn: (v) => v.reduce((a, x) => a * x, 1) }), lower: (ctx, inputs) => [lowerReduceProd(ctx, inputs[0]!)] },
];
