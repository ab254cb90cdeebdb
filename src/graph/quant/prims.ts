/**
 * The integer primitives: the only things in a graph circuit that make signals and cost constraints.
 * Every op lowers to these (quant/builder.ts); the TypeScript reference (reference.ts) and the circuit
 * emitter (emit.ts) each implement this list once, so they agree bit for bit by construction, and the
 * gadgets in circuits/ state each one's cost and guarantee.
 *
 * Semantics (all integers; a Form is evaluated over the signals computed so far):
 *   requant  q = floor((in * mult + 2^(shift-1)) / 2^shift)   (no rounding term when shift = 0)
 *            out = clamp(q, clampLo, clampLo + 2^clampBits - 1), or q when clampLo is null
 *   lookup   out = table[in - offset]             (in - offset in [0, 2^bits) for every valid input)
 *   mul      out = a * b
 *   div      out = floor(num / den)               (den >= 1 for every valid input)
 *   max      out = max(in[0..])
 *   less     out = 1 if a < b else 0
 *   equal    out = 1 if a == b else 0
 *   argmax   out = the first index of the maximum of in[0..]
 */
import type { Form } from './qtensor.js';

interface PrimBase {
  /** The graph node this primitive belongs to (for cost reports and errors). */
  node: string;
  /** The signal it defines. */
  out: number;
}

export type Prim =
  | (PrimBase & { kind: 'requant'; in: Form; mult: number; shift: number; clampLo: number | null; clampBits: number })
  | (PrimBase & { kind: 'lookup'; in: Form; offset: number; bits: number; table: number[] })
  | (PrimBase & { kind: 'mul'; a: Form; b: Form })
  | (PrimBase & { kind: 'div'; num: Form; den: Form })
  | (PrimBase & { kind: 'max'; in: Form[] })
  | (PrimBase & { kind: 'less'; a: Form; b: Form })
  | (PrimBase & { kind: 'equal'; a: Form; b: Form })
  | (PrimBase & { kind: 'argmax'; in: Form[] });

export type PrimKind = Prim['kind'];

/** Integer interval [lo, hi] of a signal or a form over every valid input. */
export interface Interval {
  lo: number;
  hi: number;
}

/** Bits of a two's-complement range holding every value of [lo, hi]: [-2^(n-1), 2^(n-1)). */
export function signedBits(lo: number, hi: number): number {
  let n = 1;
  while (-(2 ** (n - 1)) > lo || 2 ** (n - 1) - 1 < hi) n++;
  return n;
}

/** Bits of an unsigned range holding [0, hi]. */
export function unsignedBits(hi: number): number {
  let n = 1;
  while (2 ** n - 1 < hi) n++;
  return n;
}

export function evalForm(f: Form, signals: ArrayLike<number>): number {
  let v = f.bias;
  for (const [s, w] of f.terms) v += w * signals[s];
  return v;
}

export function floorDiv(a: number, b: number): number {
  return Math.floor(a / b);
}

/** floor((x * mult + 2^(shift-1)) / 2^shift), exactly (BigInt: x * mult may pass 2^53 when the result does not). */
export function requantQuotient(x: number, mult: number, shift: number): number {
  const v = BigInt(x) * BigInt(mult) + (shift > 0 ? 1n << BigInt(shift - 1) : 0n);
  const d = 1n << BigInt(shift);
  let q = v / d;
  if (v % d !== 0n && v < 0n) q -= 1n; // floor, not truncation
  return Number(q);
}

export function requantValue(p: Extract<Prim, { kind: 'requant' }>, x: number): number {
  const q = requantQuotient(x, p.mult, p.shift);
  return p.clampLo === null ? q : Math.min(Math.max(q, p.clampLo), p.clampLo + 2 ** p.clampBits - 1);
}

/** One primitive's output value from the signals computed so far (the reference semantics). */
export function evalPrim(p: Prim, s: ArrayLike<number>): number {
  switch (p.kind) {
    case 'requant':
      return requantValue(p, evalForm(p.in, s));
    case 'lookup':
      return p.table[evalForm(p.in, s) - p.offset];
    case 'mul':
      return evalForm(p.a, s) * evalForm(p.b, s);
    case 'div':
      return floorDiv(evalForm(p.num, s), evalForm(p.den, s));
    case 'max':
      return Math.max(...p.in.map((f) => evalForm(f, s)));
    case 'less':
      return evalForm(p.a, s) < evalForm(p.b, s) ? 1 : 0;
    case 'equal':
      return evalForm(p.a, s) === evalForm(p.b, s) ? 1 : 0;
    case 'argmax': {
      let best = 0;
      let bestValue = -Infinity;
      p.in.forEach((f, i) => {
        const v = evalForm(f, s);
        if (v > bestValue) [best, bestValue] = [i, v];
      });
      return best;
    }
  }
}
