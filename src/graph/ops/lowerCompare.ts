/**
 * Lowering shared by the comparison, selection, extremum and normalisation ops (compare.ts,
 * normalize.ts) and the computed-index Gather and computed Cast (shapeSlice.ts, shapeMeta.ts).
 *
 * Conventions: bool and int tensors are exact integers at scale 1; a float tensor's integers times its
 * scale are its real values. Comparisons against constants use the constant's float value, so the
 * threshold on the other side's integers is exact (x * s < v <=> x < ceil(v / s)); comparisons of two
 * computed values meet at a common scale (composite.commonScale: exact for integer ratios, else 2^-16).
 */
import { fail } from '../../util/errors.js';
import { lookupConstraints } from '../gadgets.js';
import { nodeLabel, size, type DType } from '../ir.js';
import { mergeTerms, type Range, type RealForm } from '../quant/builder.js';
import { addForms, constForm, equal, less, maxOf, product, scaleForm, select } from '../quant/composite.js';
import { unsignedBits } from '../quant/prims.js';
import type { Form, LowerCtx, QTensor, Stats } from '../quant/qtensor.js';
import { broadcastIndex, broadcastShapes, reduceGroups, reducedShape, normAxes } from './broadcast.js';
import { outputRange } from './lowerLinear.js';

