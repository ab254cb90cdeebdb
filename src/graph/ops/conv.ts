/**
 * Conv and ConvTranspose over any number of spatial dimensions (1-D, 2-D, 3-D, ...), NC... layout, with
 * pads, strides, dilations, groups (depthwise included) and every auto_pad; and the window tables the
 * pools (pool.ts) share. Output sizes and auto_pad splits follow onnxruntime's conv_attributes.h and
 * conv_transpose_attributes.h, including C++ integer division where the padding is odd.
 */
import { fail } from '../../util/errors.js';
import { nodeLabel, size, strides as stridesOf, tensor } from '../ir.js';
import { need, requireDtype } from './broadcast.js';
import { lowerBilinear } from './lowerLinear.js';
import { fusedPoolNode, fusedPoolWindows } from './pool.js';
import type { OpCtx, OpDef, OpInput, TypeShape } from './types.js';

export const AUTO_PADS = ['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'];

/** The attribute as a list of one value per spatial dim, refused when its length is wrong or values are below `min`. */
export function perDim(ctx: OpCtx, name: string, rank: number, fallback: number, min: number): number[] {
  const v = ctx.attrs.ints(name, new Array<number>(rank).fill(fallback));
  ctx.attrs.require(name, v.length === rank && v.every((x) => x >= min), `${rank} values, each at least ${min}`);
  return v;
}

export interface Window {
  inSp: number[];
  outSp: number[];
  kSp: number[];
  strides: number[];
  dilations: number[];
  padsBegin: number[];
  padsEnd: number[];
}

/** The window attributes Conv, ConvTranspose and the pools share, checked: auto_pad, strides, dilations, pads. */
export function windowAttrs(ctx: OpCtx, rank: number): { autoPad: string; strides: number[]; dilations: number[]; pads: number[] } {
  const { attrs } = ctx;
  const autoPad = attrs.string('auto_pad', 'NOTSET');
  attrs.require('auto_pad', AUTO_PADS.includes(autoPad), AUTO_PADS.join(', '));
  const strides = perDim(ctx, 'strides', rank, 1, 1);
  const dilations = perDim(ctx, 'dilations', rank, 1, 1);
  const pads = attrs.ints('pads', new Array<number>(2 * rank).fill(0));
  attrs.require('pads', pads.length === 2 * rank && pads.every((p) => p >= 0), `${2 * rank} non-negative values`);
  return { autoPad, strides, dilations, pads };
}

/** C++ integer division (truncating), where onnxruntime halves a padding. */
const half = (x: number) => Math.trunc(x / 2);

