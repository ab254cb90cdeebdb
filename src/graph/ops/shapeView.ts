/**
 * Views and repeats: Identity, Dropout (inference), Reshape, Flatten, Squeeze, Unsqueeze, Transpose,
 * Expand, Tile, Trilu. Each is a move plan (move.ts): the lowering picks input forms, exactly and for free.
 */
import { fail } from '../../util/errors.js';
import { nodeLabel, size } from '../ir.js';
import { broadcastIndex, broadcastShapes, mapPlan, normAxes, normAxis, samePlan } from './indexing.js';
import { checkInts, constInput, moveOp, movedParam, need } from './move.js';
import type { OpCtx, OpDef } from './types.js';

function bad(ctx: OpCtx, msg: string): never {
  return fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: ${msg}`);
}

const identity = moveOp({ op: 'Identity', plan: (_ctx, inputs) => [samePlan(inputs[0]!.shape)] });

const dropout = moveOp({
  op: 'Dropout',
  plan(ctx, inputs) {
    const x = need(ctx, inputs, 0);
    if (ctx.attrs.has('training_mode')) ctx.attrs.require('training_mode', ctx.attrs.int('training_mode') === 0, 'inference mode only');
    const training = inputs[2];
    if (training) {
      const v = constInput(ctx, inputs, 2, 'training_mode');
      if (v[0] !== 0) bad(ctx, `input 2 (training_mode) = ${v[0]} is not supported (inference mode only)`);
    }
    const mask = { shape: [...x.shape], at: new Int32Array(size(x.shape)).fill(-1), fill: 1, dtype: 'bool' as const };
    return ctx.node.outputs.length > 1 ? [samePlan(x.shape), mask] : [samePlan(x.shape)];
  },
});

/** Reshape's target: 0 copies the input dimension (unless allowzero), one -1 takes what is left. */
export function reshapeTarget(ctx: OpCtx, inShape: number[], target: number[], allowZero: boolean): number[] {
  const out = target.map((d, i) =>
    d === 0 && !allowZero ? (i < inShape.length ? inShape[i] : bad(ctx, `shape ${JSON.stringify(target)}: 0 at dimension ${i} has no input dimension to copy`)) : d,
  );
  const minus = out.filter((d) => d === -1).length;
  if (minus > 1 || out.some((d) => d < -1)) bad(ctx, `shape ${JSON.stringify(target)} is invalid (at most one -1, no other negative sizes)`);
  const n = size(inShape);
  if (minus === 1) {
    const rest = size(out.filter((d) => d !== -1));
    if (rest === 0 || n % rest !== 0) bad(ctx, `shape ${JSON.stringify(target)} cannot hold the input's ${n} elements (input shape [${inShape.join(', ')}])`);
    out[out.indexOf(-1)] = n / rest;
  }
  if (size(out) !== n) bad(ctx, `shape ${JSON.stringify(target)} has ${size(out)} elements, the input [${inShape.join(', ')}] has ${n}`);
  return out;
}

const reshape = moveOp({
  op: 'Reshape',
  plan(ctx, inputs) {
    const x = need(ctx, inputs, 0);
    const target = ctx.opset >= 5 ? constInput(ctx, inputs, 1, 'shape') : ctx.attrs.ints('shape');
    return [samePlan(reshapeTarget(ctx, x.shape, checkInts(ctx, 'shape', target), ctx.attrs.int('allowzero', 0) === 1))];
  },
});

const flatten = moveOp({
  op: 'Flatten',
  plan(ctx, inputs) {
    const s = need(ctx, inputs, 0).shape;
    const a = ctx.attrs.int('axis', 1);
    const axis = a === s.length ? s.length : normAxis(ctx.node, a, s.length);
    return [samePlan([size(s.slice(0, axis)), size(s.slice(axis))])];
  },
});