function bad(ctx: LowerCtx, msg: string): never {
  return fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: ${msg}`);
}

const one = constForm(1);
const not = (f: Form): Form => addForms(one, f, -1);
const neg = (f: Form): Form => scaleForm(f, -1);
const integral = (t: number) => Math.abs(t - Math.round(t)) <= 1e-9 * Math.max(1, Math.abs(t));

/** One element of an operand: its form and scale, and its float value when the input is a constant. */
interface Elem {
  f: Form;
  scale: number;
  value?: number;
}

/** The inputs broadcast to the output shape, element by element. */
function broadcastElems(ctx: LowerCtx, inputs: Array<QTensor | undefined>): { shape: number[]; at: (i: number, k: number) => Elem; count: number } {
  const xs = inputs.map((q, i) => {
    if (!q) bad(ctx, `input ${i} is required`);
    return q;
  });
  const shape = broadcastShapes(
    ctx.node,
    xs.map((q) => q.shape),
  );
  const maps = xs.map((q) => broadcastIndex(shape, q.shape));
  const consts = xs.map((_, i) => ctx.constant(i));
  return {
    shape,
    count: size(shape),
    at: (i, k) => {
      const j = maps[i][k];
      const c = consts[i];
      return { f: xs[i].elems[j], scale: xs[i].scale, value: c ? c.data[j] : undefined };
    },
  };
}

// ---- comparisons ----

/** [x < t] for an integer threshold t: folded when the bounds decide it, else one LessThan. */
function lessThanInt(ctx: LowerCtx, x: Form, t: number): Form {
  const b = ctx.b.bounds(x);
  if (b.hi < t) return one;
  if (b.lo >= t) return constForm(0);
  return ctx.b.prim({ kind: 'less', a: x, b: constForm(t) });
}

/** [a < c] exactly: thresholds against constants, else composite.less at a common scale. */
export function lessElem(ctx: LowerCtx, a: Elem, c: Elem): Form {
  if (a.value !== undefined && c.value !== undefined) return constForm(a.value < c.value ? 1 : 0);
  if (c.value !== undefined) {
    // x * s < v  <=>  x < v / s  <=>  x < t with t = v / s if integral, else ceil(v / s).
    const t = c.value / a.scale;
    return lessThanInt(ctx, a.f, integral(t) ? Math.round(t) : Math.ceil(t));
  }
  if (a.value !== undefined) {
    // v < x * s  <=>  x > v / s  <=>  not (x < t + 1), t = v / s if integral, else floor(v / s).
    const t = a.value / c.scale;
    return not(lessThanInt(ctx, c.f, (integral(t) ? Math.round(t) : Math.floor(t)) + 1));
  }
  return less(ctx.b, a.f, a.scale, c.f, c.scale);
}

/** [a == c] exactly; booleans as XNOR (one product). */
export function equalElem(ctx: LowerCtx, a: Elem, c: Elem, bools: boolean): Form {
  if (a.value !== undefined && c.value !== undefined) return constForm(a.value === c.value ? 1 : 0);
  if (bools) {
    // 1 - a - c + 2ac
    return addForms(addForms(addForms(one, a.f, -1), c.f, -1), product(ctx.b, a.f, c.f), 2);
  }
  const [x, k] = c.value !== undefined ? [a, c] : a.value !== undefined ? [c, a] : [undefined, undefined];
  if (x && k) {
    // x * s == v only when v / s is an integer in x's bounds.
    const t = k.value! / x.scale;
    if (!integral(t)) return constForm(0);
    const r = Math.round(t);
    const b = ctx.b.bounds(x.f);
    if (r < b.lo || r > b.hi) return constForm(0);
    if (b.lo === b.hi) return one;
    return ctx.b.prim({ kind: 'equal', a: x.f, b: constForm(r) });
  }
  return equal(ctx.b, a.f, a.scale, c.f, c.scale);
}

export type CompareKind = 'Less' | 'LessOrEqual' | 'Greater' | 'GreaterOrEqual' | 'Equal';

/**
 * Less/LessOrEqual/Greater/GreaterOrEqual/Equal, broadcasting. a <= c is 1 - [c < a], a > c is [c < a],
 * a >= c is 1 - [a < c]. Constraints per element: 0 when the bounds decide it; a LessThan of the
 * difference's width (the other side's bits against a constant; the common-scale difference's bits for
 * two computed values, +16 when their scales have no integer ratio); Equal: 2 (IsEqual), 1 for booleans.
 */
export function lowerCompare(ctx: LowerCtx, inputs: Array<QTensor | undefined>, kind: CompareKind): QTensor {
  const e = broadcastElems(ctx, inputs);
  const bools = inputs[0]!.dtype === 'bool';
  const elems = Array.from({ length: e.count }, (_, k) => {
    const a = e.at(0, k);
    const c = e.at(1, k);
    switch (kind) {
      case 'Less':
        return lessElem(ctx, a, c);
      case 'LessOrEqual':
        return not(lessElem(ctx, c, a));
      case 'Greater':
        return lessElem(ctx, c, a);
      case 'GreaterOrEqual':
        return not(lessElem(ctx, a, c));
      case 'Equal':
        return equalElem(ctx, a, c, bools);
    }
  });
  return { dtype: 'bool', shape: e.shape, scale: 1, elems };
}

// ---- logic ----

/** Not: 1 - x (free). And: x * y; Or: x + y - xy; Xor: x + y - 2xy (one product each, 0 with a constant). */
export function lowerLogic(ctx: LowerCtx, inputs: Array<QTensor | undefined>, kind: 'Not' | 'And' | 'Or' | 'Xor'): QTensor {
  if (kind === 'Not') return { ...inputs[0]!, scale: 1, elems: inputs[0]!.elems.map(not) };
  const e = broadcastElems(ctx, inputs);
  const elems = Array.from({ length: e.count }, (_, k) => {
    const x = e.at(0, k).f;
    const y = e.at(1, k).f;
    const xy = product(ctx.b, x, y);
    if (kind === 'And') return xy;
    return addForms(addForms(x, y), xy, kind === 'Or' ? -1 : -2);
  });
  return { dtype: 'bool', shape: e.shape, scale: 1, elems };
}

// ---- constants at a chosen scale ----

/**
 * A scale for constant values: the coarsest power of two 2^-k (k <= 12) that makes every value an exact
 * integer (integer-valued tables: scale 1) while keeping |integers| <= 2^(bits + 8); otherwise the
 * activation-width scale absMax / (2^(bits-1) - 1) (rounding error <= half a unit).
 */
export function constScale(values: ArrayLike<number>, bits: number): number {
  let absMax = 0;
  for (let i = 0; i < values.length; i++) absMax = Math.max(absMax, Math.abs(values[i]));
  if (absMax === 0) return 1;
  for (let k = 0; k <= 12; k++) {
    const u = 2 ** -k;
    if (absMax / u > 2 ** (bits + 8)) break;
    let ok = true;
    for (let i = 0; i < values.length && ok; i++) ok = Number.isInteger(values[i] / u);
    if (ok) return u;
  }
  return absMax / (2 ** (bits - 1) - 1);
}

/** Input i's forms at `scale`: a constant's float values re-rounded at it, a computed tensor as is. */
function formsAt(ctx: LowerCtx, i: number, q: QTensor, scale: number): Form[] {
  const c = ctx.constant(i);
  if (!c || q.dtype !== 'float') return q.elems;
  return Array.from(c.data, (v) => constForm(Math.round(v / scale)));
}

/**
 * The scale all float inputs of an element-wise op meet at: the common scale of the computed inputs
 * (composite.commonScale: exact for integer ratios); constants are re-rounded to it. All constant: the
 * constScale of their values together. Int inputs: 1.
 */
function sharedScale(ctx: LowerCtx, inputs: QTensor[], indices: number[]): number {
  if (indices.every((i) => inputs[i].dtype !== 'float')) return 1;
  const computed = indices.filter((i) => !ctx.constant(i));
  if (computed.length === 0) {
    const vals = indices.flatMap((i) => Array.from(ctx.constant(i)!.data));
    return constScale(vals, ctx.b.options.activationBits);
  }
  const scales = computed.map((i) => inputs[i].scale);
  const small = Math.min(...scales);
  if (scales.every((x) => integral(x / small) && x / small <= 2 ** 20)) return small;
  return Math.max(...scales) / 2 ** 16;
}

/** f (at scale `from`) at the shared scale `to`: exact for an integer ratio, else rounded (2^-16 of the larger scale). */
function toScale(f: Form, from: number, to: number): Form {
  return from === to ? f : scaleForm(f, Math.round(from / to));
}

// ---- Where ----

/**
 * Where(c, x, y) = y + c * (x - y) at the common scale of x and y. A constant condition folds; constant
 * x and y make it linear in c. Constraints per element: 1 product (0 when c or x - y is constant).
 */
export function lowerWhere(ctx: LowerCtx, inputs: Array<QTensor | undefined>): QTensor {
  const [, x, y] = inputs as QTensor[];
  const scale = sharedScale(ctx, inputs as QTensor[], [1, 2]);
  const xs = { ...x, elems: formsAt(ctx, 1, x, scale), scale: ctx.constant(1) && x.dtype === 'float' ? scale : x.scale };
  const ys = { ...y, elems: formsAt(ctx, 2, y, scale), scale: ctx.constant(2) && y.dtype === 'float' ? scale : y.scale };
  const e = broadcastElems({ ...ctx, constant: () => undefined }, [inputs[0], xs, ys]);
  const elems = Array.from({ length: e.count }, (_, k) => {
    const c = e.at(0, k).f;
    const a = e.at(1, k);
    const b = e.at(2, k);
    return select(ctx.b, c, toScale(a.f, a.scale, scale), scale, toScale(b.f, b.scale, scale), scale).f;
  });
  return { dtype: x.dtype, shape: e.shape, scale, elems };
}

// ---- Max, Min ----

/**
 * Max/Min of n broadcast inputs at their common scale (constants re-rounded to it, and only the largest
 * constant kept); Min = -max(-x). Constraints per element: MaxOfN, (n - 1) * (b + 2) with b the bits of
 * the inputs' spread; 0 for one input.
 */
export function lowerMaxMin(ctx: LowerCtx, inputs: Array<QTensor | undefined>, min: boolean): QTensor {
  const xs = inputs as QTensor[];
  const idx = xs.map((_, i) => i);
  const scale = sharedScale(ctx, xs, idx);
  const at = xs.map((q, i) => ({ ...q, elems: formsAt(ctx, i, q, scale), scale: ctx.constant(i) && q.dtype === 'float' ? scale : q.scale }));
  const e = broadcastElems({ ...ctx, constant: () => undefined }, at);
  const sign = min ? -1 : 1;
  const elems = Array.from({ length: e.count }, (_, k) => {
    const forms: Form[] = [];
    let best: number | undefined;
    for (let i = 0; i < xs.length; i++) {
      const el = e.at(i, k);
      const f = scaleForm(toScale(el.f, el.scale, scale), sign);
      if (f.terms.length === 0) best = best === undefined ? f.bias : Math.max(best, f.bias);
      else forms.push(f);
    }
    if (best !== undefined) {
      // A constant at or above every computed upper bound is the maximum; one below every lower bound never wins.
      const bs = forms.map((f) => ctx.b.bounds(f));
      if (bs.every((x) => x.hi <= best!)) return constForm(sign * best);
      if (!bs.some((x) => x.lo >= best!)) forms.push(constForm(best));
    }
    return scaleForm(maxOf(ctx.b, forms), sign);
  });
  return { dtype: xs[0].dtype, shape: e.shape, scale, elems };
}

// ---- reductions ----

export interface ReducePlanQ {
  /** Groups of flat input indices, one per output element (row-major over the kept axes). */
  groups: number[][];
  shape: number[];
}

/**
 * The groups a Reduce* node reduces over, as reduce.ts's plan reads them (axes attribute before `since`,
 * constant input 1 from it; no axes: all, or none with noop_with_empty_axes).
 */
export function reduceGroupsOf(ctx: LowerCtx, x: QTensor, since = 18): ReducePlanQ {
  const rank = x.shape.length;
  const keepdims = ctx.attrs.int('keepdims', 1) === 1;
  let axes: number[] | undefined;
  let noop = 0;
  if (ctx.opset >= since) {
    noop = ctx.attrs.int('noop_with_empty_axes', 0);
    const t = ctx.node.inputs[1] ? ctx.constant(1) : undefined;
    if (ctx.node.inputs[1] && !t) bad(ctx, 'the axes input must be a constant');
    if (t) axes = Array.from(t.data);
  } else if (ctx.attrs.has('axes')) axes = ctx.attrs.ints('axes');
  if (!axes || axes.length === 0) {
    if (noop === 1) return { groups: x.elems.map((_, i) => [i]), shape: [...x.shape] };
    axes = Array.from({ length: rank }, (_, i) => i);
  }
  const ax = normAxes(ctx, axes, rank);
  const g = reduceGroups(x.shape, ax);
  const groups = Array.from({ length: g.outer }, (_, o) => Array.from({ length: g.inner }, (_, i) => g.index(o, i)));
  return { groups, shape: reducedShape(x.shape, ax, keepdims) };
}

/** ReduceMax/ReduceMin: MaxOfN over each group (Min on negated forms). Per group: (n - 1) * (b + 2). */
export function lowerReduceMax(ctx: LowerCtx, x: QTensor, min: boolean): QTensor {
  const { groups, shape } = reduceGroupsOf(ctx, x);
  const s = min ? -1 : 1;
  const elems = groups.map((g) =>
    scaleForm(
      maxOf(
        ctx.b,
        g.map((i) => scaleForm(x.elems[i], s)),
      ),
      s,
    ),
  );
  return { dtype: x.dtype, shape, scale: x.scale, elems };
}

/**
 * ArgMax/ArgMin along one axis: the ArgMax primitive (first index of the maximum) over each group, on
 * negated forms for ArgMin; select_last_index reverses the group (index = n - 1 - argmax). Output int
 * at scale 1. Per group: n * (b + 2) (ArgMax gadget, b the signed bits of the group's values); 0 for
 * one element or constants.
 */
export function lowerArg(ctx: LowerCtx, x: QTensor, min: boolean, axis: number, keepdims: boolean, last: boolean): QTensor {
  const g = reduceGroups(x.shape, [axis]);
  const s = min ? -1 : 1;
  const elems = Array.from({ length: g.outer }, (_, o) => {
    let forms = Array.from({ length: g.inner }, (_, i) => scaleForm(x.elems[g.index(o, i)], s));
    if (last) forms = forms.reverse();
    let r: Form;
    if (forms.length === 1) r = constForm(0);
    else if (forms.every((f) => f.terms.length === 0)) {
      let k = 0;
      forms.forEach((f, i) => f.bias > forms[k].bias && (k = i));
      r = constForm(k);
    } else r = ctx.b.prim({ kind: 'argmax', in: forms });
    return last ? addForms(constForm(forms.length - 1), r, -1) : r;
  });
  return { dtype: 'int', shape: reducedShape(x.shape, [axis], keepdims), scale: 1, elems };
}

/** A sum over each group of forms at one scale: exact, then requantized to the output range (int: exact). */
function sumGroups(ctx: LowerCtx, dtype: DType, terms: QTensor, groups: number[][], shape: number[], range: Range | null): QTensor {
  const forms: RealForm[] = groups.map((g) => ({ bias: 0, terms: g.map((i) => [terms, i, 1] as [QTensor, number, number]) }));
  return ctx.b.linear(dtype, shape, forms, dtype === 'float' ? range : null);
}

/** ReduceL1: |x| = max(x, -x) (MaxOfN of 2: b + 2; free when the sign is known), exact sum, one requantization. */
export function lowerReduceL1(ctx: LowerCtx, x: QTensor): QTensor {
  const { groups, shape } = reduceGroupsOf(ctx, x);
  const abs = x.elems.map((f) => {
    const b = ctx.b.bounds(f);
    if (b.lo >= 0) return f;
    if (b.hi <= 0) return neg(f);
    return maxOf(ctx.b, [f, neg(f)]);
  });
  return sumGroups(ctx, x.dtype, { ...x, elems: abs }, groups, shape, outputRange(ctx));
}

function squares(ctx: LowerCtx, x: QTensor): QTensor {
  return { ...x, scale: x.scale * x.scale, elems: x.elems.map((f) => product(ctx.b, f, f)) };
}

/** ReduceSumSquare: one product per element (x * x at scale s^2), exact sum, one requantization. */
export function lowerReduceSumSquare(ctx: LowerCtx, x: QTensor): QTensor {
  const { groups, shape } = reduceGroupsOf(ctx, x);
  return sumGroups(ctx, x.dtype, squares(ctx, x), groups, shape, outputRange(ctx));
}

/**
 * ReduceL2: exact sum of squares (1 product per element), then sqrt by a lookup over the calibrated
 * range of the sum ([0, max(out)^2] at lookupBits, so the error is largest near 0: sqrt of half a step,
 * max(out) / 2^((lookupBits + 1) / 2)). Per group: the products, one requantization onto the table's
 * domain and one Lookup.
 */
export function lowerReduceL2(ctx: LowerCtx, x: QTensor): QTensor {
  if (x.dtype !== 'float') bad(ctx, `ReduceL2 of a computed ${x.dtype} tensor is not supported (its truncated square root has no exact table)`);
  const { groups, shape } = reduceGroupsOf(ctx, x);
  const sum = sumGroups(ctx, 'float', squares(ctx, x), groups, shape, null);
  const out = ctx.outStats();
  const top = Math.max(out.max, 1e-9) ** 2;
  return ctx.b.unary(sum, { min: 0, max: top, absMax: top }, Math.sqrt, ctx.b.rangeFor(out));
}

/**
 * ReduceLogSumExp: m = max (MaxOfN), e = exp(x - m) by a lookup onto [0, 2^E] (E = activation bits + 4;
 * the domain is x - m <= 0 over the calibrated spread, as in composite.softmax), S = sum (exact, S >= 1),
 * log S by a lookup at the input's scale, out = m + log S (exact). Precision: the two tables' input steps
 * (spread / 2^lookupBits on x - m, n / 2^lookupBits on S) and half an input unit. Per group of n: MaxOfN,
 * n requantizations + Lookups for exp, one requantization + Lookup for log, one requantization when the
 * value is read by another node.
 */
export function lowerReduceLogSumExp(ctx: LowerCtx, x: QTensor): QTensor {
  const { groups, shape } = reduceGroupsOf(ctx, x);
  const E = ctx.b.options.activationBits + 4;
  const st = ctx.inStats(0);
  const spread = st.max - st.min;
  const elems = groups.map((g) => {
    const m = maxOf(
      ctx.b,
      g.map((i) => x.elems[i]),
    );
    const d: QTensor = { dtype: 'float', shape: [g.length], scale: x.scale, elems: g.map((i) => addForms(x.elems[i], m, -1)) };
    const dlo = -Math.min(16, Math.max(spread * 1.25, x.scale));
    const e = ctx.b.unary(d, { min: dlo, max: 0, absMax: -dlo }, Math.exp, { scale: 2 ** -E, lo: 0, bits: E + 1 });
    const sum = e.elems.reduce((acc, f) => addForms(acc, f), constForm(0));
    const n = g.length;
    if (sum.terms.length === 0 && n === 1) return m;
    const logTop = Math.ceil(Math.log(n) / x.scale) + 1;
    const logS = ctx.b.unary({ dtype: 'float', shape: [1], scale: e.scale, elems: [sum] }, { min: 1, max: n, absMax: n }, Math.log, {
      scale: x.scale,
      lo: 0,
      bits: unsignedBits(logTop),
    });
    return addForms(m, logS.elems[0]);
  });
  const t: QTensor = { dtype: 'float', shape, scale: x.scale, elems };
  const range = outputRange(ctx);
  return range ? ctx.b.requantize(t, range) : t;
}

/**
 * ReduceProd: a running product, one Mul per element past the first of a group, kept exact while the
 * bounds stay within 2^40 and otherwise requantized onto the worst-case range of the partial product at
 * activation bits + 8; the result is requantized to the output's calibrated range. Precision: the final
 * requantization (plus the intermediate ones' relative 2^-(bits+7) when they happen).
 */
export function lowerReduceProd(ctx: LowerCtx, x: QTensor): QTensor {
  const { groups, shape } = reduceGroupsOf(ctx, x);
  const b = ctx.b;
  const bits = b.options.activationBits + 8;
  const A = Math.max(ctx.inStats(0).absMax, 1e-9);
  const results: Array<{ f: Form; scale: number }> = groups.map((g) => {
    let acc = { f: x.elems[g[0]], scale: x.scale };
    g.slice(1).forEach((i, k) => {
      const xb = b.bounds(x.elems[i]);
      const ab = b.bounds(acc.f);
      const reach = Math.max(Math.abs(xb.lo), Math.abs(xb.hi)) * Math.max(Math.abs(ab.lo), Math.abs(ab.hi));
      if (x.dtype === 'float' && reach > 2 ** 40) {
        const worst = A ** (k + 1);
        const r = b.rangeFor({ min: -worst, max: worst, absMax: worst }, bits);
        acc = { f: b.requantize({ dtype: 'float', shape: [1], scale: acc.scale, elems: [acc.f] }, r).elems[0], scale: r.scale };
      }
      acc = { f: product(b, acc.f, x.elems[i]), scale: acc.scale * x.scale };
    });
    return acc;
  });
  if (x.dtype !== 'float') {
    if (results.some((r) => r.scale !== 1)) bad(ctx, 'an integer product outgrows exact arithmetic');
    return { dtype: x.dtype, shape, scale: 1, elems: results.map((r) => r.f) };
  }
  // Every group has the same length and so the same scale path.
  const t: QTensor = { dtype: 'float', shape, scale: results.length ? results[0].scale : 1, elems: results.map((r) => r.f) };
  const range = outputRange(ctx);
  return range ? b.requantize(t, range) : t;
}

// ---- softmax ----

/** Groups of flat indices along `axes` (each group one softmax). */
export function axisGroups(shape: readonly number[], axes: number[]): number[][] {
  const g = reduceGroups(shape, axes);
  return Array.from({ length: g.outer }, (_, o) => Array.from({ length: g.inner }, (_, i) => g.index(o, i)));
}

/** The calibrated spread max - min of input i (the deepest x - max(x) a softmax group can see). */
export function spreadOf(stats: Stats): number {
  return Math.max(stats.max - stats.min, 0);
}

// ---- Gather with computed indices ----

/**
 * Gather(data, indices) along `axis` with computed int indices. Per index element with static bounds
 * [lo, hi] (refused unless -dim <= lo and hi < dim; negative indices wrap as in ONNX): a one-hot
 * e_v = [idx == v] over the k = hi - lo + 1 candidates (k - 1 IsEqual, 2 constraints each, the last one
 * 1 - sum; k = 2: e_hi = idx - lo, free), then out = sum_v e_v * data[v] (linear for constant data,
 * k - 1 products for computed data). For constant data, when cheaper, each output element is instead a
 * Lookup of the index into its slice of the table (exact: int tables at scale 1, float tables at
 * constScale). Exact either way (float tables: up to constScale's rounding).
 */
export function lowerGatherComputed(ctx: LowerCtx, data: QTensor, indices: QTensor, axis: number): QTensor {
  const b = ctx.b;
  const s = data.shape;
  const dim = s[axis];
  const outer = size(s.slice(0, axis));
  const inner = size(s.slice(axis + 1));
  const ib = b.tensorBounds(indices);
  if (indices.elems.length === 0) return { dtype: data.dtype, shape: [...s.slice(0, axis), ...indices.shape, ...s.slice(axis + 1)], scale: data.scale, elems: [] };
  if (ib.lo < -dim || ib.hi >= dim) bad(ctx, `computed indices may take values in [${ib.lo}, ${ib.hi}], outside [${-dim}, ${dim - 1}] for axis ${axis} of size ${dim}`);
  const pos = (v: number) => (v < 0 ? v + dim : v);
  const table = ctx.constant(0);
  const scale = table && data.dtype === 'float' ? constScale(table.data, b.options.activationBits) : data.scale;
  const tq = (j: number) => (table ? (data.dtype === 'float' ? Math.round(table.data[j] / scale) : table.data[j]) : 0);
  const nIdx = indices.elems.length;
  const slices = outer * inner;
  const k = ib.hi - ib.lo + 1;
  // Costs of the two constructions for constant data (per index element).
  const oneHotCost = k <= 2 ? 0 : 2 * (k - 1);
  const lbits = Math.max(1, Math.ceil(Math.log2(k)));
  const useLookup = table !== undefined && k <= 2 ** b.options.lookupBits && slices * lookupConstraints(lbits) < oneHotCost;
  const out = new Array<Form>(outer * nIdx * inner);
  const put = (o: number, j: number, i: number, f: Form) => (out[(o * nIdx + j) * inner + i] = f);
  const srcIndex = (o: number, v: number, i: number) => o * dim * inner + pos(v) * inner + i;
  if (useLookup) {
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const vals = Array.from({ length: k }, (_, v) => tq(srcIndex(o, ib.lo + v, i)));
        const lo = Math.min(...vals);
        const hi = Math.max(...vals);
        const range: Range = { scale: 1, lo, bits: unsignedBits(hi - lo) };
        const r = b.unary(indices, { min: ib.lo, max: ib.hi, absMax: Math.max(-ib.lo, ib.hi) }, (v) => vals[Math.round(v) - ib.lo], range);
        r.elems.forEach((f, j) => put(o, j, i, f));
      }
    }
  } else {
    indices.elems.forEach((f, j) => {
      const fb = b.bounds(f);
      const cands = Array.from({ length: fb.hi - fb.lo + 1 }, (_, v) => fb.lo + v);
      let e: Form[];
      if (cands.length === 1) e = [one];
      else if (cands.length === 2) {
        const hiSel = addForms(f, constForm(fb.lo), -1);
        e = [not(hiSel), hiSel];
      } else {
        const eq = cands.slice(0, -1).map((v) => b.prim({ kind: 'equal', a: f, b: constForm(v) }));
        e = [...eq, eq.reduce((acc, x) => addForms(acc, x, -1), one)];
      }
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          if (table) {
            put(
              o,
              j,
              i,
              cands.reduce((acc, v, c) => addForms(acc, scaleForm(e[c], tq(srcIndex(o, v, i)))), constForm(0)),
            );
          } else {
            // sum_v e_v x_v = x_last + sum_{v < last} e_v (x_v - x_last): k - 1 products.
            const last = data.elems[srcIndex(o, cands[cands.length - 1], i)];
            let acc = last;
            cands.slice(0, -1).forEach((v, c) => (acc = addForms(acc, product(b, e[c], addForms(data.elems[srcIndex(o, v, i)], last, -1)))));
            put(o, j, i, acc);
          }
        }
      }
    });
  }
  return { dtype: data.dtype, shape: [...s.slice(0, axis), ...indices.shape, ...s.slice(axis + 1)], scale: data.dtype === 'float' ? scale : 1, elems: out };
}

// ---- Cast of computed values ----

/**
 * Cast of a computed tensor where the value changes:
 * - to bool: x != 0 = 1 - [x == 0] (IsEqual, 2 constraints; free when the bounds decide it);
 * - float to int: trunc(x * s) toward zero, exactly: with s ~ A / 2^k (A an integer, k as large as keeps
 *   |x| * A < 2^50) and n = [x < 0] (a LessThan of x's width; none when x's sign is known),
 *   q = floor((x * A + n * (2^k - 1)) / 2^k), one requantization (k + width bits) — floor for x >= 0,
 *   ceil for x < 0. The construction is checked against Math.trunc(x * s) for every x in the bounds
 *   (when they span <= 2^16 values; beyond, its error is a flip only within |x| * 2^-k of an integer).
 *   An integer scale needs nothing: x * s.
 */
export function lowerCastComputed(ctx: LowerCtx, x: QTensor, to: DType): QTensor {
  const b = ctx.b;
  if (to === 'bool') {
    const elems = x.elems.map((f) => {
      const fb = b.bounds(f);
      if (fb.lo > 0 || fb.hi < 0) return one;
      if (fb.lo === 0 && fb.hi === 0) return constForm(0);
      return not(b.prim({ kind: 'equal', a: f, b: constForm(0) }));
    });
    return { dtype: 'bool', shape: [...x.shape], scale: 1, elems };
  }
  if (to !== 'int' || x.dtype !== 'float') bad(ctx, `casting a computed ${x.dtype} tensor to ${to} is not supported`);
  const s = x.scale;
  if (Number.isInteger(s)) return { dtype: 'int', shape: [...x.shape], scale: 1, elems: x.elems.map((f) => scaleForm(f, s)) };
  const elems = x.elems.map((f) => {
    const fb = b.bounds(f);
    if (fb.lo === fb.hi) return constForm(Math.trunc(fb.lo * s) + 0);
    const X = Math.max(Math.abs(fb.lo), Math.abs(fb.hi), 1);
    const kMax = Math.max(0, Math.min(Math.floor(Math.log2(2 ** 50 / (X * s))), 200));
    const enumerate = fb.hi - fb.lo <= 2 ** 16;
    // floor((v A + [v < 0] (2^k - 1)) / 2^k), as the requantization computes it (exact in doubles: |v A| < 2^51).
    const trunc = (v: number, k: number, A: number) => Math.floor((v * A + (v < 0 ? 2 ** k - 1 : 0)) / 2 ** k);
    const exact = (k: number) => {
      const A = Math.round(s * 2 ** k);
      if (A < 1) return false;
      for (let v = fb.lo; v <= fb.hi; v++) if (trunc(v, k, A) !== Math.trunc(v * s)) return false;
      return true;
    };
    // The fewest multiplier bits that are exact on the whole domain (the requantization costs k + width).
    let k = kMax;
    if (enumerate) {
      k = -1;
      for (let c = 0; c <= kMax && k < 0; c++) if (exact(c)) k = c;
      if (k < 0) bad(ctx, `cannot truncate x * ${s} exactly over x in [${fb.lo}, ${fb.hi}] with a multiplier of at most ${kMax} bits`);
    }
    const A = Math.round(s * 2 ** k);
    if (A < 1) bad(ctx, `the input scale ${s} is too small to cast exactly`);
    if (k === 0) return scaleForm(f, A);
    const pow = 2 ** k;
    const n = fb.lo >= 0 ? constForm(0) : fb.hi < 0 ? one : b.prim({ kind: 'less', a: f, b: constForm(0) });
    const num = addForms(addForms(scaleForm(f, A), scaleForm(n, pow - 1)), constForm(k > 0 ? -pow / 2 : 0));
    return b.prim({ kind: 'requant', in: { bias: num.bias, terms: mergeTerms(num.terms) }, mult: 1, shift: k, clampLo: null, clampBits: 1 });
  });
  return { dtype: 'int', shape: [...x.shape], scale: 1, elems };
}
