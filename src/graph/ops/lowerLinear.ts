/**
 * Lowering shared by the linear op family: outputs that are sums of products of two operands (Gemm,
 * MatMul, Conv with computed weights) or of one operand with constant weights (everything else).
 */
import { size, tensor, type DType, type Tensor } from '../ir.js';
import { FOLD_GUARD_BITS, mergeTerms, type Pooling, type QBuilder, type RealForm } from '../quant/builder.js';
import { addForms, constForm, less, product, scaleForm, unmaskedElems } from '../quant/composite.js';
import { signedBits } from '../quant/prims.js';
import { privateBiasTensor, privateWeightTensor } from '../quant/privateWeights.js';
import type { Form, LowerCtx, QTensor, Term } from '../quant/qtensor.js';

/** The requantization target of output k: null (exact accumulators) for a graph output no node reads. */
export function outputRange(ctx: LowerCtx, k = 0) {
  return ctx.graphOutputOnly(k) && ctx.node.attrs.__act === undefined ? null : ctx.b.rangeFor(ctx.outStats(k));
}

/**
 * out[o] = sum over (ia, ib, w) of w * a[ia] * b[ib], plus an optional extra term w * c[ic].
 * When a or b is constant (weights), each product is a term of a linear form; otherwise every product is
 * a Mul primitive (1 constraint) at scale sa * sb, summed exactly, then requantized. `pool`: a fused
 * MaxPool over the outputs (constant weights only; QBuilder.linear).
 */
export function lowerBilinear(
  ctx: LowerCtx,
  a: QTensor,
  b: QTensor,
  shape: number[],
  terms: (o: number) => Array<[number, number, number]>,
  extra?: (o: number) => [QTensor, number, number],
  pool?: Pooling,
): QTensor {
  const count = shape.reduce((x, y) => x * y, 1);
  const wa = ctx.constant(0);
  const wb = ctx.constant(1);
  const range = outputRange(ctx);
  const dtype = a.dtype === 'int' && b.dtype === 'int' ? 'int' : 'float';
  const privateSide = ctx.b.privateWeights ? [wa, wb].findIndex((w) => w?.dtype === 'float') : -1;
  if (privateSide >= 0) {
    // Private weights: the constant side becomes private signals; each product is one Mul, as below.
    const w = privateWeightTensor(ctx.b, ctx.node.inputs[privateSide], [wa, wb][privateSide]!);
    return lowerProducts(ctx, privateSide === 0 ? w : a, privateSide === 1 ? w : b, shape, terms, range, extra, true, pool);
  }
  if (wa || wb) {
    // One side is a constant: its float values are the weights of a linear form over the other side.
    const forms: RealForm[] = Array.from({ length: count }, (_, o) => {
      const f: RealForm = { bias: 0, terms: [] };
      for (const [ia, ib, w] of terms(o)) {
        if (wb) f.terms.push([a, ia, w * wb.data[ib]]);
        else f.terms.push([b, ib, w * wa!.data[ia]]);
      }
      if (extra) {
        const [c, ic, w] = extra(o);
        const cv = ctx.constant(2);
        if (cv) f.bias += w * cv.data[ic];
        else f.terms.push([c, ic, w]);
      }
      return f;
    });
    return ctx.b.linear(dtype, shape, forms, range, pool);
  }
  return lowerProducts(ctx, a, b, shape, terms, range, extra, false, pool);
}

/**
 * Both operands computed (or private weights): exact products at scale sa * sb, one Mul each, summed
 * exactly, then requantized. With `privateBias`, a constant bias becomes private signals at the products'
 * scale, as wide as the product sum can be over all admissible weights (privateBiasTensor).
 */