const squeeze = moveOp({
  op: 'Squeeze',
  plan(ctx, inputs) {
    const s = need(ctx, inputs, 0).shape;
    const given = movedParam(ctx, inputs, 'axes', 1, 13);
    const axes = given ? normAxes(ctx.node, given, s.length) : s.flatMap((d, i) => (d === 1 ? [i] : []));
    for (const a of axes) if (s[a] !== 1) bad(ctx, `axis ${a} has size ${s[a]}, only dimensions of size 1 can be squeezed (input shape [${s.join(', ')}])`);
    return [samePlan(s.filter((_, i) => !axes.includes(i)))];
  },
});

const unsqueeze = moveOp({
  op: 'Unsqueeze',
  plan(ctx, inputs) {
    const s = need(ctx, inputs, 0).shape;
    const given = movedParam(ctx, inputs, 'axes', 1, 13);
    if (!given) bad(ctx, 'axes are required');
    const rank = s.length + given.length;
    const axes = normAxes(ctx.node, given, rank);
    const out: number[] = [];
    let k = 0;
    for (let i = 0; i < rank; i++) out.push(axes.includes(i) ? 1 : s[k++]);
    return [samePlan(out)];
  },
});

const transpose = moveOp({
  op: 'Transpose',
  plan(ctx, inputs) {
    const s = need(ctx, inputs, 0).shape;
    const perm = ctx.attrs.ints(
      'perm',
      s.map((_, i) => s.length - 1 - i),
    );
    if (perm.length !== s.length || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) bad(ctx, `perm ${JSON.stringify(perm)} is not a permutation of the ${s.length} axes`);
    const out = perm.map((p) => s[p]);
    const src = new Array<number>(s.length);
    return [
      mapPlan(s, out, (idx) => {
        for (let k = 0; k < perm.length; k++) src[perm[k]] = idx[k];
        return src;
      }),
    ];
  },
});

const expand = moveOp({
  op: 'Expand',
  plan(ctx, inputs) {
    const s = need(ctx, inputs, 0).shape;
    const target = checkInts(ctx, 'shape', constInput(ctx, inputs, 1, 'shape'));
    const out = broadcastShapes(ctx.node, [s, target]);
    return [{ shape: out, at: broadcastIndex(out, s) }];
  },
});

const tile = moveOp({
  op: 'Tile',
  plan(ctx, inputs) {
    const s = need(ctx, inputs, 0).shape;
    const reps = checkInts(ctx, 'repeats', constInput(ctx, inputs, 1, 'repeats'));
    if (reps.length !== s.length || reps.some((r) => r < 0)) bad(ctx, `repeats ${JSON.stringify(reps)} must be ${s.length} non-negative integers (input shape [${s.join(', ')}])`);
    const src = new Array<number>(s.length);
    return [
      mapPlan(
        s,
        s.map((d, i) => d * reps[i]),
        (idx) => {
          for (let k = 0; k < s.length; k++) src[k] = idx[k] % s[k];
          return src;
        },
      ),
    ];
  },
});

/**
 * Trilu(x, k): the upper (upper = 1, default) or lower triangle of the last two axes, relative to diagonal
 * k; the rest is 0. A move plan with fill 0: causal masks built from a constant fold, and on computed x
 * it is free (kept elements are x's forms, the others the constant 0).
 */
const trilu = moveOp({
  op: 'Trilu',
  plan(ctx, inputs) {
    const x = need(ctx, inputs, 0);
    if (x.shape.length < 2) bad(ctx, `input rank ${x.shape.length} is below 2`);
    const k = inputs[1] ? checkInts(ctx, 'k', constInput(ctx, inputs, 1, 'k'))[0] : 0;
    const upper = ctx.attrs.int('upper', 1);
    ctx.attrs.require('upper', upper === 0 || upper === 1, 'upper is 0 or 1');
    const r = x.shape.length;
    return [
      mapPlan(
        x.shape,
        [...x.shape],
        (idx) => {
          const d = idx[r - 1] - idx[r - 2];
          return (upper ? d >= k : d <= k) ? [...idx] : null;
        },
        0,
      ),
    ];
  },
});

export const viewOps: OpDef[] = [identity, dropout, reshape, flatten, squeeze, unsqueeze, transpose, expand, tile, trilu];
