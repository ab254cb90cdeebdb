/**
 * Shared helpers of the float op families: multidirectional (numpy) broadcasting as index maps, axis
 * normalisation, element-wise application, reductions over a set of axes, and constant-input reading
 * for attributes that moved to inputs (Reduce* axes, Clip bounds). Index maps are Int32Arrays from the
 * output's flat index to an input's flat index, so an op loops once over its output.
 */
import { fail } from '../../util/errors.js';
import { nodeLabel, size, strides, tensor, type DType, type Node, type Tensor } from '../ir.js';
import { broadcastIndex, broadcastShapes, normAxes as normAxesOf, normAxis as normAxisOf } from './indexing.js';
import type { OpCtx, OpInput, TypeShape } from './types.js';

// Broadcasting and axis rules live once, in indexing.ts; the float families read them from here too.
export { broadcastIndex, broadcastShapes };

/** An axis in [-rank, rank) as a non-negative axis; refuses one out of range, naming the attribute. */
export function normAxis(ctx: OpCtx, axis: number, rank: number, what = 'axis'): number {
  return normAxisOf(ctx.node, axis, rank, what);
}

/** Normalised, distinct axes, sorted (reductions and normalisations do not care about their order). */
export function normAxes(ctx: OpCtx, axes: readonly number[], rank: number, what = 'axes'): number[] {
  return normAxesOf(ctx.node, axes, rank, what).sort((x, y) => x - y);
}

/** A present input, or an error naming the node (the importer checks arity; this guards evalFloat). */
export function need<T>(ctx: OpCtx, inputs: ReadonlyArray<T | undefined>, i: number): T {
  const v = inputs[i];
  if (v === undefined) fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: input ${i} is required`);
  return v;
}

/** Refuse outputs beyond the first `count` that the node actually uses (Indices, Mean, InvStdDev, ...). */
export function onlyOutputs(ctx: OpCtx, count: number, names: string[]): void {
  ctx.node.outputs.forEach((o, i) => {
    if (i >= count && o !== '') {
      fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: output ${i} (${names[i - count] ?? 'extra'}) '${o}' is not supported`);
    }
  });
}

/** The value of a constant input, or a refusal naming what it is for. */
export function constInput(ctx: OpCtx, input: OpInput | undefined, what: string): Tensor | undefined {
  if (input === undefined) return undefined;
  if (!input.value) fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: input '${what}' must be a constant`);
  return input.value;
}

/** Element-wise n-ary map with broadcasting; the output's dtype is given. */
export function mapN(node: Node, dtype: DType, ts: readonly Tensor[], fn: (xs: number[]) => number): Tensor {
  const shape = broadcastShapes(
    node,
    ts.map((t) => t.shape),
  );
  const maps = ts.map((t) => broadcastIndex(shape, t.shape));
  const n = size(shape);
  const out = new Float64Array(n);
  const xs = new Array<number>(ts.length);
  for (let k = 0; k < n; k++) {
    for (let j = 0; j < ts.length; j++) xs[j] = ts[j].data[maps[j][k]];
    out[k] = fn(xs);
  }
  return { dtype, shape, data: out };
}

export function map2(node: Node, dtype: DType, a: Tensor, b: Tensor, fn: (x: number, y: number) => number): Tensor {
  const shape = broadcastShapes(node, [a.shape, b.shape]);
  const ma = broadcastIndex(shape, a.shape);
  const mb = broadcastIndex(shape, b.shape);
  const out = new Float64Array(size(shape));
  for (let k = 0; k < out.length; k++) out[k] = fn(a.data[ma[k]], b.data[mb[k]]);
  return { dtype, shape, data: out };
}

export function map1(t: Tensor, dtype: DType, fn: (x: number) => number): Tensor {
  return { dtype, shape: [...t.shape], data: t.data.map(fn) };
}

/** Shape after reducing `axes` (sorted, normalised). */
export function reducedShape(shape: readonly number[], axes: readonly number[], keepdims: boolean): number[] {
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keepdims) out.push(1);
  });
  return out;
}

/**
 * Groups of flat indices: for each output position (the kept axes, row-major), the input indices that
 * reduce into it, in row-major order of the reduced axes.
 */
export function reduceGroups(shape: readonly number[], axes: readonly number[]): { outer: number; inner: number; index: (o: number, i: number) => number } {
  const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const st = strides(shape);
  const keptShape = kept.map((i) => shape[i]);
  const redShape = axes.map((i) => shape[i]);
  const keptOff = offsets(
    keptShape,
    kept.map((i) => st[i]),
  );
  const redOff = offsets(
    redShape,
    axes.map((i) => st[i]),
  );
  return { outer: keptOff.length, inner: redOff.length, index: (o, i) => keptOff[o] + redOff[i] };
}

/** Flat offsets of every row-major position of `shape` under strides `st`. */
function offsets(shape: readonly number[], st: readonly number[]): Int32Array {
  const n = size(shape);
  const out = new Int32Array(n);
  const idx = new Array<number>(shape.length).fill(0);
  let cur = 0;
  for (let k = 0; k < n; k++) {
    out[k] = cur;
    for (let a = shape.length - 1; a >= 0; a--) {
      idx[a]++;
      cur += st[a];
      if (idx[a] < shape[a]) break;
      cur -= st[a] * idx[a];
      idx[a] = 0;
    }
  }
  return out;
}

/** Reduce `t` over `axes` with `fn`, which gets each group's values (row-major). */
export function reduceBy(t: Tensor, axes: readonly number[], keepdims: boolean, dtype: DType, fn: (vals: Float64Array) => number): Tensor {
  const g = reduceGroups(t.shape, axes);
  const out = new Float64Array(g.outer);
  const vals = new Float64Array(g.inner);
  for (let o = 0; o < g.outer; o++) {
    for (let i = 0; i < g.inner; i++) vals[i] = t.data[g.index(o, i)];
    out[o] = fn(vals);
  }
  return tensor(dtype, reducedShape(t.shape, axes, keepdims), out);
}

/** Same dtype and shape as the first input: the rule of every unary op. */
export function sameAs(ctx: OpCtx, inputs: ReadonlyArray<OpInput | undefined>): TypeShape[] {
  const x = need(ctx, inputs, 0);
  return [{ dtype: x.dtype, shape: [...x.shape] }];
}

/** Refuse a float or bool input where only some dtypes make sense. */
export function requireDtype(ctx: OpCtx, input: { dtype: DType }, allowed: DType[], what = 'input'): void {
  if (!allowed.includes(input.dtype)) {
    fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: ${what} of dtype '${input.dtype}' is not supported (needs ${allowed.join(' or ')})`);
  }
}
