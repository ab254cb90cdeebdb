/**
 * Element-level constructions over the primitives that several op families share: products and
 * quotients of computed values, comparisons, selection, maxima, softmax. Each says how it quantizes and
 * what it costs; the primitives' gadgets (circuits/) carry the soundness argument.
 */
import { fail } from '../../util/errors.js';
import { mergeTerms, type QBuilder, type Range } from './builder.js';
import type { Form, QTensor } from './qtensor.js';

export const scaleForm = (f: Form, k: number): Form => ({ bias: f.bias * k, terms: f.terms.map(([s, w]) => [s, w * k]) });
export const addForms = (a: Form, b: Form, kb = 1): Form => ({ bias: a.bias + kb * b.bias, terms: mergeTerms([...a.terms, ...b.terms.map(([s, w]) => [s, w * kb] as [number, number])]) });
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
  if (c.terms.length === 0) return lessThanConst(b, a, c.bias * sc / sa);
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

/**
 * Softmax over groups of elements of x (each group one softmax). Per group: m = max, d = x - m <= 0
 * (exact), e = exp(d) by a lookup table onto [0, 2^E] (E = activation bits + 4), S = sum of e (exact),
 * p = floor(e * 2^P / S) with P = activation bits. log: LogSoftmax as d - log(S) by a lookup.
 * Precision: the lookup's input step on d and the final floor (2^-P).
 */
export function softmax(b: QBuilder, x: QTensor, groups: number[][], log: boolean, spread: number): QTensor {
  const P = b.options.activationBits;
  const E = b.options.activationBits + 4;
  const elems = new Array<Form>(x.elems.length);
  const w = b.options.lookupBits;
  let outScale = log ? x.scale : 2 ** -P;
  for (const g of groups) {
    const m = maxOf(b, g.map((i) => x.elems[i]));
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
      g.forEach((i, k) => {
        elems[i] = divide(b, e.elems[k], 1, sum, 1, { scale: 2 ** -P, lo: 0, bits: P + 1 }, b.node).f;
      });
    }
  }
  return { dtype: 'float', shape: x.shape, scale: outScale, elems };
}
