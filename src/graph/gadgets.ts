/**
 * Which circuits/ template implements each primitive, with its parameters (widths from the static bounds)
 * and its constraint count as the template's header states it. The emitter instantiates exactly this, and
 * cost reports sum it, so a report cannot disagree with the circuit's structure.
 */
import { differenceBits, requantWidth } from './quant/bounds.js';
import { signedBits, unsignedBits, type Interval, type Prim } from './quant/prims.js';
import type { Form } from './quant/qtensor.js';

export interface Gadget {
  template: string;
  params: number[];
  constraints: number;
}

/**
 * Lookup(w, T) (circuits/lookup.circom): w bits, OneHot over k = (w + 1) \ 2 low and m = w \ 2 high bits,
 * one product per high selector but the last, except for a row whose difference from the last row is
 * the same constant at every low index (circom folds that product into a linear constraint).
 */
export function lookupConstraints(w: number, table?: number[]): number {
  const k = Math.ceil(w / 2);
  const m = Math.floor(w / 2);
  const oneHot = (j: number) => 2 ** j - j - 1;
  let products = 2 ** m - 1;
  if (table) {
    const last = (2 ** m - 1) * 2 ** k;
    for (let h = 0; h < 2 ** m - 1; h++) {
      const d = table[h * 2 ** k] - table[last];
      let constant = true;
      for (let l = 1; l < 2 ** k && constant; l++) constant = table[h * 2 ** k + l] - table[last + l] === d;
      if (constant) products--;
    }
  }
  return w + oneHot(k) + oneHot(m) + products;
}

const spread = (bs: Interval[]) => ({ lo: Math.min(...bs.map((b) => b.lo)), hi: Math.max(...bs.map((b) => b.hi)) });

export function gadgetOf(p: Prim, bounds: (f: Form) => Interval): Gadget {
  switch (p.kind) {
    case 'requant': {
      const { n } = requantWidth(p, bounds(p.in));
      if (p.clampLo === null) return { template: 'DivFloorPow2', params: [p.shift, n], constraints: p.shift + n };
      return { template: 'RequantReluClamp', params: [p.shift, n, p.clampBits], constraints: p.shift + n + (p.clampBits < n - 1 ? 4 : 1) };
    }
    case 'lookup':
      return { template: 'Lookup', params: [p.bits], constraints: lookupConstraints(p.bits, p.table) };
    case 'mul':
      return { template: 'Mul', params: [], constraints: 1 };
    case 'div': {
      const nb = bounds(p.num);
      const db = bounds(p.den);
      const q = { lo: Math.floor(Math.min(nb.lo / db.lo, nb.lo / db.hi)), hi: Math.floor(Math.max(nb.hi / db.lo, nb.hi / db.hi)) };
      const nq = signedBits(q.lo, q.hi);
      const nd = unsignedBits(db.hi);
      return { template: 'DivFloor', params: [nq, nd], constraints: 1 + 2 * nd + nq };
    }
    case 'max': {
      const s = spread(p.in.map(bounds));
      const b = unsignedBits(s.hi - s.lo);
      return { template: 'MaxOfN', params: [p.in.length, b], constraints: (p.in.length - 1) * (b + 2) };
    }
    case 'less': {
      const n = differenceBits(bounds(p.a), bounds(p.b));
      return { template: 'LessThanSigned', params: [n], constraints: n };
    }
    case 'equal':
      return { template: 'IsEqual', params: [], constraints: 2 };
    case 'argmax': {
      const s = spread(p.in.map(bounds));
      const b = signedBits(s.lo, s.hi);
      return { template: 'ArgMax', params: [p.in.length, b], constraints: p.in.length * (b + 2) };
    }
  }
}

/**
 * What the constraints of the gadget defining a form's one signal confine it to, whatever the static
 * bounds say (undefined when they do not): a clamped requantization (RequantReluClamp: out in [0, 2^h - 1],
 * the signal out + clampLo), or max pooling over such forms (MaxOfN's output is one of its inputs). A
 * split model's chunk needs no range check of its own before committing an output confined like this.
 */
export function enforcedRanges(prims: readonly Prim[]): (f: Form) => Interval | undefined {
  const bySignal = new Map(prims.map((p) => [p.out, p]));
  const memo = new Map<number, Interval | undefined>();
  const ofSignal = (s: number): Interval | undefined => {
    if (memo.has(s)) return memo.get(s);
    const p = bySignal.get(s);
    let r: Interval | undefined;
    if (p?.kind === 'requant' && p.clampLo !== null) r = { lo: p.clampLo, hi: p.clampLo + 2 ** p.clampBits - 1 };
    else if (p?.kind === 'max') {
      const ins = p.in.map(ofForm);
      if (ins.every((x) => x !== undefined)) r = spread(ins as Interval[]);
    }
    memo.set(s, r);
    return r;
  };
  const ofForm = (f: Form): Interval | undefined => {
    if (f.terms.length !== 1 || f.terms[0][1] !== 1) return undefined;
    const r = ofSignal(f.terms[0][0]);
    return r && { lo: r.lo + f.bias, hi: r.hi + f.bias };
  };
  return ofForm;
}
