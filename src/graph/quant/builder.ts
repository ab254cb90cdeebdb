/**
 * Builds the integer program of a graph: signals with static bounds (intervals that hold for every valid
 * input) and the primitives that define them (prims.ts). Op lowerings call the helpers below; each helper
 * states how it quantizes. Bounds are interval arithmetic over forms, so they are sound (never too narrow)
 * whatever the correlations between signals; gadget widths come from them.
 */
import { fail } from '../../util/errors.js';
import type { DType, Tensor } from '../ir.js';
import { evalPrimBounds } from './bounds.js';
import { requantQuotient, type Interval, type Prim } from './prims.js';
import type { Form, QTensor, Stats, Term } from './qtensor.js';
import type { QWeightTensor } from './privateWeights.js';

export interface QuantOptions {
  /** Width of requantized activations (signed, or unsigned when the calibrated values are >= 0). */
  activationBits: number;
  /** Width of the input domain of a lookup table (2^bits entries). */
  lookupBits: number;
  /** Width of quantized weights (signed). */
  weightBits: number;
  /** Precision of the largest requantization multiplier of a tensor. */
  multiplierBits: number;
}

export const DEFAULT_QUANT: QuantOptions = { activationBits: 8, lookupBits: 8, weightBits: 8, multiplierBits: 10 };

/** Largest magnitude any form may reach: the reference computes with doubles and must stay exact. */
export const EXACT = 2 ** 52;

/** Guard bits of a folded requantization (requantizeFolded): its weights' rounding stays below 2^-(G+1) of a unit. */
export const FOLD_GUARD_BITS = 3;

/** An integer range and the real value of one unit: the target of a requantization. */
export interface Range {
  scale: number;
  /** Clamp to [lo, lo + 2^bits - 1]. */
  lo: number;
  bits: number;
}

/** A real-weighted affine form over elements of quantized tensors: bias + sum of weight * src[index]. */
export interface RealForm {
  bias: number;
  terms: Array<[QTensor, number, number]>;
}

/**
 * A max pool applied to a linear op's accumulators before their requantization (a fused MaxPool): output
 * k is the maximum of elements groups[k]. Floor-requantization with M > 0 and its clamp are monotone
 * non-decreasing, so requant(max(a, b)) = max(requant(a), requant(b)) for elements sharing one unit, shift
 * and multiplier: one requantization per pooled output instead of one per element, for a comparison of
 * the accumulators' width instead of the activations'.
 */
export interface Pooling {
  shape: number[];
  groups: number[][];
}

export class QBuilder {
  readonly signals: Interval[] = [];
  readonly prims: Prim[] = [];
  /** Private weight tensors (privateWeights.ts), in the order they were made. */
  readonly weights: QWeightTensor[] = [];
  /** Lower weight and bias constants of linear ops to private signals (--weights private). */
  privateWeights = false;
  /** The node whose lowering is running (set by the lowering driver). */
  node = '';

  /** The widths of the node being lowered (the model's, or a per-tensor override set by the driver). */
  constructor(public options: QuantOptions) {}

  // ---- signals and bounds ----

  /** A new signal with the given bounds (inputs use this directly; primitives through `prim`). */
  signal(bounds: Interval): number {
    this.signals.push(bounds);
    return this.signals.length - 1;
  }

  bounds(f: Form): Interval {
    let lo = f.bias;
    let hi = f.bias;
    for (const [s, w] of f.terms) {
      const b = this.signals[s];
      if (w > 0) {
        lo += w * b.lo;
        hi += w * b.hi;
      } else {
        lo += w * b.hi;
        hi += w * b.lo;
      }
    }
    if (Math.abs(lo) > EXACT || Math.abs(hi) > EXACT) {
      fail(
        'BAD_MODEL',
        `node '${this.node}': integer values may reach 2^${Math.log2(Math.max(Math.abs(lo), Math.abs(hi))).toFixed(1)}, beyond exact arithmetic (2^52); use fewer activation or weight bits`,
      );
    }
    return { lo, hi };
  }

  tensorBounds(t: QTensor): Interval {
    let lo = Infinity;
    let hi = -Infinity;
    for (const f of t.elems) {
      const b = this.bounds(f);
      lo = Math.min(lo, b.lo);
      hi = Math.max(hi, b.hi);
    }
    return { lo, hi };
  }

  /** Append a primitive defining a new signal; its bounds follow from its inputs' (bounds.ts). */
  prim(p: DistributiveOmit<Prim, 'node' | 'out'>): Form {
    const full = { ...p, node: this.node, out: this.signals.length } as Prim;
    const b = evalPrimBounds(full, (f) => this.bounds(f));
    this.signal(b);
    this.prims.push(full);
    return { bias: 0, terms: [[full.out, 1]] };
  }