/** Conv's output sizes and pads (onnxruntime ComputePadAndOutputShape). */
export function convWindow(ctx: OpCtx, inSp: number[], kSp: number[]): Window {
  const rank = inSp.length;
  const { attrs } = ctx;
  const { autoPad, strides, dilations, pads } = windowAttrs(ctx, rank);
  if (autoPad !== 'NOTSET') attrs.require('pads', !attrs.has('pads') || pads.every((p) => p === 0), `no explicit pads with auto_pad ${autoPad}`);
  const padsBegin: number[] = [];
  const padsEnd: number[] = [];
  const outSp: number[] = [];
  for (let d = 0; d < rank; d++) {
    const dk = (kSp[d] - 1) * dilations[d] + 1;
    let pb = pads[d];
    let pe = pads[d + rank];
    if (autoPad === 'VALID') pb = pe = 0;
    else if (autoPad !== 'NOTSET') {
      const target = Math.floor((inSp[d] + strides[d] - 1) / strides[d]);
      const needed = (target - 1) * strides[d] + dk - inSp[d];
      pb = autoPad === 'SAME_LOWER' ? half(needed + 1) : half(needed);
      pe = needed - pb;
    }
    const o = Math.floor((inSp[d] + pb + pe - dk) / strides[d]) + 1;
    if (o < 1) fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: the kernel (${dk} dilated) does not fit spatial dim ${d} of size ${inSp[d]} with pads ${pb}+${pe}`);
    padsBegin.push(pb);
    padsEnd.push(pe);
    outSp.push(o);
  }
  return { inSp, outSp, kSp, strides, dilations, padsBegin, padsEnd };
}

/** Row-major multi-indices of every position of `shape`. */
export function positions(shape: readonly number[]): number[][] {
  const st = stridesOf(shape);
  return Array.from({ length: size(shape) }, (_, k) => shape.map((d, i) => Math.floor(k / st[i]) % d));
}

/**
 * For output position o and kernel position k, the flat input offset at idx[o*K + k] (-1 outside the
 * input), and how many of the K positions lie inside the padded input at inPad[o].
 */
export function windowTable(w: Window): { idx: Int32Array; inPad: Int32Array; K: number; O: number } {
  const outPos = positions(w.outSp);
  const kPos = positions(w.kSp);
  const inSt = stridesOf(w.inSp);
  const K = kPos.length;
  const idx = new Int32Array(outPos.length * K);
  const inPad = new Int32Array(outPos.length);
  outPos.forEach((o, oi) => {
    kPos.forEach((k, ki) => {
      let flat = 0;
      let inside = true;
      let padded = true;
      for (let d = 0; d < o.length; d++) {
        const p = o[d] * w.strides[d] - w.padsBegin[d] + k[d] * w.dilations[d];
        if (p < 0 || p >= w.inSp[d]) inside = false;
        if (p >= w.inSp[d] + w.padsEnd[d]) padded = false;
        flat += p * inSt[d];
      }
      idx[oi * K + ki] = inside ? flat : -1;
      if (padded) inPad[oi]++;
    });
  });
  return { idx, inPad, K, O: outPos.length };
}

function convShapes(ctx: OpCtx, inputs: ReadonlyArray<OpInput | undefined>, transpose: boolean) {
  const x = need(ctx, inputs, 0);
  const w = need(ctx, inputs, 1);
  requireDtype(ctx, x, ['float']);
  const rank = x.shape.length - 2;
  if (rank < 1 || w.shape.length !== x.shape.length) {
    fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: X [${x.shape}] and W [${w.shape}] must both be (N, C, spatial...) with at least one spatial dim`);
  }
  const group = ctx.attrs.int('group', 1);
  const c = x.shape[1];
  ctx.attrs.require('group', group >= 1 && c % group === 0, `a divisor of the ${c} input channels`);
  const kSp = w.shape.slice(2);
  if (ctx.attrs.has('kernel_shape')) {
    const ks = ctx.attrs.ints('kernel_shape');
    ctx.attrs.require('kernel_shape', ks.length === rank && ks.every((k, i) => k === kSp[i]), `the weights' spatial shape [${kSp}]`);
  }
  const wIn = transpose ? w.shape[0] : w.shape[1] * group;
  if (wIn !== c || (!transpose && w.shape[0] % group !== 0))
    fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: W [${w.shape}] does not fit ${c} input channels in ${group} groups`);
  const m = transpose ? w.shape[1] * group : w.shape[0];
  const b = inputs[2];
  if (b && (b.shape.length !== 1 || b.shape[0] !== m)) fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: bias must have shape [${m}] (got [${b.shape}])`);
  return { n: x.shape[0], c, m, group, rank, inSp: x.shape.slice(2), kSp };
}

