/**
 * Lowering helpers of the element-wise non-linear family (ops/nonlinear.ts): lookups with bin-centred
 * tables, exact integer clamps (Relu, Clip), exact floors of linear functions (Floor, Ceil, Round, Mod),
 * and broadcasting of forms. Every signal comes from builder / composite helpers or QBuilder.prim.
 */
import { fail } from '../../util/errors.js';
import { nodeLabel } from '../ir.js';
import { EXACT, type Range } from '../quant/builder.js';
import { addForms, constForm, scaleForm } from '../quant/composite.js';
import type { Interval } from '../quant/prims.js';
import type { Form, LowerCtx, QTensor } from '../quant/qtensor.js';
import { broadcastIndex } from './broadcast.js';

export const refuse = (ctx: LowerCtx, why: string): never => fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: ${why}`);

/**
 * The output range of a value computed by a lookup or a fresh requantization, from its calibrated
 * statistics: activation bits, or activation bits + 4 when the value is a graph output no node reads
 * (a lookup's entries are constants and a graph output is never range-checked downstream, so the extra
 * output resolution is free: it removes the output rounding, 1/2 unit of 2^-8 of the range, from the
 * error budget, leaving the domain step).
 */
export function resultRange(ctx: LowerCtx, k = 0): Range {
  const bits = ctx.b.options.activationBits + (ctx.graphOutputOnly(k) ? 4 : 0);
  return ctx.b.rangeFor(ctx.outStats(k), bits);
}

/**
 * y = fn(x) by one exact lookup table (builder.unary). The domain:
 * - x's own integers when its bounds span at most 2^lookupBits values (the table is exact at every input);
 * - else, when x's bounds are at most 1.5 x wider than its calibrated range (a graph input: 1.25), the
 *   exact floor(q / 2^k) with the smallest k that fits the bounds in 2^lookupBits values: it covers every
 *   valid input (no clamp) and costs DivFloorPow2(k, lookupBits) = k + lookupBits constraints (12 for a
 *   12-bit input), instead of a 10-bit-multiplier requantization with a clamp (~27);
 * - else builder.unary's requantization onto the calibrated range (an input outside it is clamped to the
 *   table's end).
 * Each entry of a coarsened domain is the centre of fn's range over its bin, the minimax value: error <=
 * half of fn's variation over one domain step (plus half an output unit). Non-finite values of fn (log 0,
 * 1/0, sqrt of a negative) are left out of a bin; a bin with none finite gets builder.unary's clamp (+inf:
 * the range's top, -inf and NaN: its bottom).
 */
export function lookup(ctx: LowerCtx, x: QTensor, fn: (v: number) => number, range: Range = resultRange(ctx), inStats = ctx.inStats(0)): QTensor {
  const b = ctx.b;
  const w = b.options.lookupBits;
  const xb = b.tensorBounds(x);
  const span = xb.hi - xb.lo + 1;
  if (span <= 2 ** w) return b.unary(x, inStats, fn, range);
  const binned = (from: number, step: number) => {
    let lo = Infinity;
    let hi = -Infinity;
    for (let k = 0; k <= 16; k++) {
      const y = fn(from + (step * k) / 16);
      if (Number.isFinite(y)) [lo, hi] = [Math.min(lo, y), Math.max(hi, y)];
    }
    return lo <= hi ? (lo + hi) / 2 : fn(from + step / 2);
  };
  const calibrated = b.rangeFor(inStats, w).scale;
  const k = Math.ceil(Math.log2(span / 2 ** w));
  if (x.scale * 2 ** k <= 1.5 * calibrated) {
    // d = floor(q / 2^k): the bin of d is [d, d + 1) x 2^k units of x.
    const step = x.scale * 2 ** k;
    const domain: QTensor = { ...x, scale: step, elems: x.elems.map((f) => linearFloorForm(ctx, f, { m: 1, c: 0, k })) };
    return b.unary(domain, inStats, (v) => binned(v, step), range);
  }
  // builder.unary rounds to the nearest step: the bin of d is [d - 1/2, d + 1/2) steps.
  return b.unary(x, inStats, (v) => binned(v - calibrated / 2, calibrated), range);
}

/** max(f, 0) of an integer form, exactly: one clamp (RequantReluClamp with M = 1, shift 0), free when f >= 0. */
export function reluForm(ctx: LowerCtx, f: Form): Form {
  const fb = ctx.b.bounds(f);
  if (fb.lo >= 0) return f;
  if (fb.hi <= 0) return constForm(0);
  return ctx.b.clampInt(f, 0, bitsFor(fb.hi));
}

/** Bits of an unsigned window [0, 2^bits) holding [0, n]. */
export function bitsFor(n: number): number {
  return Math.max(1, Math.ceil(Math.log2(n + 1)));
}

/** clamp(f, lo, hi) of an integer form, exactly (lo or hi may be infinite: that side is open). */
export function clampForm(ctx: LowerCtx, f: Form, lo: number, hi: number): Form {
  let fb = ctx.b.bounds(f);
  if (fb.hi <= lo) return constForm(lo);
  if (fb.lo >= hi) return constForm(hi);
  let y = f;
  if (fb.lo < lo) {
    // max(y, lo): a window [lo, lo + 2^bits) reaching min(hi, y's top); an upper clamp above hi is harmless.
    y = ctx.b.clampInt(y, lo, bitsFor(Math.min(fb.hi, hi) - lo));
    fb = ctx.b.bounds(y);
  }
  if (fb.hi > hi) {
    // min(y, hi) = -max(-y, -hi).
    y = scaleForm(ctx.b.clampInt(scaleForm(y, -1), -hi, bitsFor(hi - fb.lo)), -1);
  }
  return y;
}

/** Element i of t read at broadcast output index: a tensor of t's forms in `shape`. */
export function broadcastTo(t: QTensor, shape: number[]): QTensor {
  if (t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i])) return t;
  const map = broadcastIndex(shape, t.shape);
  return { ...t, shape, elems: Array.from(map, (k) => t.elems[k]) };
}

/**
 * An exact integer construction of target(q) = floor((m * q + c) / 2^k) for every integer q of
 * [lo, hi], when one exists with |m * q + c| < 2^52: for each k (0 upwards) and the integer slopes m
 * next to slope * 2^k, the offsets c that fit every q form an interval, found by one pass over
 * [lo, hi]. Returns undefined when no k works (target not a floor of a linear function, e.g. with ties
 * rounded to even) or the range is too long to check (> 2^20 values).
 */
export function findLinearFloor(lo: number, hi: number, slope: number, target: (q: number) => number): { m: number; c: number; k: number } | undefined {
  if (hi - lo > 2 ** 20) return undefined;
  const t = Array.from({ length: hi - lo + 1 }, (_, i) => target(lo + i));
  const qmax = Math.max(Math.abs(lo), Math.abs(hi), 1);
  for (let k = 0; k <= 50; k++) {
    const p = 2 ** k;
    if (Math.abs(slope) * p * qmax * 2 + p * (Math.abs(t[0]) + 2) > EXACT) break;
    const base = Math.floor(slope * p);
    for (const m of [base, base + 1, base - 1, base + 2]) {
      let cLo = -Infinity;
      let cHi = Infinity;
      for (let i = 0; i < t.length && cLo <= cHi; i++) {
        const mq = m * (lo + i);
        cLo = Math.max(cLo, t[i] * p - mq);
        cHi = Math.min(cHi, (t[i] + 1) * p - mq - 1);
      }
      if (cLo <= cHi) return { m, c: cLo, k };
    }
  }
  return undefined;
}

/** The form floor((m * f + c) / 2^k): exact in integers, one DivFloorPow2 (k + quotient bits) unless k = 0. */
export function linearFloorForm(ctx: LowerCtx, f: Form, { m, c, k }: { m: number; c: number; k: number }): Form {
  if (k === 0) return addForms(scaleForm(f, m), constForm(c));
  const inner = addForms(scaleForm(f, m), constForm(c - 2 ** (k - 1))); // the requant adds 2^(k-1)
  if (inner.terms.length === 0) return constForm(Math.floor((inner.bias + 2 ** (k - 1)) / 2 ** k));
  return ctx.b.prim({ kind: 'requant', in: inner, mult: 1, shift: k, clampLo: null, clampBits: 0 });
}

/** Bounds of an element of x (its integers), for the exhaustive checks above. */
export function elemBounds(ctx: LowerCtx, f: Form): Interval {
  return ctx.b.bounds(f);
}