  // ---- ranges ----

  /** The requantization target for values with these statistics at `bits` bits. */
  rangeFor(stats: Stats, bits = this.options.activationBits): Range {
    if (stats.min >= 0) return { scale: (stats.max > 0 ? stats.max : 1) / (2 ** bits - 1), lo: 0, bits };
    // Never positive (x - max before an exp): the whole range below 0.
    if (stats.max <= 0) return { scale: -stats.min / (2 ** bits - 1), lo: -(2 ** bits - 1), bits };
    return { scale: (stats.absMax > 0 ? stats.absMax : 1) / (2 ** (bits - 1) - 1), lo: -(2 ** (bits - 1)), bits };
  }

  // ---- tensors ----

  /** A constant tensor as forms without terms, at `scale` (int and bool tensors: exact, scale 1). */
  constant(t: Tensor, scale?: number): QTensor {
    if (t.dtype !== 'float') return { dtype: t.dtype, shape: t.shape, scale: 1, elems: Array.from(t.data, (v) => ({ bias: v, terms: [] })) };
    const absMax = t.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const s = scale ?? (absMax > 0 ? absMax / (2 ** (this.options.activationBits - 1) - 1) : 1);
    return { dtype: 'float', shape: t.shape, scale: s, elems: Array.from(t.data, (v) => ({ bias: Math.round(v / s), terms: [] })) };
  }

  /** Element-wise map over forms (data movement and exact integer rewrites). */
  map(t: QTensor, fn: (f: Form, i: number) => Form, extra: Partial<QTensor> = {}): QTensor {
    return { ...t, ...extra, elems: t.elems.map(fn) };
  }

  /**
   * A linear op: out[o] = forms[o] in real numbers. Integer weights: exact when every real factor
   * (weight x source scale) is an integer multiple of the smallest one (sums, pools, adds of equal
   * scales, concatenation); otherwise `weightBits` per output element. The result is then requantized
   * to `range` (null: keep the exact accumulator, at a scale shared by the tensor; only where the
   * accumulator bounds stay small or the value is a graph output). With `pool`, the maximum of each
   * window of accumulators is requantized instead (Pooling).
   */
  linear(dtype: DType, shape: number[], forms: RealForm[], range: Range | null, pool?: Pooling): QTensor {
    const factors = forms.map((f) => f.terms.map(([src, , w]) => w * src.scale));
    const nonzero = factors
      .flat()
      .filter((e) => e !== 0)
      .map(Math.abs);
    const unit = nonzero.length ? nonzero.reduce((m, e) => Math.min(m, e), Infinity) : 1;
    const exact = nonzero.every((e) => Math.abs(e / unit - Math.round(e / unit)) < 1e-9 * (e / unit) && e / unit <= 2 ** 20);
    const accumulate = (o: number, u: number): Form => {
      const terms: Term[] = [];
      let bias = Math.round(forms[o].bias / u);
      forms[o].terms.forEach(([src, i], k) => {
        const w = Math.round(factors[o][k] / u);
        if (w === 0) return;
        const f = src.elems[i];
        bias += w * f.bias;
        for (const [s, v] of f.terms) terms.push([s, w * v]);
      });
      return { bias, terms: mergeTerms(terms) };
    };
    const wmax = 2 ** (this.options.weightBits - 1) - 1;
    if (range === null) {
      const u = exact ? unit : (nonzero.length ? nonzero.reduce((m, e) => Math.max(m, e), 0) : 1) / wmax;
      const elems = forms.map((_, o) => accumulate(o, u));
      return pool ? { dtype, shape: pool.shape, scale: u, elems: pool.groups.map((g) => this.maxForm(g.map((i) => elems[i]))) } : { dtype, shape, scale: u, elems };
    }
    // Per output element: its own weight scale, then a requantization to the range.
    const units = forms.map((_, o) => {
      if (exact) return unit;
      const m = factors[o].reduce((a, e) => Math.max(a, Math.abs(e)), 0);
      return m > 0 ? m / wmax : unit;
    });
    if (pool) {
      // Max pooling before the requantization: every element of a window must share one unit (the
      // coarsest of the window: a border element of a padded Conv may miss a channel's largest weight).
      for (const g of pool.groups) {
        const u = g.reduce((m, i) => Math.max(m, units[i]), 0);
        for (const i of g) units[i] = u;
      }
      const accs = forms.map((_, o) => accumulate(o, units[o]));
      const maxima = pool.groups.map((g) => this.maxForm(g.map((i) => accs[i])));
      return this.requantize(
        { dtype, shape: pool.shape, scale: 1, elems: maxima },
        range,
        pool.groups.map((g) => units[g[0]]),
      );
    }
    const accs = forms.map((_, o) => accumulate(o, units[o]));
    return this.requantize({ dtype, shape, scale: 1, elems: accs }, range, units);
  }

