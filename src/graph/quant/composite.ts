/**
 * Element-level constructions over the primitives that several op families share: products and
 * quotients of computed values, comparisons, selection, maxima, softmax. Each says how it quantizes and
 * what it costs; the primitives' gadgets (circuits/) carry the soundness argument.
 */
import { fail } from '../../util/errors.js';
import { mergeTerms, type QBuilder, type Range } from './builder.js';
import type { Form, QTensor } from './qtensor.js';

export const scaleForm = (f: Form, k: number): Form => ({ bias: f.bias * k, terms: f.terms.map(([s, w]) => [s, w * k]) });
export const addForms = (a: Form, b: Form, kb = 1): Form => ({
  bias: a.bias + kb * b.bias,
  terms: mergeTerms([...a.terms, ...b.terms.map(([s, w]) => [s, w * kb] as [number, number])]),
});
export const constForm = (v: number): Form => ({ bias: v, terms: [] });

/** The integer ratio r with x * r = y when there is one (|r| <= 2^20), else undefined. */
function integerRatio(x: number, y: number): number | undefined {
  const r = y / x;
  return Math.abs(r - Math.round(r)) < 1e-9 * Math.abs(r) && Math.abs(r) <= 2 ** 20 && Math.round(r) !== 0 ? Math.round(r) : undefined;
}

/**
 * Two forms at a common scale: exact when one scale is an integer multiple of the other (equal scales,
 * int tensors, constants quantized at the other's scale); otherwise both are weighted by integers onto a
 * finer common unit (relative error <= 2^-16 of the smaller scale).
 */
export function commonScale(a: { f: Form; scale: number }, b: { f: Form; scale: number }): { a: Form; b: Form; scale: number } {
  if (a.scale === b.scale) return { a: a.f, b: b.f, scale: a.scale };
  const small = Math.min(a.scale, b.scale);
  const ra = integerRatio(small, a.scale);
  const rb = integerRatio(small, b.scale);
  if (ra !== undefined && rb !== undefined) return { a: scaleForm(a.f, ra), b: scaleForm(b.f, rb), scale: small };
  // 16 bits for the smaller scale (weights are free constants), no finer than 2^-28 of the larger.
  const unit = Math.max(small / 2 ** 16, Math.max(a.scale, b.scale) / 2 ** 28);
  return { a: scaleForm(a.f, Math.round(a.scale / unit)), b: scaleForm(b.f, Math.round(b.scale / unit)), scale: unit };
}

/** The exact integer product x * y: one Mul primitive, or none when either side is a constant. */
export function product(b: QBuilder, x: Form, y: Form): Form {
  if (x.terms.length === 0) return scaleForm(y, x.bias);
  if (y.terms.length === 0) return scaleForm(x, y.bias);
  return b.prim({ kind: 'mul', a: x, b: y });
}

/** x * y of computed values: one product (scale sx * sy), requantized to `range`. */
export function multiply(b: QBuilder, x: Form, sx: number, y: Form, sy: number, range: Range): Form {
  return b.requantize({ dtype: 'float', shape: [1], scale: sx * sy, elems: [product(b, x, y)] }, range).elems[0];
}

/**
 * x / y of computed values with y > 0 on the calibration data: y is clamped to >= 1 integer unit (so the
 * divisor is never 0 in the circuit), and q = floor(x * K / y) with the integer K chosen so that q has
 * the target range's resolution: real(q) = q * sx / (sy * K). Precision: the floor, one unit of q.
 */
export function divide(b: QBuilder, x: Form, sx: number, y: Form, sy: number, target: Range, node: string): { f: Form; scale: number } {
  const yb = b.bounds(y);
  if (yb.hi < 1) fail('UNSUPPORTED_LAYER', `node '${node}': division by a value that is never positive is not supported`);
  const den = yb.lo >= 1 ? y : b.clampInt(y, 1, Math.max(1, Math.ceil(Math.log2(yb.hi))));
  const K = Math.max(1, Math.round(sx / (sy * target.scale)));
  const num = scaleForm(x, K);
  if (num.terms.length === 0 && den.terms.length === 0) return { f: constForm(Math.floor(num.bias / den.bias)), scale: sx / (sy * K) };
  return { f: b.prim({ kind: 'div', num, den }), scale: sx / (sy * K) };
}