const conv: OpDef = {
  op: 'Conv',
  infer(ctx, inputs): TypeShape[] {
    const s = convShapes(ctx, inputs, false);
    const win = convWindow(ctx, s.inSp, s.kSp);
    return [{ dtype: 'float', shape: [s.n, s.m, ...win.outSp] }];
  },
  evalFloat(ctx, inputs) {
    const s = convShapes(ctx, inputs, false);
    const x = need(ctx, inputs, 0).data;
    const w = need(ctx, inputs, 1).data;
    const b = inputs[2]?.data;
    const win = convWindow(ctx, s.inSp, s.kSp);
    const t = windowTable(win);
    const cg = s.c / s.group;
    const mg = s.m / s.group;
    const inSize = size(s.inSp);
    const out = new Float64Array(s.n * s.m * t.O);
    for (let n = 0; n < s.n; n++) {
      for (let m = 0; m < s.m; m++) {
        const g = Math.floor(m / mg);
        for (let o = 0; o < t.O; o++) {
          let acc = b ? b[m] : 0;
          for (let c = 0; c < cg; c++) {
            const xo = (n * s.c + g * cg + c) * inSize;
            const wo = (m * cg + c) * t.K;
            for (let k = 0; k < t.K; k++) {
              const i = t.idx[o * t.K + k];
              if (i >= 0) acc += x[xo + i] * w[wo + k];
            }
          }
          out[(n * s.m + m) * t.O + o] = acc;
        }
      }
    }
    return [tensor('float', [s.n, s.m, ...win.outSp], out)];
  },
  // Constant weights: every output is a linear form over its window (padding contributes nothing),
  // weights quantized per output element to weightBits, the bias a constant, one requantization onto
  // the calibrated range (its clamp is a fused Relu). Computed weights: one Mul per term (lowerBilinear).
  lower(ctx, [x, w, bias]) {
    const s = convShapes(ctx, [x, w, bias], false);
    const win = convWindow(ctx, s.inSp, s.kSp);
    const t = windowTable(win);
    const cg = s.c / s.group;
    const mg = s.m / s.group;
    const inSize = size(s.inSp);
    const shape = [s.n, s.m, ...win.outSp];
    const pooled = fusedPoolNode(ctx.node);
    return [
      lowerBilinear(
        ctx,
        x!,
        w!,
        shape,
        (flat) => {
          const o = flat % t.O;
          const m = Math.floor(flat / t.O) % s.m;
          const n = Math.floor(flat / (t.O * s.m));
          const g = Math.floor(m / mg);
          const terms: Array<[number, number, number]> = [];
          for (let c = 0; c < cg; c++) {
            const xo = (n * s.c + g * cg + c) * inSize;
            const wo = (m * cg + c) * t.K;
            for (let k = 0; k < t.K; k++) {
              const i = t.idx[o * t.K + k];
              if (i >= 0) terms.push([xo + i, wo + k, 1]);
            }
          }
          return terms;
        },
        bias ? (flat) => [bias, Math.floor(flat / t.O) % s.m, 1] : undefined,
        pooled ? fusedPoolWindows(ctx, pooled, shape) : undefined,
      ),
    ];
  },
};

