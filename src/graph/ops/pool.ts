/**
 * The pools: AveragePool and MaxPool over any number of spatial dims (kernel_shape, pads, strides,
 * dilations, ceil_mode, auto_pad; AveragePool's count_include_pad), GlobalAveragePool, GlobalMaxPool.
 * Output sizes follow onnxruntime's pool_attributes.h: with ceil_mode a last window that would start in
 * the end padding is dropped. MaxPool ignores padded positions (as if -inf); AveragePool divides by the
 * positions inside the input, or with count_include_pad by those inside the padded input.
 */
import { fail } from '../../util/errors.js';
import { NodeAttrs, nodeLabel, size, tensor, type Node, type Tensor } from '../ir.js';
import { need, onlyOutputs, requireDtype } from './broadcast.js';
import { windowAttrs, windowTable, type Window } from './conv.js';
import { maxOf } from '../quant/composite.js';
import type { Form, LowerCtx, QTensor } from '../quant/qtensor.js';
import { weightedSum } from './lowerLinear.js';
import type { OpCtx, OpDef, OpInput } from './types.js';

function poolWindow(ctx: OpCtx, xShape: readonly number[]): Window {
  const { attrs } = ctx;
  const rank = xShape.length - 2;
  if (rank < 1) fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: input must be (N, C, spatial...) (got [${xShape}])`);
  const inSp = xShape.slice(2);
  const kSp = attrs.ints('kernel_shape');
  attrs.require('kernel_shape', kSp.length === rank && kSp.every((k) => k >= 1), `${rank} positive sizes`);
  const { autoPad, strides, dilations, pads } = windowAttrs(ctx, rank);
  const ceil = attrs.int('ceil_mode', 0);
  attrs.require('ceil_mode', ceil === 0 || ceil === 1, 'ceil_mode is 0 or 1');
  pads.forEach((p, i) => attrs.require('pads', p < (kSp[i % rank] - 1) * dilations[i % rank] + 1, 'each pad smaller than its (dilated) kernel'));
  const padsBegin: number[] = [];
  const padsEnd: number[] = [];
  const outSp: number[] = [];
  for (let d = 0; d < rank; d++) {
    const dk = (kSp[d] - 1) * dilations[d] + 1;
    let pb = pads[d];
    let pe = pads[d + rank];
    let o: number;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      o = Math.floor((inSp[d] + strides[d] - 1) / strides[d]);
      const needed = Math.max(0, (o - 1) * strides[d] + dk - inSp[d]);
      pb = autoPad === 'SAME_LOWER' ? Math.floor((needed + 1) / 2) : Math.floor(needed / 2);
      pe = needed - pb;
    } else {
      if (autoPad === 'VALID') pb = pe = 0;
      const span = (inSp[d] + pb + pe - dk) / strides[d];
      o = (ceil ? Math.ceil(span) : Math.floor(span)) + 1;
      if (ceil && (o - 1) * strides[d] >= inSp[d] + pb) o--;
    }
    if (o < 1) fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: the kernel (${dk} dilated) does not fit spatial dim ${d} of size ${inSp[d]}`);
    padsBegin.push(pb);
    padsEnd.push(pe);
    outSp.push(o);
  }
  return { inSp, outSp, kSp, strides, dilations, padsBegin, padsEnd };
}

function pool(x: Tensor, win: Window, fn: (vals: number[], inPad: number) => number): Tensor {
  const t = windowTable(win);
  const planes = x.shape[0] * x.shape[1];
  const inSize = size(win.inSp);
  const out = new Float64Array(planes * t.O);
  const vals: number[] = [];
  for (let p = 0; p < planes; p++) {
    for (let o = 0; o < t.O; o++) {
      vals.length = 0;
      for (let k = 0; k < t.K; k++) {
        const i = t.idx[o * t.K + k];
        if (i >= 0) vals.push(x.data[p * inSize + i]);
      }
      out[p * t.O + o] = fn(vals, t.inPad[o]);
    }
  }
  return tensor(x.dtype, [x.shape[0], x.shape[1], ...win.outSp], out);
}

function checkX(ctx: OpCtx, inputs: ReadonlyArray<OpInput | undefined>, dtypes: Array<'float' | 'int'>): OpInput {
  const x = need(ctx, inputs, 0);
  requireDtype(ctx, x, dtypes);
  return x;
}

const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);
const max = (v: number[]) => v.reduce((a, b) => (b > a ? b : a), -Infinity);