/** 1 if a < b else 0, exactly, for values at scales sa and sb. */
export function less(b: QBuilder, a: Form, sa: number, c: Form, sc: number): Form {
  // Against a constant: x * s < c  <=>  x < ceil(c / s) for integer x (no rescaling error at all).
  if (c.terms.length === 0) return lessThanConst(b, a, (c.bias * sc) / sa);
  if (a.terms.length === 0) return addForms(constForm(1), lessThanConstNeg(b, c, (a.bias * sa) / sc), -1);
  const m = commonScale({ f: a, scale: sa }, { f: c, scale: sc });
  return b.prim({ kind: 'less', a: m.a, b: m.b });
}

function lessThanConst(b: QBuilder, x: Form, threshold: number): Form {
  const t = Number.isInteger(threshold) ? threshold : Math.ceil(threshold);
  const xb = b.bounds(x);
  if (xb.hi < t) return constForm(1);
  if (xb.lo >= t) return constForm(0);
  return b.prim({ kind: 'less', a: x, b: constForm(t) });
}

/** [x <= threshold] as a form (used for const < x as 1 - [x <= const]). */
function lessThanConstNeg(b: QBuilder, x: Form, threshold: number): Form {
  return lessThanConst(b, x, Math.floor(threshold) + 1);
}

/** 1 if a == b else 0 (exact at a common scale). */
export function equal(b: QBuilder, a: Form, sa: number, c: Form, sc: number): Form {
  const m = commonScale({ f: a, scale: sa }, { f: c, scale: sc });
  const d = addForms(m.a, m.b, -1);
  if (d.terms.length === 0) return constForm(d.bias === 0 ? 1 : 0);
  return b.prim({ kind: 'equal', a: m.a, b: m.b });
}

/** cond ? x : y for a boolean cond, with x and y at a common scale. */
export function select(b: QBuilder, cond: Form, x: Form, sx: number, y: Form, sy: number): { f: Form; scale: number } {
  const m = commonScale({ f: x, scale: sx }, { f: y, scale: sy });
  const d = addForms(m.a, m.b, -1);
  if (cond.terms.length === 0) return { f: cond.bias ? m.a : m.b, scale: m.scale };
  const picked = product(b, cond, d);
  return { f: addForms(picked, m.b), scale: m.scale };
}

/** The maximum of forms at one scale (max pooling, ReduceMax); constants fold. */
export function maxOf(b: QBuilder, forms: Form[]): Form {
  return b.maxForm(forms);
}

/** A constant this far (in real units) below a group's largest lower bound has exp = 0 at any width (e^-64 < 2^-92). */
const MASKED_GAP = 64;

/** Bounds of a form; a constant's own value (an infinite mask constant has no finite bounds to check). */
const boundsOf = (b: QBuilder, f: Form) => (f.terms.length === 0 ? { lo: f.bias, hi: f.bias } : b.bounds(f));

/**
 * The elements of t that are not mask entries: a mask entry's upper bound is at least 10^4 (real units)
 * below the largest lower bound in t (scores + a constant -1e9 on future positions). Sums measure their
 * width on these (lowerSum): masked entries stay exact and Softmax zeroes them.
 */
export function unmaskedElems(b: QBuilder, t: QTensor): Form[] {
  const bs = t.elems.map((f) => boundsOf(b, f));
  const maxLo = Math.max(...bs.map((r) => r.lo));
  return t.elems.filter((_, k) => !((bs[k].hi - maxLo) * t.scale <= -1e4));
}