/** ConvTranspose's output sizes and pads (onnxruntime ComputeTransposePadAndOutputShape). */
function transposeWindow(ctx: OpCtx, inSp: number[], kSp: number[]): Window {
  const rank = inSp.length;
  const { attrs } = ctx;
  const { autoPad, strides, dilations, pads } = windowAttrs(ctx, rank);
  const adj = perDim(ctx, 'output_padding', rank, 0, 0);
  adj.forEach((a, d) => attrs.require('output_padding', a < Math.max(strides[d], dilations[d]), 'each value below its stride or dilation'));
  const shape = attrs.has('output_shape') ? attrs.ints('output_shape') : undefined;
  // ONNX shape inference refuses an output_shape that also lists N and C.
  if (shape) attrs.require('output_shape', shape.length === rank, `${rank} spatial sizes`);
  const padsBegin: number[] = [];
  const padsEnd: number[] = [];
  const outSp: number[] = [];
  for (let d = 0; d < rank; d++) {
    const full = (inSp[d] - 1) * strides[d] + adj[d] + (kSp[d] - 1) * dilations[d] + 1;
    let pb: number;
    let pe: number;
    let o: number;
    if (shape || autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      // A given output_shape, or SAME's input * stride: the padding that trims `full` to it, the odd
      // one at the end for SAME_UPPER and at the start otherwise.
      o = shape ? shape[d] : inSp[d] * strides[d];
      attrs.require('output_shape', o >= 1, 'positive sizes');
      const total = Math.max(0, full - o);
      pb = autoPad === 'SAME_UPPER' ? half(total) : total - half(total);
      pe = total - pb;
    } else if (autoPad === 'VALID') {
      pb = pe = 0;
      o = full;
    } else {
      pb = pads[d];
      pe = pads[d + rank];
      o = full - pb - pe;
    }
    if (o < 1) fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: output size ${o} in spatial dim ${d}`);
    padsBegin.push(pb);
    padsEnd.push(pe);
    outSp.push(o);
  }
  return { inSp, outSp, kSp, strides, dilations, padsBegin, padsEnd };
}

const convTranspose: OpDef = {
  op: 'ConvTranspose',
  infer(ctx, inputs) {
    const s = convShapes(ctx, inputs, true);
    return [{ dtype: 'float', shape: [s.n, s.m, ...transposeWindow(ctx, s.inSp, s.kSp).outSp] }];
  },
  evalFloat(ctx, inputs) {
    const s = convShapes(ctx, inputs, true);
    const x = need(ctx, inputs, 0).data;
    const w = need(ctx, inputs, 1).data;
    const b = inputs[2]?.data;
    const win = transposeWindow(ctx, s.inSp, s.kSp);
    // Scatter: input position i and kernel position k land on output i*s - pb + k*d (when inside).
    const t = windowTable({ ...win, inSp: win.outSp, outSp: win.inSp });
    const cg = s.c / s.group;
    const mg = s.m / s.group;
    const O = size(win.outSp);
    const out = new Float64Array(s.n * s.m * O);
    for (let n = 0; n < s.n; n++) {
      for (let m = 0; m < s.m; m++) {
        const g = Math.floor(m / mg);
        const oo = (n * s.m + m) * O;
        if (b) out.fill(b[m], oo, oo + O);
        for (let c = 0; c < cg; c++) {
          const ci = g * cg + c;
          const xo = (n * s.c + ci) * t.O;
          const wo = (ci * mg + (m - g * mg)) * t.K;
          for (let i = 0; i < t.O; i++) {
            const xv = x[xo + i];
            for (let k = 0; k < t.K; k++) {
              const p = t.idx[i * t.K + k];
              if (p >= 0) out[oo + p] += xv * w[wo + k];
            }
          }
        }
      }
    }
    return [tensor('float', [s.n, s.m, ...win.outSp], out)];
  },
  // As Conv, gathering instead of scattering: output position p sums x[i] * w[k] over the (i, k) that
  // land on p. Constant weights: linear forms, one requantization per output; computed: one Mul per term.
  lower(ctx, [x, w, bias]) {
    const s = convShapes(ctx, [x, w, bias], true);
    const win = transposeWindow(ctx, s.inSp, s.kSp);
    const t = windowTable({ ...win, inSp: win.outSp, outSp: win.inSp });
    const O = size(win.outSp);
    const land: Array<Array<[number, number]>> = Array.from({ length: O }, () => []);
    for (let i = 0; i < t.O; i++) {
      for (let k = 0; k < t.K; k++) {
        const p = t.idx[i * t.K + k];
        if (p >= 0) land[p].push([i, k]);
      }
    }
    const cg = s.c / s.group;
    const mg = s.m / s.group;
    const shape = [s.n, s.m, ...win.outSp];
    return [
      lowerBilinear(
        ctx,
        x!,
        w!,
        shape,
        (flat) => {
          const p = flat % O;
          const m = Math.floor(flat / O) % s.m;
          const n = Math.floor(flat / (O * s.m));
          const g = Math.floor(m / mg);
          const terms: Array<[number, number, number]> = [];
          for (let c = 0; c < cg; c++) {
            const ci = g * cg + c;
            const xo = (n * s.c + ci) * t.O;
            const wo = (ci * mg + (m - g * mg)) * t.K;
            for (const [i, k] of land[p]) terms.push([xo + i, wo + k, 1]);
          }
          return terms;
        },
        bias ? (flat) => [bias, Math.floor(flat / O) % s.m, 1] : undefined,
      ),
    ];
  },
};

export const convOps: OpDef[] = [conv, convTranspose];