function lowerProducts(
  ctx: LowerCtx,
  a: QTensor,
  b: QTensor,
  shape: number[],
  terms: (o: number) => Array<[number, number, number]>,
  range: ReturnType<typeof outputRange>,
  extra: ((o: number) => [QTensor, number, number]) | undefined,
  privateBias: boolean,
  pool?: Pooling,
): QTensor {
  const count = shape.reduce((x, y) => x * y, 1);
  const dtype = a.dtype === 'int' && b.dtype === 'int' ? 'int' : 'float';
  const unit = a.scale * b.scale;
  const prods: QTensor = { dtype, shape, scale: unit, elems: [] };
  const sums: RealForm[] = Array.from({ length: count }, (_, o) => ({
    bias: 0,
    terms: terms(o).map(([ia, ib, w]) => {
      prods.elems.push(product(ctx.b, a.elems[ia], b.elems[ib]));
      return [prods, prods.elems.length - 1, w] as [QTensor, number, number];
    }),
  }));
  let biasTensor: QTensor | undefined;
  const biasValue = extra && privateBias ? ctx.constant(2) : undefined;
  if (biasValue?.dtype === 'float') {
    const acc = ctx.b.tensorBounds(ctx.b.linear(dtype, shape, sums, null));
    biasTensor = privateBiasTensor(ctx.b, ctx.node.inputs[2], biasValue, unit, signedBits(Math.min(acc.lo, 0), Math.max(acc.hi, 0)));
  }
  const forms: RealForm[] = sums.map((f, o) => {
    if (!extra) return f;
    const [c, ic, w] = extra(o);
    return { bias: 0, terms: [...f.terms, [biasTensor ?? c, ic, w]] };
  });
  // A fused MaxPool (private weights: passes/fuse.ts fuses on constant weights) pools the exact sums.
  const exact = ctx.b.linear(dtype, shape, forms, null, pool);
  return range === null || keepProducts(ctx, exact) ? exact : ctx.b.linear(dtype, shape, forms, range, pool);
}

/** Headroom (bits over two activations) up to which products of computed tensors stay unrequantized. */
const KEPT_PRODUCT_BITS = 6;

/**
 * Whether exact products of computed tensors (or sums of them) are kept without a requantization: while
 * they stay within KEPT_PRODUCT_BITS over two activation widths, since whatever reads them requantizes
 * once anyway, together with what it adds (x * x + x: one requantization instead of two). Not under a
 * fused activation, whose clamp is the requantization.
 */
export function keepProducts(ctx: LowerCtx, exact: QTensor): boolean {
  return ctx.node.attrs.__act === undefined && widthOf(ctx.b, exact) <= 2 * ctx.b.options.activationBits + KEPT_PRODUCT_BITS;
}

// ---- element-wise sums, affine maps and integer division (Add, Sub, Sum, Mean, Mul/Div by constants,
// BatchNormalization, the pools' and reductions' sums) ----

/** sum of w * f over forms (integer weights): exact, no constraint. */
export function weightedSum(items: Array<[Form, number]>): Form {
  let bias = 0;
  const terms: Term[] = [];
  for (const [f, w] of items) {
    if (w === 0) continue;
    bias += w * f.bias;
    for (const [s, v] of f.terms) terms.push([s, w * v]);
  }
  return { bias, terms: mergeTerms(terms) };
}

const widthOf = (b: QBuilder, t: QTensor) => {
  const i = b.tensorBounds(t);
  return signedBits(Math.min(i.lo, 0), Math.max(i.hi, 0));
};

/** One operand of an element-wise sum: out[o] += coef * q[map[o]] (`value`: its float values when constant). */
export interface SumPart {
  q: QTensor;
  map: ArrayLike<number>;
  coef: number;
  value?: Tensor;
}

/**
 * out[o] = sum over parts of coef * in[map[o]]. Constants go into the forms' biases. When every real
 * factor (coef x scale) is an integer multiple of the smallest, the sum is an exact form at that unit (no
 * constraint); it is kept unless its width grew by more than 4 bits over the widest operand (then one
 * requantization onto the calibrated output range, its multiplier folded into the weights when that is
 * narrower: QBuilder.requantizeFolded). Otherwise the operands are weighted by integers
 * onto a unit giving the smallest factor 12 bits of precision, and requantized (kept, for a graph output no node reads).
 * int tensors: always exact at scale 1.
 */