  /** The maximum of forms at one scale: one MaxOfN, or none for one form or constants. */
  maxForm(forms: Form[]): Form {
    if (forms.length === 1) return forms[0];
    if (forms.every((f) => f.terms.length === 0)) return { bias: Math.max(...forms.map((f) => f.bias)), terms: [] };
    return this.prim({ kind: 'max', in: forms });
  }

  /**
   * Requantize every element to `range`: q = floor((acc * M + 2^(s-1)) / 2^s), clamped, with
   * M / 2^s ~ accScale / range.scale and one shift per tensor. `accScales` gives a scale per element
   * (default: the tensor's). An element whose value already fits keeps its form (no constraint).
   */
  requantize(t: QTensor, range: Range, accScales?: number[]): QTensor {
    const ratios = t.elems.map((_, i) => (accScales ? accScales[i] : t.scale) / range.scale);
    const top = ratios.reduce((m, r) => Math.max(m, r), -Infinity);
    const mb = this.options.multiplierBits;
    // Integer ratios (clampInt's 1) need no shift: M = ratio exactly, and no remainder bits to constrain.
    const integral = ratios.every((r) => Number.isInteger(r) && r <= 2 ** mb - 1);
    const shift = this.requantShift(top, integral);
    const hiClamp = range.lo + 2 ** range.bits - 1;
    const elems = t.elems.map((f, i) => {
      const mult = Math.max(1, Math.round(ratios[i] * 2 ** shift));
      if (f.terms.length === 0) {
        // A constant: requantize at build time.
        return { bias: Math.min(Math.max(requantQuotient(f.bias, mult, shift), range.lo), hiClamp), terms: [] };
      }
      const b = this.bounds(f);
      // M itself must be an exact integer: a huge scale ratio (an extreme weight makes the accumulator unit
      // far coarser than the output's) would otherwise reach the circuit as a multiplier like 3e+26.
      if (!Number.isSafeInteger(mult)) {
        fail('BAD_MODEL', `node '${this.node}': requantization multiplier ${mult.toPrecision(3)} (scale ratio ${ratios[i].toPrecision(3)}) is beyond exact arithmetic (2^53)`);
      }
      if (mult === 1 && shift === 0 && b.lo >= range.lo && b.hi <= hiClamp) return f;
      return this.requantPrim(f, b, mult, shift, range);
    });
    return { dtype: t.dtype, shape: t.shape, scale: range.scale, elems };
  }

  /** One requant of form f (bounds b), clamped to `range` only where its bounds can leave it. */
  private requantPrim(f: Form, b: Interval, mult: number, shift: number, range: Range): Form {
    const hiClamp = range.lo + 2 ** range.bits - 1;
    const needsClamp = requantQuotient(b.lo, mult, shift) < range.lo || requantQuotient(b.hi, mult, shift) > hiClamp;
    return this.prim({ kind: 'requant', in: f, mult, shift, clampLo: needsClamp ? range.lo : null, clampBits: range.bits });
  }