/**
 * Softmax over groups of elements of x (each group one softmax). Per group:
 * - masked elements (an upper bound at least MASKED_GAP below the group's largest lower bound: a causal
 *   mask's -1e9 or -inf, from Where or Add) are exactly 0 and left out of everything (exp < e^-64);
 * - m = max of the rest (MaxOfN), d = x - m <= 0 (exact), e = exp(d) by a lookup onto [0, 2^E]
 *   (E = activation bits P + 4; the maximum's d = 0 gives e = 2^E exactly), S = sum of e (exact);
 * - Softmax: S' = max(S, 2^E) (a clamp that never changes S, so the bounds know S >= 2^E), one reciprocal
 *   r = floor(2^K / S') per group (DivFloor, K = E + P + 4), and p = e * r at scale 2^-K: one Mul per
 *   element (when K + 1 <= 32 bits; wider, p is requantized to P + 4 bits, a DivFloorPow2). Precision:
 *   p lies in (e / S - 2^(E - K), e / S], so within 2^-(P + 4) of e / S, below the exp table's step.
 * - LogSoftmax: d - log(S) with log S by a lookup.
 * Cost per element (P = 8, 64 per group): MaxOfN (b + 2), the domain requantization and Lookup (a
 * Lookup(8) is 45), 1 Mul; per group one clamp and one DivFloor (1 + 2 nd + nq). Before the reciprocal
 * each element paid a DivFloor, 1 + 2 nd + P + 1 (~45 at P = 8).
 */
export function softmax(b: QBuilder, x: QTensor, groups: number[][], log: boolean, spread: number): QTensor {
  const P = b.options.activationBits;
  const E = b.options.activationBits + 4;
  const K = E + P + 4;
  const wide = K + 1 > 32;
  const elems = new Array<Form>(x.elems.length);
  const w = b.options.lookupBits;
  let outScale = log ? x.scale : wide ? 2 ** -(P + 4) : 2 ** -K;
  for (const all of groups) {
    // m >= every element, so m >= the largest lower bound: an element whose upper bound is MASKED_GAP
    // below it has d <= -MASKED_GAP for every valid input.
    const bs = all.map((i) => boundsOf(b, x.elems[i]));
    const maxLo = Math.max(...bs.map((r) => r.lo));
    const isMasked = all.map((_, k) => !log && (bs[k].hi === -Infinity || (bs[k].hi - maxLo) * x.scale <= -MASKED_GAP));
    const masked = (i: number) => isMasked[all.indexOf(i)];
    const g = all.filter((i) => !masked(i));
    for (const i of all) if (masked(i)) elems[i] = constForm(0);
    const m = maxOf(
      b,
      g.map((i) => x.elems[i]),
    );
    const d: QTensor = { dtype: 'float', shape: [g.length], scale: x.scale, elems: g.map((i) => addForms(x.elems[i], m, -1)) };
    // The exponent's domain: d in [lo, 0], lo from the calibrated spread of x (with headroom), never below
    // -16 (e^-16 is 0 at this precision): a d below lo is taken as lo.
    const dlo = -Math.min(16, Math.max(spread * 1.25, x.scale));
    const e = b.unary(d, { min: dlo, max: 0, absMax: -dlo }, Math.exp, { scale: 2 ** -E, lo: 0, bits: E + 1 });
    const sum = e.elems.reduce((acc, f) => addForms(acc, f), constForm(0));
    if (log) {
      const sumT: QTensor = { dtype: 'float', shape: [1], scale: e.scale, elems: [sum] };
      const logS = b.unary(sumT, { min: 2 ** -E, max: g.length, absMax: g.length }, Math.log, b.rangeFor({ min: 0, max: Math.log(g.length), absMax: Math.log(g.length) }, w));
      g.forEach((i, k) => {
        // Every group meets the same two scales, so the common scale is one for the whole tensor.
        const c = commonScale({ f: d.elems[k], scale: x.scale }, { f: logS.elems[0], scale: logS.scale });
        elems[i] = addForms(c.a, c.b, -1);
        outScale = c.scale;
      });
    } else {
      const sb = b.bounds(sum);
      const top = Math.max(sb.hi, 2 ** E);
      const s1 = sum.terms.length === 0 ? constForm(Math.max(sum.bias, 2 ** E)) : b.clampInt(sum, 2 ** E, Math.max(1, Math.ceil(Math.log2(top - 2 ** E + 1))));
      const r = s1.terms.length === 0 ? constForm(Math.floor(2 ** K / s1.bias)) : b.prim({ kind: 'div', num: constForm(2 ** K), den: s1 });
      g.forEach((i, k) => {
        const p = product(b, e.elems[k], r);
        elems[i] = wide ? b.requantize({ dtype: 'float', shape: [1], scale: 2 ** -K, elems: [p] }, { scale: outScale, lo: 0, bits: P + 5 }).elems[0] : p;
      });
    }
  }
  return { dtype: 'float', shape: x.shape, scale: outScale, elems };
}
