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

/** OneHot(k): 2^k - k - 1 products (circuits/lookup.circom). */
const oneHot = (k: number) => (k <= 1 ? 0 : 2 ** k - k - 1);

/** Lookup(w, T): w bits, two one-hots over the low w \ 2 and high bits, one product per high selector. */
export function lookupConstraints(w: number): number {
  const k = Math.floor(w / 2);
  return w + oneHot(k) + oneHot(w - k) + 2 ** (w - k);
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
      return { template: 'Lookup', params: [p.bits], constraints: lookupConstraints(p.bits) };
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
