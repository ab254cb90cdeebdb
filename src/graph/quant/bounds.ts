/**
 * Static bounds of each primitive's output from its inputs' bounds: sound intervals over every valid
 * input (the circuit's gadget widths come from them, so an honest witness always exists), and the
 * gadget parameters the emitter derives from them.
 */
import { fail } from '../../util/errors.js';
import { requantQuotient, signedBits, type Interval, type Prim } from './prims.js';
import type { Form } from './qtensor.js';

/**
 * The gadget input of a requant, in = acc * mult + 2^(shift-1) - clampLo * 2^shift (the clamp window
 * moved to [0, 2^clampBits)), and the quotient width n with in in [-2^(shift+n-1), 2^(shift+n-1)).
 */
export function requantWidth(p: Extract<Prim, { kind: 'requant' }>, b: Interval): { offset: bigint; n: number } {
  const offset = (p.shift > 0 ? 1n << BigInt(p.shift - 1) : 0n) - BigInt(p.clampLo ?? 0) * (1n << BigInt(p.shift));
  const lo = BigInt(b.lo) * BigInt(p.mult) + offset;
  const hi = BigInt(b.hi) * BigInt(p.mult) + offset;
  let n = 1;
  const s = BigInt(p.shift);
  while (-(1n << (s + BigInt(n) - 1n)) > lo || (1n << (s + BigInt(n) - 1n)) - 1n < hi) n++;
  if (p.shift + n + 1 > 253) fail('BAD_MODEL', `node '${p.node}': a requantization needs ${p.shift + n} bits, more than the field allows`);
  return { offset, n };
}

export function evalPrimBounds(p: Prim, bounds: (f: Form) => Interval): Interval {
  switch (p.kind) {
    case 'requant': {
      const b = bounds(p.in);
      let lo = requantQuotient(b.lo, p.mult, p.shift);
      let hi = requantQuotient(b.hi, p.mult, p.shift);
      if (p.clampLo !== null) {
        const top = p.clampLo + 2 ** p.clampBits - 1;
        lo = Math.min(Math.max(lo, p.clampLo), top);
        hi = Math.min(Math.max(hi, p.clampLo), top);
      }
      return { lo, hi };
    }
    case 'lookup': {
      const b = bounds(p.in);
      if (b.lo < p.offset || b.hi - p.offset >= 2 ** p.bits) throw new Error(`internal error: node '${p.node}': lookup input [${b.lo}, ${b.hi}] outside its table`);
      const reach = p.table.slice(b.lo - p.offset, b.hi - p.offset + 1);
      return { lo: Math.min(...reach), hi: Math.max(...reach) };
    }
    case 'mul': {
      const a = bounds(p.a);
      const c = bounds(p.b);
      const corners = [a.lo * c.lo, a.lo * c.hi, a.hi * c.lo, a.hi * c.hi];
      return { lo: Math.min(...corners), hi: Math.max(...corners) };
    }
    case 'div': {
      const n = bounds(p.num);
      const d = bounds(p.den);
      if (d.lo < 1) throw new Error(`internal error: node '${p.node}': divisor bounds [${d.lo}, ${d.hi}] include values below 1`);
      const corners = [n.lo / d.lo, n.lo / d.hi, n.hi / d.lo, n.hi / d.hi];
      return { lo: Math.floor(Math.min(...corners)), hi: Math.floor(Math.max(...corners)) };
    }
    case 'max': {
      const bs = p.in.map(bounds);
      return { lo: Math.max(...bs.map((b) => b.lo)), hi: Math.max(...bs.map((b) => b.hi)) };
    }
    case 'less':
    case 'equal':
      return { lo: 0, hi: 1 };
    case 'argmax':
      return { lo: 0, hi: p.in.length - 1 };
  }
}

/** Width of a signed difference a - b over the bounds (comparisons). */
export function differenceBits(a: Interval, b: Interval): number {
  return signedBits(a.lo - b.hi, a.hi - b.lo);
}