const averagePool: OpDef = {
  op: 'AveragePool',
  infer(ctx, inputs) {
    const x = checkX(ctx, inputs, ['float']);
    const cip = ctx.attrs.int('count_include_pad', 0);
    ctx.attrs.require('count_include_pad', cip === 0 || cip === 1, 'count_include_pad is 0 or 1');
    const win = poolWindow(ctx, x.shape);
    return [{ dtype: x.dtype, shape: [x.shape[0], x.shape[1], ...win.outSp] }];
  },
  evalFloat(ctx, inputs) {
    const x = need(ctx, inputs, 0);
    const cip = ctx.attrs.int('count_include_pad', 0) === 1;
    return [pool(x, poolWindow(ctx, x.shape), (v, inPad) => sum(v) / (cip ? inPad : v.length))];
  },
  lower(ctx, [x]) {
    const win = poolWindow(ctx, x!.shape);
    const t = windowTable(win);
    const cip = ctx.attrs.int('count_include_pad', 0) === 1;
    const windows = poolWindows(x!, t);
    const counts = windows.map((v, j) => (cip ? t.inPad[j % t.O] : v.length));
    return [averageOf(ctx, x!, [x!.shape[0], x!.shape[1], ...win.outSp], windows, counts)];
  },
};

/** The flat input indices of each window's positions inside the input, per (plane, output position). */
function windowIndices(shape: readonly number[], t: ReturnType<typeof windowTable>): number[][] {
  const planes = shape[0] * shape[1];
  const inSize = size(shape.slice(2));
  const out: number[][] = [];
  for (let p = 0; p < planes; p++) {
    for (let o = 0; o < t.O; o++) {
      const v: number[] = [];
      for (let k = 0; k < t.K; k++) {
        const i = t.idx[o * t.K + k];
        if (i >= 0) v.push(p * inSize + i);
      }
      out.push(v);
    }
  }
  return out;
}

/** The forms of each window's positions inside the input, per (plane, output position). */
function poolWindows(x: QTensor, t: ReturnType<typeof windowTable>): Form[][] {
  return windowIndices(x.shape, t).map((v) => v.map((i) => x.elems[i]));
}

/**
 * A MaxPool fused into the Conv that feeds it (passes/fuse.ts fuseMaxPool) is described by the Conv's
 * `__pool.*` attributes: the pool node they make, or undefined when the node has none.
 */
export function fusedPoolNode(host: Node): Node | undefined {
  if (host.attrs.__pool !== 'MaxPool') return undefined;
  const attrs: Node['attrs'] = {};
  for (const [k, v] of Object.entries(host.attrs)) if (k.startsWith('__pool.')) attrs[k.slice('__pool.'.length)] = v;
  return { name: host.name, op: 'MaxPool', inputs: [], outputs: [], attrs };
}

const poolCtx = (ctx: OpCtx, node: Node): OpCtx => ({ node, attrs: new NodeAttrs(node), opset: ctx.opset });

/** The fused pool's float output from the host's (after its activation). */
export function evalFusedPool(ctx: OpCtx, pooled: Node, x: Tensor): Tensor {
  return pool(x, poolWindow(poolCtx(ctx, pooled), x.shape), max);
}

/** The fused pool's output shape and, per output, the host output elements it takes the maximum of. */
export function fusedPoolWindows(ctx: OpCtx, pooled: Node, shape: number[]): { shape: number[]; groups: number[][] } {
  const win = poolWindow(poolCtx(ctx, pooled), shape);
  const groups = windowIndices(shape, windowTable(win));
  if (groups.some((g) => g.length === 0)) fail('UNSUPPORTED_LAYER', `${nodeLabel(pooled)}: a pooling window lies entirely in the padding`);
  return { shape: [shape[0], shape[1], ...win.outSp], groups };
}

/** Whether a MaxPool's windows never overlap (strides >= dilated kernel), the condition for fusing it. */
export function disjointWindows(ctx: OpCtx, shape: readonly number[]): boolean {
  const win = poolWindow(ctx, shape);
  return win.kSp.every((k, d) => win.strides[d] >= (k - 1) * win.dilations[d] + 1);
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * Averages: each window's exact sum, divided by its count. One count for every window (no padding,
 * count_include_pad, global pools): a scale change, exact and free. Different counts: with L the least
 * common multiple of the counts (<= 2^12), sum * (L / count) at scale / L, still exact and free;
 * otherwise each sum is requantized onto the calibrated range (one requantization per element).
 */