  /**
   * Requantize sums of parts with real factors onto `range`, the multiplier folded into the weights:
   * out[o] = bias[o] + sum_j factors[j] * parts[j][o] (parts: integer forms) becomes
   * q = floor((sum_j W_j * parts[j][o] + B_o + 2^(s-1)) / 2^s) with W_j = round(factors[j] * 2^s / range.scale),
   * one requant (M = 1) per element. Rounding the weights moves the sum by at most
   * 0.5 * (1 + sum_j max|parts[j]|) / 2^s output units, so s = bits(sum_j max|parts[j]|) + FOLD_GUARD_BITS
   * keeps that near 2^-(FOLD_GUARD_BITS + 1) of a unit (the unfolded path's 10-bit multiplier errs by up to
   * 2^-10 of the value: 1/8 of a unit at the top of an 8-bit range). The requantization's width is then the output's plus s, instead of the sum's plus the
   * multiplier's. Undefined when s would exceed `maxShift` (the unfolded requantization's) or the folded
   * weights would pass exact arithmetic: the caller then requantizes as before.
   */
  requantizeFolded(
    dtype: DType,
    shape: number[],
    parts: Form[][],
    factors: number[],
    bias: ArrayLike<number>,
    range: Range,
    maxShift = Infinity,
  ): { shift: number; tensor: QTensor } | undefined {
    let reach = 0;
    for (const part of parts) {
      let m = 0;
      for (const f of part) {
        const b = this.bounds(f);
        m = Math.max(m, Math.abs(b.lo), Math.abs(b.hi));
      }
      reach += m;
    }
    const shift = Math.max(0, Math.ceil(Math.log2(Math.max(reach, 1))) + FOLD_GUARD_BITS);
    if (shift > maxShift) return undefined;
    const weights = factors.map((f) => Math.round((f * 2 ** shift) / range.scale));
    let top = 0;
    for (let o = 0; o < parts[0].length; o++) {
      let v = Math.abs((bias[o] * 2 ** shift) / range.scale);
      parts.forEach((part, j) => {
        const b = this.bounds(part[o]);
        v += Math.abs(weights[j]) * Math.max(Math.abs(b.lo), Math.abs(b.hi));
      });
      top = Math.max(top, v);
    }
    if (!(top < EXACT / 2)) return undefined;
    const hiClamp = range.lo + 2 ** range.bits - 1;
    const elems = parts[0].map((_, o) => {
      let c = Math.round((bias[o] * 2 ** shift) / range.scale);
      const terms: Term[] = [];
      parts.forEach((part, j) => {
        c += weights[j] * part[o].bias;
        for (const [s, w] of part[o].terms) terms.push([s, weights[j] * w]);
      });
      const f: Form = { bias: c, terms: mergeTerms(terms) };
      if (f.terms.length === 0) return { bias: Math.min(Math.max(requantQuotient(c, 1, shift), range.lo), hiClamp), terms: [] };
      return this.requantPrim(f, this.bounds(f), 1, shift, range);
    });
    return { shift, tensor: { dtype, shape, scale: range.scale, elems } };
  }

  /** The shift `requantize` gives a requantization whose largest scale ratio (accumulator / output) is `top`. */
  requantShift(top: number, integral = false): number {
    const mb = this.options.multiplierBits;
    return integral ? 0 : Math.max(0, Math.floor(Math.log2((2 ** mb - 1) / top)));
  }

  /** Clamp without rescaling: max(min(x, hi), lo) in integers (a requantization with M = 1, shift 0). */
  clampInt(f: Form, lo: number, bits: number): Form {
    return this.requantize({ dtype: 'int', shape: [1], scale: 1, elems: [f] }, { scale: 1, lo, bits }).elems[0];
  }

  /**
   * y = fn(x) element-wise by an exact lookup table: x is first requantized onto a `lookupBits`-wide
   * domain covering its calibrated range (unless its bounds already fit), then y = T[x - offset] with
   * T[j] = round(fn((offset + j) * inScale) / outRange.scale), clamped to outRange.
   */
  unary(x: QTensor, inStats: Stats, fn: (v: number) => number, outRange: Range): QTensor {
    const w = this.options.lookupBits;
    let domain = x;
    let b = this.tensorBounds(x);
    if (b.hi - b.lo + 1 > 2 ** w) {
      domain = this.requantize(x, this.rangeFor(inStats, w));
      b = this.tensorBounds(domain);
    }
    const bits = Math.max(1, Math.ceil(Math.log2(b.hi - b.lo + 1)));
    const hiClamp = outRange.lo + 2 ** outRange.bits - 1;
    const table = Array.from({ length: 2 ** bits }, (_, j) => {
      const v = fn((b.lo + Math.min(j, b.hi - b.lo)) * domain.scale) / outRange.scale;
      return Number.isFinite(v) ? Math.min(Math.max(Math.round(v), outRange.lo), hiClamp) : v > 0 ? hiClamp : outRange.lo;
    });
    const elems = domain.elems.map((f) => {
      if (f.terms.length === 0) return { bias: table[f.bias - b.lo], terms: [] };
      return this.prim({ kind: 'lookup', in: f, offset: b.lo, bits, table });
    });
    return { dtype: 'float', shape: x.shape, scale: outRange.scale, elems };
  }
}

/** Sum the weights of repeated signals and drop zeros (keeps forms short after composition). */
export function mergeTerms(terms: Term[]): Term[] {
  if (terms.length < 2) return terms;
  const by = new Map<number, number>();
  for (const [s, w] of terms) by.set(s, (by.get(s) ?? 0) + w);
  const out: Term[] = [];
  for (const [s, w] of by) if (w !== 0) out.push([s, w]);
  return out;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
