/**
 * Resize in nearest mode (and opset 10's form of it), as onnxruntime computes it: each output coordinate
 * is mapped back by the coordinate transformation and rounded by nearest_mode, then clamped. Linear and
 * cubic interpolation mix elements (they are not data movement) and are refused by name for now.
 */
import { fail } from '../../util/errors.js';
import { nodeLabel } from '../ir.js';
import { mapPlan, normAxes } from './indexing.js';
import { moveOp, need, optConstInput } from './move.js';
import type { OpCtx, OpDef } from './types.js';

function bad(ctx: OpCtx, msg: string): never {
  return fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: ${msg}`);
}

const TRANSFORMS = ['half_pixel', 'asymmetric', 'align_corners', 'pytorch_half_pixel', 'tf_half_pixel_for_nn'];
const ROUNDINGS = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'];

function original(mode: string, x: number, scale: number, inDim: number, outDim: number): number {
  switch (mode) {
    case 'half_pixel':
      return (x + 0.5) / scale - 0.5;
    case 'pytorch_half_pixel':
      return outDim > 1 ? (x + 0.5) / scale - 0.5 : 0;
    case 'align_corners':
      return outDim === 1 ? 0 : (x * (inDim - 1)) / (outDim - 1);
    case 'tf_half_pixel_for_nn':
      return (x + 0.5) / scale;
    default: // asymmetric
      return x / scale;
  }
}

function round(mode: string, x: number, downsample: boolean): number {
  switch (mode) {
    case 'round_prefer_floor':
      return x === Math.floor(x) + 0.5 ? Math.floor(x) : Math.round(x);
    case 'round_prefer_ceil':
      return Math.round(x);
    case 'floor':
      return Math.floor(x);
    case 'ceil':
      return Math.ceil(x);
    default: // opset 10 (onnxruntime's "simple" rounding)
      return downsample ? Math.ceil(x) : Math.trunc(x);
  }
}

const resize = moveOp({
  op: 'Resize',
  plan(ctx, inputs) {
    const s = need(ctx, inputs, 0).shape;
    const a = ctx.attrs;
    a.require('mode', a.string('mode', 'nearest') === 'nearest', 'nearest only; linear and cubic interpolation are not supported yet');
    const v10 = ctx.opset < 11;
    const transform = v10 ? 'asymmetric' : a.string('coordinate_transformation_mode', 'half_pixel');
    a.require('coordinate_transformation_mode', TRANSFORMS.includes(transform), TRANSFORMS.join(', '));
    const rounding = v10 ? 'simple' : a.string('nearest_mode', 'round_prefer_floor');
    if (!v10) a.require('nearest_mode', ROUNDINGS.includes(rounding), ROUNDINGS.join(', '));
    if (a.has('keep_aspect_ratio_policy')) a.require('keep_aspect_ratio_policy', a.string('keep_aspect_ratio_policy') === 'stretch', 'stretch only');
    const axes = a.has('axes') ? normAxes(ctx.node, a.ints('axes'), s.length) : s.map((_, i) => i);
    const scalesIn = optConstInput(ctx, inputs, v10 ? 1 : 2, 'scales');
    const sizesIn = v10 ? undefined : optConstInput(ctx, inputs, 3, 'sizes');
    const scales = s.map(() => 1);
    const out = [...s];
    if (sizesIn && sizesIn.length > 0) {
      if (sizesIn.length !== axes.length) bad(ctx, `sizes ${JSON.stringify(sizesIn)} must give ${axes.length} sizes`);
      axes.forEach((ax, i) => {
        out[ax] = sizesIn[i];
        scales[ax] = sizesIn[i] / s[ax];
      });
    } else if (scalesIn && scalesIn.length > 0) {
      if (scalesIn.length !== axes.length || scalesIn.some((x) => !(x > 0))) bad(ctx, `scales ${JSON.stringify(scalesIn)} must give ${axes.length} positive scales`);
      axes.forEach((ax, i) => {
        scales[ax] = scalesIn[i];
        out[ax] = Math.floor(s[ax] * scalesIn[i]);
      });
    } else {
      bad(ctx, 'needs scales or sizes');
    }
    return [
      mapPlan(s, out, (idx) =>
        idx.map((x, k) => {
          if (out[k] === s[k] && scales[k] === 1) return x;
          const i = round(rounding, original(transform, x, scales[k], s[k], out[k]), scales[k] < 1);
          return Math.min(Math.max(i, 0), s[k] - 1);
        }),
      ),
    ];
  },
});

export const resizeOps: OpDef[] = [resize];
