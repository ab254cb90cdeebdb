/**
 * Ops about shapes and dtypes: Shape, Size, ConstantOfShape, Range (these only ever fold: their inputs
 * must be known before compilation) and Cast.
 */
import { fail } from '../../util/errors.js';
import { nodeLabel, size, tensor, type DType, type Tensor } from '../ir.js';
import { elemDType } from '../onnxValues.js';
import type { LowerCtx, QTensor } from '../quant/qtensor.js';
import { lowerCastComputed } from './lowerCompare.js';
import { checkInts, constInput, need } from './move.js';
import type { OpCtx, OpDef, OpInput, TypeShape } from './types.js';

function bad(ctx: OpCtx, msg: string): never {
  return fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: ${msg}`);
}

function shapeRange(ctx: OpCtx, rank: number): [number, number] {
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
  return [clamp(ctx.attrs.int('start', 0)), clamp(ctx.attrs.int('end', rank))];
}

const shapeOp: OpDef = {
  op: 'Shape',
  foldsOnShape: true,
  infer(ctx, inputs) {
    const [b, e] = shapeRange(ctx, need(ctx, inputs, 0).shape.length);
    return [{ dtype: 'int', shape: [Math.max(0, e - b)] }];
  },
  evalFloat(ctx, inputs) {
    const s = inputs[0]!.shape;
    const [b, e] = shapeRange(ctx, s.length);
    const dims = s.slice(b, Math.max(b, e));
    return [tensor('int', [dims.length], dims)];
  },
};

const sizeOp: OpDef = {
  op: 'Size',
  foldsOnShape: true,
  infer: () => [{ dtype: 'int', shape: [] }],
  evalFloat: (_ctx, inputs) => [tensor('int', [], [size(inputs[0]!.shape)])],
};

function fillValue(ctx: OpCtx): Tensor {
  const v = ctx.attrs.tensor('value') ?? tensor('float', [1], [0]);
  if (v.data.length !== 1) bad(ctx, `attribute 'value' must hold one element (got shape [${v.shape.join(', ')}])`);
  return v;
}

function targetShape(ctx: OpCtx, inputs: Array<OpInput | undefined>): number[] {
  const s = checkInts(ctx, 'shape', constInput(ctx, inputs, 0, 'shape'));
  if (s.some((d) => d < 0)) bad(ctx, `shape ${JSON.stringify(s)} has a negative size`);
  return s;
}

const constantOfShape: OpDef = {
  op: 'ConstantOfShape',
  infer(ctx, inputs) {
    return [{ dtype: fillValue(ctx).dtype, shape: targetShape(ctx, inputs) }];
  },
  evalFloat(ctx, inputs) {
    const v = fillValue(ctx);
    const shape = targetShape(
      ctx,
      inputs.map((t) => t && { ...t, value: t }),
    );
    return [{ dtype: v.dtype, shape, data: new Float64Array(size(shape)).fill(v.data[0]) }];
  },
};

function rangeCount(ctx: OpCtx, inputs: Array<OpInput | undefined>): [number, number, number] {
  const [start, limit, delta] = [0, 1, 2].map((i) => constInput(ctx, inputs, i, ['start', 'limit', 'delta'][i])[0]);
  if (delta === 0) bad(ctx, 'delta is 0');
  return [start, delta, Math.max(Math.ceil((limit - start) / delta), 0)];
}

const range: OpDef = {
  op: 'Range',
  infer(ctx, inputs) {
    return [{ dtype: need(ctx, inputs, 0).dtype, shape: [rangeCount(ctx, inputs)[2]] }];
  },
  evalFloat(ctx, inputs) {
    const [start, delta, n] = rangeCount(
      ctx,
      inputs.map((t) => t && { ...t, value: t }),
    );
    return [
      tensor(
        inputs[0]!.dtype,
        [n],
        Array.from({ length: n }, (_, i) => start + i * delta),
      ),
    ];
  },
};

function castTarget(ctx: OpCtx): DType {
  const to = ctx.attrs.int('to');
  const d = elemDType(to);
  if (!d) bad(ctx, `attribute 'to' = ${to} is not a supported type (float, double, float16, integers, bool)`);
  return d;
}

/** A value converted to `to` as onnxruntime does it: to int truncates toward zero, to bool tests != 0. */
export function castValue(v: number, from: DType, to: DType): number {
  if (to === 'bool') return v !== 0 ? 1 : 0;
  if (to === 'int' && from === 'float') return Math.trunc(v) + 0; // + 0: no -0
  return v;
}

const cast: OpDef = {
  op: 'Cast',
  infer(ctx, inputs): TypeShape[] {
    return [{ dtype: castTarget(ctx), shape: [...need(ctx, inputs, 0).shape] }];
  },
  evalFloat(ctx, inputs) {
    const x = inputs[0]!;
    const to = castTarget(ctx);
    return [{ dtype: to, shape: [...x.shape], data: x.data.map((v) => castValue(v, x.dtype, to)) }];
  },
  lower(ctx: LowerCtx, inputs: Array<QTensor | undefined>) {
    const x = inputs[0]!;
    const to = castTarget(ctx);
    if (x.dtype === to) return [x];
    // int and bool values are exact integers at scale 1: becoming a float or an int changes bookkeeping only.
    const exact = (x.dtype === 'int' && to === 'float') || (x.dtype === 'bool' && (to === 'float' || to === 'int'));
    if (exact) return [{ dtype: to, shape: [...x.shape], scale: x.scale, elems: x.elems }];
    // To bool (x != 0) and float to int (truncation toward zero): lowerCompare.ts, exact.
    return [lowerCastComputed(ctx, x, to)];
  },
};

export const metaOps: OpDef[] = [shapeOp, sizeOp, constantOfShape, range, cast];
