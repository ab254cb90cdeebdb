/**
 * The Reduce* family's shared OpDef maker. Axes are the `axes` attribute before the opset where they
 * became the second input (13 for ReduceSum, 18 for the others) and that input from then on (it must be
 * a constant); `keepdims` defaults to 1; with no axes every axis is reduced, unless
 * `noop_with_empty_axes` = 1 (input form only), which reduces nothing: each element is its own group.
 */
import { fail } from '../../util/errors.js';
import { nodeLabel, type DType, type Tensor } from '../ir.js';
import { constInput, need, normAxes, reduceBy, reducedShape, requireDtype } from './broadcast.js';
import type { OpCtx, OpDef, OpInput } from './types.js';

interface ReducePlan {
  /** Sorted normalised axes; null: the identity (noop_with_empty_axes with no axes). */
  axes: number[] | null;
  keepdims: boolean;
}

export function plan(ctx: OpCtx, rank: number, axesSince: number, axesInput: OpInput | Tensor | undefined): ReducePlan {
  const { attrs } = ctx;
  const keepdims = attrs.int('keepdims', 1);
  attrs.require('keepdims', keepdims === 0 || keepdims === 1, 'keepdims is 0 or 1');
  let axes: number[] | undefined;
  let noop = 0;
  if (ctx.opset >= axesSince) {
    attrs.require('axes', !attrs.has('axes'), `from opset ${axesSince} the axes are the second input`);
    noop = attrs.int('noop_with_empty_axes', 0);
    attrs.require('noop_with_empty_axes', noop === 0 || noop === 1, 'noop_with_empty_axes is 0 or 1');
    const t = axesInput && 'data' in axesInput ? axesInput : constInput(ctx, axesInput, 'axes');
    if (t) {
      if (t.shape.length > 1) fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: the axes input must be 1-D (got shape [${t.shape}])`);
      axes = Array.from(t.data);
    }
  } else {
    if (attrs.has('axes')) axes = attrs.ints('axes');
  }
  if (!axes || axes.length === 0) {
    if (noop === 1) return { axes: null, keepdims: keepdims === 1 };
    return { axes: Array.from({ length: rank }, (_, i) => i), keepdims: keepdims === 1 };
  }
  return { axes: normAxes(ctx, axes, rank), keepdims: keepdims === 1 };
}

export interface ReduceSpec {
  op: string;
  /** Opset from which the axes are an input. */
  axesSince?: number;
  /** Dtypes the op accepts (float, int by default). */
  dtypes?: DType[];
  /** The group's value; `dtype` is the input's (int results are truncated by the caller). */
  fn: (vals: Float64Array, dtype: DType) => number;
}

export function reduceOp(spec: ReduceSpec): OpDef {
  const since = spec.axesSince ?? 18;
  const dtypes = spec.dtypes ?? ['float', 'int'];
  return {
    op: spec.op,
    infer(ctx, inputs) {
      const x = need(ctx, inputs, 0);
      requireDtype(ctx, x, dtypes);
      const p = plan(ctx, x.shape.length, since, inputs[1]);
      return [{ dtype: x.dtype, shape: p.axes ? reducedShape(x.shape, p.axes, p.keepdims) : [...x.shape] }];
    },
    evalFloat(ctx, inputs) {
      const x = need(ctx, inputs, 0);
      const p = plan(ctx, x.shape.length, since, inputs[1]);
      const int = x.dtype === 'int';
      // onnxruntime still applies the per-element part (ReduceL1's abs, ReduceSumSquare's square) then.
      if (!p.axes) return [{ dtype: x.dtype, shape: [...x.shape], data: x.data.map((v) => spec.fn(Float64Array.of(v), x.dtype)) }];
      return [reduceBy(x, p.axes, p.keepdims, x.dtype, (v) => (int ? Math.trunc(spec.fn(v, x.dtype)) : spec.fn(v, x.dtype)))];
    },
  };
}

export const sumOf = (v: Float64Array): number => {
  let s = 0;
  for (const x of v) s += x;
  return s;
};