export function lowerSum(ctx: LowerCtx, dtype: DType, shape: number[], parts: SumPart[]): QTensor {
  const b = ctx.b;
  const count = size(shape);
  const bias = new Float64Array(count);
  for (const p of parts) if (p.value) for (let o = 0; o < count; o++) bias[o] += p.coef * p.value.data[p.map[o]];
  const computed = parts.filter((p) => !p.value);
  if (computed.length === 0) return b.constant(tensor(dtype, shape, bias));
  const factors = computed.map((p) => p.coef * p.q.scale);
  const nonzero = factors.filter((f) => f !== 0).map(Math.abs);
  const unit = nonzero.length ? Math.min(...nonzero) : 1;
  const exact = dtype !== 'float' || nonzero.every((e) => Math.abs(e / unit - Math.round(e / unit)) < 1e-9 * (e / unit) && e / unit <= 2 ** 20);
  // Not exact: a unit fine enough for 12 bits of the SMALLEST factor (weights are free constants), but no
  // finer than 2^-24 of the largest (a smaller term is below the sum's precision anyway); coarser when
  // that already meets the requantization's precision (sumUnit).
  const finest = Math.max(unit / 2 ** 12, Math.max(...nonzero) / 2 ** 24);
  const u = dtype !== 'float' ? 1 : exact ? unit : ctx.graphOutputOnly() ? finest : sumUnit(b, computed, factors, bias, unit, finest, b.rangeFor(ctx.outStats()).scale);
  const weights = factors.map((f) => Math.round(f / u));
  const elems = Array.from({ length: count }, (_, o) => {
    const f = weightedSum(computed.map((p, j) => [p.q.elems[p.map[o]], weights[j]]));
    return { bias: f.bias + Math.round(bias[o] / u), terms: f.terms };
  });
  const out: QTensor = { dtype, shape, scale: u, elems };
  if (dtype !== 'float' || ctx.graphOutputOnly()) return out;
  // Measured without mask entries (scores + -1e9): they stay exact, and Softmax makes them exactly 0.
  if (widthOf(b, { ...out, elems: unmaskedElems(b, out) }) <= Math.max(...computed.map((p) => widthOf(b, p.q))) + 4) return out;
  // One requantization: with the multiplier folded into the operands' weights when that needs the
  // smaller shift (x * x + x: the operands' 15 bits plus guard bits, not the 12-bit unit plus a 10-bit multiplier).
  const range = b.rangeFor(ctx.outStats());
  const operands = computed.map((p) => Array.from({ length: count }, (_, o) => p.q.elems[p.map[o]]));
  const folded = b.requantizeFolded(dtype, shape, operands, factors, bias, range, b.requantShift(u / range.scale) - 1);
  return folded ? folded.tensor : b.requantize(out, range);
}

/**
 * The unit of an inexact sum: unit / 2^k (unit: the smallest |factor|) for the least k <= 12 at which
 * rounding the operands' weights and the constants onto it moves no element by more than
 * 2^-(FOLD_GUARD_BITS + 1) of `target` (the unit of the calibrated output range the sum would be
 * requantized to), computed from the operands' bounds; `finest` when no k meets it. The sum is then as
 * precise as its requantization and only a few bits wider than its widest operand (x * x + x: 3 bits
 * over x * x), so it can be kept as a form while narrow (lowerSum).
 */
function sumUnit(b: QBuilder, parts: SumPart[], factors: number[], bias: Float64Array, unit: number, finest: number, target: number): number {
  const reach = parts.map((p) => {
    const i = b.tensorBounds(p.q);
    return Math.max(Math.abs(i.lo), Math.abs(i.hi));
  });
  const budget = target * 2 ** -(FOLD_GUARD_BITS + 1);
  for (let k = 0; k <= 12; k++) {
    const u = unit / 2 ** k;
    if (u <= finest) break;
    let err = bias.some((v) => v !== 0) ? u / 2 : 0;
    factors.forEach((f, j) => (err += Math.abs(Math.round(f / u) * u - f) * reach[j]));
    if (err <= budget) return u;
  }
  return finest;
}

