/**
 * Selecting and joining: Concat, Split, Slice, Pad, Gather, Resize (nearest). Each
 * is a move plan (move.ts); parameters that moved from attributes to inputs are read by opset.
 */
import { fail } from '../../util/errors.js';
import { nodeLabel, size, strides } from '../ir.js';
import { mapPlan, normAxes, normAxis } from './indexing.js';
import { checkInts, constInput, moveOp, movedParam, need, optConstInput } from './move.js';
import { lowerGatherComputed } from './lowerCompare.js';
import type { OpCtx, OpDef, OpInput } from './types.js';

function bad(ctx: OpCtx, msg: string): never {
  return fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: ${msg}`);
}

const concat = moveOp({
  op: 'Concat',
  plan(ctx, inputs) {
    const xs = inputs.filter((x): x is OpInput => x !== undefined);
    if (xs.length === 0) bad(ctx, 'needs at least one input');
    const rank = xs[0].shape.length;
    const axis = normAxis(ctx.node, ctx.attrs.int('axis'), rank);
    xs.forEach((x, i) => {
      if (x.shape.length !== rank || x.shape.some((d, k) => k !== axis && d !== xs[0].shape[k])) {
        bad(ctx, `input ${i} has shape [${x.shape.join(', ')}], which does not match input 0's [${xs[0].shape.join(', ')}] off axis ${axis}`);
      }
    });
    const present = inputs.flatMap((x, i) => (x ? [i] : []));
    const out = [...xs[0].shape];
    out[axis] = xs.reduce((a, x) => a + x.shape[axis], 0);
    const outer = size(out.slice(0, axis));
    const inner = size(out.slice(axis + 1));
    const at = new Int32Array(size(out));
    const from = new Uint16Array(size(out));
    let j = 0;
    for (let o = 0; o < outer; o++) {
      xs.forEach((x, k) => {
        const n = x.shape[axis] * inner;
        for (let t = 0; t < n; t++, j++) {
          at[j] = o * n + t;
          from[j] = present[k];
        }
      });
    }
    return [{ shape: out, at, from }];
  },
});

const split = moveOp({
  op: 'Split',
  plan(ctx, inputs) {
    const s = need(ctx, inputs, 0).shape;
    const axis = normAxis(ctx.node, ctx.attrs.int('axis', 0), s.length);
    const n = ctx.node.outputs.length;
    const dim = s[axis];
    let parts = movedParam(ctx, inputs, 'split', 1, 13);
    if (parts) {
      checkInts(ctx, 'split', parts);
      if (parts.length !== n || parts.some((p) => p < 0) || parts.reduce((a, b) => a + b, 0) !== dim) {
        bad(ctx, `split ${JSON.stringify(parts)} must be ${n} non-negative sizes adding up to ${dim} (axis ${axis} of [${s.join(', ')}])`);
      }
    } else {
      const k = ctx.attrs.int('num_outputs', n);
      if (k !== n) bad(ctx, `attribute 'num_outputs' = ${k} but the node has ${n} outputs`);
      // Equal parts; from opset 18 the last may be smaller (ceil), before that they must be equal.
      const chunk = Math.ceil(dim / n);
      if (ctx.opset < 18 && dim % n !== 0) bad(ctx, `axis ${axis} of size ${dim} cannot be split into ${n} equal parts`);
      parts = Array.from({ length: n }, (_, i) => Math.max(0, Math.min(chunk, dim - i * chunk)));
    }
    let start = 0;
    return parts.map((p) => {
      const from = start;
      start += p;
      const out = [...s];
      out[axis] = p;
      return mapPlan(s, out, (idx) => {
        const src = [...idx];
        src[axis] += from;
        return src;
      });
    });
  },
});

/** Per-axis [start, step, count] of a Slice, by ONNX's clamping rules. */
export function sliceRanges(
  ctx: OpCtx,
  shape: number[],
  starts: number[],
  ends: number[],
  axesIn: number[] | undefined,
  steps: number[] | undefined,
): Array<[number, number, number]> {
  const axes = normAxes(ctx.node, axesIn ?? starts.map((_, i) => i), shape.length);
  const st = steps ?? starts.map(() => 1);
  if (ends.length !== starts.length || axes.length !== starts.length || st.length !== starts.length) {
    bad(ctx, `starts ${JSON.stringify(starts)}, ends ${JSON.stringify(ends)}, axes ${JSON.stringify(axesIn)} and steps ${JSON.stringify(steps)} must have the same length`);
  }
  const r: Array<[number, number, number]> = shape.map((d) => [0, 1, d]);
  axes.forEach((a, i) => {
    const dim = shape[a];
    const step = st[i];
    if (step === 0) bad(ctx, `steps ${JSON.stringify(st)}: a step of 0 is invalid`);
    let b = starts[i] < 0 ? starts[i] + dim : starts[i];
    let e = ends[i] < 0 ? ends[i] + dim : ends[i];
    if (step > 0) {
      b = Math.min(Math.max(b, 0), dim);
      e = Math.min(Math.max(e, 0), dim);
    } else {
      b = Math.min(Math.max(b, 0), dim - 1);
      e = Math.min(Math.max(e, -1), dim - 1);
    }
    r[a] = [b, step, Math.max(0, Math.ceil((e - b) / step))];
  });
  return r;
}