function averageOf(ctx: LowerCtx, x: QTensor, shape: number[], windows: Form[][], counts: number[]): QTensor {
  const distinct = [...new Set(counts)];
  const L = distinct.reduce((l, c) => Math.min(l * (c / gcd(l, c)), 2 ** 31), 1);
  if (L <= 2 ** 12) {
    return { dtype: x.dtype, shape, scale: x.scale / L, elems: windows.map((v, j) => weightedSum(v.map((f) => [f, L / counts[j]]))) };
  }
  const sums: QTensor = { dtype: x.dtype, shape, scale: x.scale, elems: windows.map((v) => weightedSum(v.map((f) => [f, 1]))) };
  return ctx.b.requantize(
    sums,
    ctx.b.rangeFor(ctx.outStats()),
    counts.map((c) => x.scale / c),
  );
}

/** The maximum of each window (MaxOfN: (n - 1) x (width + 2) constraints); an empty window is refused. */
function maxOfWindows(ctx: LowerCtx, x: QTensor, shape: number[], windows: Form[][]): QTensor {
  return {
    dtype: x.dtype,
    shape,
    scale: x.scale,
    elems: windows.map((v) => {
      if (v.length === 0) fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: a pooling window lies entirely in the padding`);
      return maxOf(ctx.b, v);
    }),
  };
}

const maxPool: OpDef = {
  op: 'MaxPool',
  infer(ctx, inputs) {
    const x = checkX(ctx, inputs, ['float', 'int']);
    onlyOutputs(ctx, 1, ['Indices']);
    ctx.attrs.require('storage_order', ctx.attrs.int('storage_order', 0) === 0, 'storage_order 0 (row major)');
    const win = poolWindow(ctx, x.shape);
    return [{ dtype: x.dtype, shape: [x.shape[0], x.shape[1], ...win.outSp] }];
  },
  evalFloat(ctx, inputs) {
    const x = need(ctx, inputs, 0);
    return [pool(x, poolWindow(ctx, x.shape), max)];
  },
  // The maximum over the window's positions inside the input (padded positions excluded, as
  // onnxruntime's -inf padding), exact on signed values at x's scale: one MaxOfN per output,
  // (window - 1) x (width + 2) constraints (width: bits of the inputs' spread).
  lower(ctx, [x]) {
    const win = poolWindow(ctx, x!.shape);
    return [maxOfWindows(ctx, x!, [x!.shape[0], x!.shape[1], ...win.outSp], poolWindows(x!, windowTable(win)))];
  },
};

function globalPool(op: string, fn: (v: number[]) => number, dtypes: Array<'float' | 'int'>, lower: NonNullable<OpDef['lower']>): OpDef {
  const check = (ctx: OpCtx, shape: readonly number[]) => {
    if (shape.length < 3) fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: input must be (N, C, spatial...) (got [${shape}])`);
  };
  return {
    op,
    infer(ctx, inputs) {
      const x = checkX(ctx, inputs, dtypes);
      check(ctx, x.shape);
      return [{ dtype: x.dtype, shape: [x.shape[0], x.shape[1], ...x.shape.slice(2).map(() => 1)] }];
    },
    evalFloat(ctx, inputs) {
      const x = need(ctx, inputs, 0);
      check(ctx, x.shape);
      const inner = size(x.shape.slice(2));
      const out = new Float64Array(x.shape[0] * x.shape[1]);
      for (let p = 0; p < out.length; p++) out[p] = fn(Array.from(x.data.subarray(p * inner, (p + 1) * inner)));
      return [tensor(x.dtype, [x.shape[0], x.shape[1], ...x.shape.slice(2).map(() => 1)], out)];
    },
    lower(ctx, inputs) {
      check(ctx, inputs[0]!.shape);
      return lower(ctx, inputs);
    },
  };
}

/** Each (n, c) plane's forms and the output shape of a global pool. */
function planes(x: QTensor): { shape: number[]; windows: Form[][] } {
  const inner = size(x.shape.slice(2));
  const windows = Array.from({ length: x.shape[0] * x.shape[1] }, (_, p) => x.elems.slice(p * inner, (p + 1) * inner));
  return { shape: [x.shape[0], x.shape[1], ...x.shape.slice(2).map(() => 1)], windows };
}

// GlobalAveragePool: each plane's exact sum at scale / size (free). GlobalMaxPool: one MaxOfN per plane.
export const poolOps: OpDef[] = [
  averagePool,
  globalPool(
    'GlobalAveragePool',
    (v) => sum(v) / v.length,
    ['float'],
    (ctx, [x]) => {
      const { shape, windows } = planes(x!);
      return [
        averageOf(
          ctx,
          x!,
          shape,
          windows,
          windows.map((v) => v.length),
        ),
      ];
    },
  ),
  maxPool,
  globalPool('GlobalMaxPool', max, ['float'], (ctx, [x]) => {
    const { shape, windows } = planes(x!);
    return [maxOfWindows(ctx, x!, shape, windows)];
  }),
];