/**
 * out[o] = a(o) * x[map[o]] + c(o) with constant a, c. One common a (a scalar Mul/Div): only the scale
 * changes (|a| x scale; a negative a negates the forms), c is rounded into the bias: exact, free.
 * Different a per element (per-channel affine, per-element constants): each element keeps x's integers
 * weighted by a power of two 2^k (k <= 20) so that every element's requantization ratio is within a
 * factor 2 of the smallest (the tensor's one shift then gives every element a ~10-bit multiplier), then
 * one requantization onto the calibrated output range. int tensors: integer a and c, exact at scale 1.
 */
export function lowerAffine(ctx: LowerCtx, x: QTensor, map: ArrayLike<number>, shape: number[], a: (o: number) => number, c: (o: number) => number, requant = false): QTensor {
  const b = ctx.b;
  const count = size(shape);
  const xs = (o: number) => x.elems[map[o]];
  if (x.dtype !== 'float') {
    return { dtype: x.dtype, shape, scale: 1, elems: Array.from({ length: count }, (_, o) => addForms(scaleForm(xs(o), a(o)), constForm(c(o)))) };
  }
  const a0 = a(0);
  let uniform = !requant;
  for (let o = 1; o < count && uniform; o++) uniform = a(o) === a0;
  if (uniform) {
    if (a0 === 0)
      return b.constant(
        tensor(
          'float',
          shape,
          Array.from({ length: count }, (_, o) => c(o)),
        ),
      );
    const scale = Math.abs(a0) * x.scale;
    const sign = Math.sign(a0);
    return { dtype: 'float', shape, scale, elems: Array.from({ length: count }, (_, o) => addForms(scaleForm(xs(o), sign), constForm(Math.round(c(o) / scale)))) };
  }
  const range = b.rangeFor(ctx.outStats());
  const units = Array.from({ length: count }, (_, o) => (a(o) === 0 ? range.scale : Math.abs(a(o)) * x.scale));
  const bottom = units.reduce((m, u, o) => (a(o) !== 0 ? Math.min(m, u) : m), Infinity);
  const accScales: number[] = [];
  const elems = Array.from({ length: count }, (_, o) => {
    const ao = a(o);
    if (ao === 0) {
      accScales.push(range.scale);
      return constForm(Math.round(c(o) / range.scale));
    }
    const k = Math.min(20, Math.max(0, Math.floor(Math.log2(units[o] / bottom))));
    const u = units[o] / 2 ** k;
    accScales.push(u);
    return addForms(scaleForm(xs(o), Math.sign(ao) * 2 ** k), constForm(Math.round(c(o) / u)));
  });
  return b.requantize({ dtype: 'float', shape, scale: 1, elems }, range, accScales);
}

/**
 * Integer division truncating toward zero (onnxruntime's int Div): the divisor must be >= 1 for every
 * valid input (callers negate for a negative constant divisor). q = floor((n + (d - 1) * [n < 0]) / d):
 * one comparison (the numerator's width) when n can be negative, one product when d is computed, one
 * DivFloor.
 */
export function truncDiv(b: QBuilder, num: Form, den: Form): Form {
  if (num.terms.length === 0 && den.terms.length === 0) return constForm(Math.trunc(num.bias / den.bias));
  if (den.terms.length === 0 && den.bias === 1) return num;
  const nb = b.bounds(num);
  let n = num;
  if (nb.lo < 0) {
    const negative = less(b, num, 1, constForm(0), 1);
    n = addForms(num, product(b, negative, addForms(den, constForm(-1))));
  }
  return b.prim({ kind: 'div', num: n, den });
}