const slice = moveOp({
  op: 'Slice',
  plan(ctx, inputs) {
    const s = need(ctx, inputs, 0).shape;
    let starts: number[], ends: number[], axes: number[] | undefined, steps: number[] | undefined;
    if (ctx.opset >= 10) {
      starts = constInput(ctx, inputs, 1, 'starts');
      ends = constInput(ctx, inputs, 2, 'ends');
      axes = optConstInput(ctx, inputs, 3, 'axes');
      steps = optConstInput(ctx, inputs, 4, 'steps');
    } else {
      starts = ctx.attrs.ints('starts');
      ends = ctx.attrs.ints('ends');
      axes = ctx.attrs.has('axes') ? ctx.attrs.ints('axes') : undefined;
    }
    const r = sliceRanges(ctx, s, starts, ends, axes, steps);
    return [
      mapPlan(
        s,
        r.map((x) => x[2]),
        (idx) => idx.map((i, k) => r[k][0] + i * r[k][1]),
      ),
    ];
  },
});

const pad = moveOp({
  op: 'Pad',
  plan(ctx, inputs) {
    const x = need(ctx, inputs, 0);
    const s = x.shape;
    const mode = ctx.attrs.string('mode', 'constant');
    ctx.attrs.require('mode', ['constant', 'reflect', 'edge'].includes(mode), 'constant, reflect, edge');
    let pads: number[];
    let value = 0;
    let axes = s.map((_, i) => i);
    if (ctx.opset >= 11) {
      pads = checkInts(ctx, 'pads', constInput(ctx, inputs, 1, 'pads'));
      if (inputs[2]) value = constInput(ctx, inputs, 2, 'constant_value')[0] ?? 0;
      if (inputs[3]) axes = normAxes(ctx.node, constInput(ctx, inputs, 3, 'axes'), s.length);
    } else {
      pads = ctx.attrs.ints(ctx.opset >= 2 ? 'pads' : 'paddings');
      value = ctx.attrs.float('value', 0);
    }
    if (pads.length !== 2 * axes.length) bad(ctx, `pads ${JSON.stringify(pads)} must hold ${2 * axes.length} values (begin and end for each of ${axes.length} axes)`);
    const begin = s.map(() => 0);
    const end = s.map(() => 0);
    axes.forEach((a, i) => {
      begin[a] = pads[i];
      end[a] = pads[i + axes.length];
    });
    const out = s.map((d, i) => d + begin[i] + end[i]);
    if (out.some((d) => d < 0)) bad(ctx, `pads ${JSON.stringify(pads)} remove more than the input [${s.join(', ')}] has`);
    if (mode === 'reflect' && s.some((d, i) => (begin[i] > 0 || end[i] > 0) && (begin[i] >= d || end[i] >= d))) {
      bad(ctx, `reflect pads ${JSON.stringify(pads)} must be smaller than the padded dimensions of [${s.join(', ')}]`);
    }
    if (mode === 'edge' && s.some((d, i) => d === 0 && (begin[i] > 0 || end[i] > 0))) bad(ctx, 'edge padding of an empty dimension');
    const src = new Array<number>(s.length);
    return [
      mapPlan(
        s,
        out,
        (idx) => {
          for (let k = 0; k < s.length; k++) {
            let i = idx[k] - begin[k];
            const d = s[k];
            if (i < 0 || i >= d) {
              if (mode === 'constant') return null;
              if (mode === 'edge') i = i < 0 ? 0 : d - 1;
              else i = i < 0 ? -i : 2 * (d - 1) - i;
            }
            src[k] = i;
          }
          return src;
        },
        value,
      ),
    ];
  },
});

const gatherConst = moveOp({
  op: 'Gather',
  plan(ctx, inputs) {
    const s = need(ctx, inputs, 0).shape;
    const axis = normAxis(ctx.node, ctx.attrs.int('axis', 0), s.length);
    const idx = need(ctx, inputs, 1);
    const values = checkInts(ctx, 'indices', constInput(ctx, inputs, 1, 'indices'));
    const dim = s[axis];
    const ix = values.map((v) => {
      if (v < -dim || v >= dim) bad(ctx, `index ${v} is out of range for axis ${axis} of size ${dim}`);
      return v < 0 ? v + dim : v;
    });
    const out = [...s.slice(0, axis), ...idx.shape, ...s.slice(axis + 1)];
    const q = idx.shape.length;
    const is = strides(idx.shape);
    return [
      mapPlan(s, out, (o) => {
        let flat = 0;
        for (let k = 0; k < q; k++) flat += o[axis + k] * is[k];
        return [...o.slice(0, axis), ix[flat], ...o.slice(axis + q)];
      }),
    ];
  },
});

// Constant indices: a move plan (free). Computed int indices (an ArgMax result indexing a table):
// lowerCompare.ts's one-hot / lookup construction, exact, refused when the indices' bounds leave the axis.
const gather: OpDef = {
  ...gatherConst,
  infer(ctx, inputs) {
    const idx = need(ctx, inputs, 1);
    if (idx.value) return gatherConst.infer(ctx, inputs);
    const x = need(ctx, inputs, 0);
    if (idx.dtype !== 'int') bad(ctx, `indices of dtype '${idx.dtype}' are not supported (needs int)`);
    const axis = normAxis(ctx.node, ctx.attrs.int('axis', 0), x.shape.length);
    return [{ dtype: x.dtype, shape: [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)] }];
  },
  lower(ctx, inputs) {
    if (ctx.constant(1)) return gatherConst.lower!(ctx, inputs);
    const x = inputs[0]!;
    return [lowerGatherComputed(ctx, x, inputs[1]!, normAxis(ctx.node, ctx.attrs.int('axis', 0), x.shape.length))];
  },
};

export const sliceOps: OpDef[] = [concat, split, slice, pad, gather];
