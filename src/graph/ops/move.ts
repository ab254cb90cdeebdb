/**
 * The shape of a data-movement OpDef: the op gives a MovePlan per output (from input shapes and the
 * values of its constant parameter inputs), and infer, evalFloat and lower all follow that plan. Also the
 * helpers that read parameters that moved from attributes to inputs between opsets.
 */
import { fail } from '../../util/errors.js';
import { nodeLabel, type DType, type Tensor } from '../ir.js';
import type { LowerCtx, QTensor } from '../quant/qtensor.js';
import { applyPlanFloat, applyPlanQ, type MovePlan } from './indexing.js';
import type { OpCtx, OpDef, OpInput } from './types.js';

export interface MoveSpec {
  op: string;
  /** One plan per output; `dtype` defaults to input 0's. */
  plan(ctx: OpCtx, inputs: Array<OpInput | undefined>): Array<MovePlan & { dtype?: DType }>;
}

export function moveOp(spec: MoveSpec): OpDef {
  const asInputs = (ts: Array<Tensor | undefined>): Array<OpInput | undefined> => ts.map((t) => t && { dtype: t.dtype, shape: t.shape, value: t });
  return {
    op: spec.op,
    infer(ctx, inputs) {
      return spec.plan(ctx, inputs).map((p) => ({ dtype: p.dtype ?? inputs[0]!.dtype, shape: p.shape }));
    },
    evalFloat(ctx, inputs) {
      return spec.plan(ctx, asInputs(inputs)).map((p) => applyPlanFloat(p, p.dtype ?? inputs[0]!.dtype, inputs));
    },
    lower(ctx: LowerCtx, inputs: Array<QTensor | undefined>) {
      const infos = inputs.map((q, i): OpInput | undefined => q && { dtype: q.dtype, shape: q.shape, value: ctx.constant(i) });
      return spec.plan(ctx, infos).map((p) => applyPlanQ(ctx.node, p, p.dtype ?? inputs[0]!.dtype, inputs, ctx.b));
    },
  };
}

/** Input i, which must be present. */
export function need(ctx: OpCtx, inputs: Array<OpInput | undefined>, i: number): OpInput {
  const x = inputs[i];
  if (!x) fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: input ${i} is required but absent`);
  return x;
}

/** The values of constant input i (a Reshape's shape, a Slice's starts); a computed one is refused by name. */
export function constInput(ctx: OpCtx, inputs: Array<OpInput | undefined>, i: number, role: string): number[] {
  const x = need(ctx, inputs, i);
  if (!x.value) {
    fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: input ${i} (${role}, '${ctx.node.inputs[i]}') must be a constant, but it is computed by the graph`);
  }
  return Array.from(x.value.data);
}

/** Like constInput, but undefined when the optional input is absent. */
export function optConstInput(ctx: OpCtx, inputs: Array<OpInput | undefined>, i: number, role: string): number[] | undefined {
  return inputs[i] ? constInput(ctx, inputs, i, role) : undefined;
}

/**
 * A parameter that was attribute `attr` before opset `since` and input `index` from it on (Squeeze's
 * axes, Slice's starts, Pad's pads, Split's split). Undefined when absent.
 */
export function movedParam(ctx: OpCtx, inputs: Array<OpInput | undefined>, attr: string, index: number, since: number): number[] | undefined {
  if (ctx.opset >= since) {
    if (ctx.attrs.has(attr)) fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: attribute '${attr}' is an input from opset ${since} on (this model uses opset ${ctx.opset})`);
    return optConstInput(ctx, inputs, index, attr);
  }
  return ctx.attrs.has(attr) ? ctx.attrs.ints(attr) : undefined;
}

export function checkInts(ctx: OpCtx, what: string, values: number[]): number[] {
  if (!values.every(Number.isInteger)) fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: ${what} ${JSON.stringify(values)} must be integers`);
  return values;
}
