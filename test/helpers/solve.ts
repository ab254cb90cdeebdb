import type { R1csSystem } from '../../src/circuit/r1cs.js';

/**
 * Every witness of a small R1CS for fixed inputs, over the whole field, not over a sample of hint values.
 *
 * Depth-first propagation over F_p. A constraint A*B = C whose factor A (or B) is already known is affine
 * in the unknown wires (k*B - C); if exactly one unknown has a non-zero coefficient there, it has exactly
 * one value (a zero factor, as in IsZero with input 0, leaves the other factor's wires unconstrained by
 * that row). A constraint whose only unknown w is in both factors is a quadratic in w: branch on its 0, 1
 * or 2 roots (modular square root). A fully known constraint is checked, pruning the branch. Only when no
 * constraint can be used does the search guess a wire from `domain`; such wires are reported in
 * `guessed`, and only then is the enumeration limited to a domain. When `guessed` is empty the solutions
 * are ALL witnesses in the field with those inputs: a proof of uniqueness, not a sample.
 */
export interface Solutions {
  solutions: bigint[][];
  /** Wires no constraint pins once the others are set (enumerated over `domain`). */
  guessed: Set<number>;
}

function mod(x: bigint, p: bigint): bigint {
  const r = x % p;
  return r < 0n ? r + p : r;
}

function powMod(b: bigint, e: bigint, p: bigint): bigint {
  let r = 1n;
  for (b = mod(b, p); e > 0n; e >>= 1n, b = (b * b) % p) if (e & 1n) r = (r * b) % p;
  return r;
}

const inverse = (x: bigint, p: bigint) => powMod(x, p - 2n, p);

/** Square roots of a mod p (Tonelli-Shanks): [] for a non-residue, [0] for 0, else [r, p - r]. */
export function sqrtMod(a: bigint, p: bigint): bigint[] {
  a = mod(a, p);
  if (a === 0n) return [0n];
  if (powMod(a, (p - 1n) / 2n, p) !== 1n) return [];
  let q = p - 1n;
  let s = 0n;
  while ((q & 1n) === 0n) (q >>= 1n, s++);
  let z = 2n;
  while (powMod(z, (p - 1n) / 2n, p) !== p - 1n) z++;
  let m = s;
  let c = powMod(z, q, p);
  let t = powMod(a, q, p);
  let r = powMod(a, (q + 1n) / 2n, p);
  while (t !== 1n) {
    let i = 0n;
    for (let t2 = t; t2 !== 1n; t2 = (t2 * t2) % p) i++;
    const b = powMod(c, 1n << (m - i - 1n), p);
    m = i;
    c = (b * b) % p;
    t = (t * c) % p;
    r = (r * b) % p;
  }
  return r === p - r ? [r] : [r, p - r];
}

/** Roots of qa*w^2 + qb*w + qc over F_p, qa != 0. */
function quadraticRoots(qa: bigint, qb: bigint, qc: bigint, p: bigint): bigint[] {
  const disc = mod(qb * qb - 4n * qa * qc, p);
  const den = inverse(mod(2n * qa, p), p);
  return sqrtMod(disc, p).map((s) => mod((-qb + s) * den, p));
}

export function allSolutions(
  r1cs: R1csSystem,
  fixed: Map<number, bigint>,
  options: { domain?: (wire: number) => bigint[]; limit?: number } = {},
): Solutions {
  const p = r1cs.prime;
  const limit = options.limit ?? 10_000;
  const domain = options.domain ?? (() => [0n, 1n, 2n, p - 1n]);
  const rows = r1cs.constraints.map((abc) => ({ lcs: abc.map((lc) => [...lc]) }));
  const solutions: bigint[][] = [];
  const guessed = new Set<number>();

  // A linear combination as an affine function of the unknown wires: [constant, Map(wire -> coefficient)].
  const affine = (lc: Array<[number, bigint]>, v: Array<bigint | null>): [bigint, Map<number, bigint>] => {
    let c0 = 0n;
    const terms = new Map<number, bigint>();
    for (const [i, c] of lc) {
      if (v[i] === null) terms.set(i, mod((terms.get(i) ?? 0n) + c, p));
      else c0 += c * (v[i] as bigint);
    }
    for (const [i, c] of terms) if (c === 0n) terms.delete(i);
    return [mod(c0, p), terms];
  };

  /** Solve or check one row; 'dead' if it cannot hold, 'set' if it fixed a wire, 'branched' if it recursed. */
  const step = (lcs: Array<Array<[number, bigint]>>, v: Array<bigint | null>): 'dead' | 'set' | 'branched' | 'skip' => {
    const [a0, ta] = affine(lcs[0], v);
    const [b0, tb] = affine(lcs[1], v);
    const [c0, tc] = affine(lcs[2], v);
    if (ta.size && tb.size) {
      // Both factors unknown: solvable here only when they are the same single wire (a quadratic in w).
      const unknown = new Set([...ta.keys(), ...tb.keys(), ...tc.keys()]);
      if (unknown.size > 1) return 'skip';
      const w = [...unknown][0];
      const a1 = ta.get(w)!;
      const b1 = tb.get(w)!;
      for (const root of quadraticRoots(mod(a1 * b1, p), mod(a0 * b1 + a1 * b0 - (tc.get(w) ?? 0n), p), mod(a0 * b0 - c0, p), p)) {
        const next = [...v];
        next[w] = root;
        go(next);
      }
      return 'branched';
    }
    // One factor is known (k), so k * other - C is affine in the unknowns: keep the non-zero coefficients.
    const [k, other0, other] = ta.size ? [b0, a0, ta] : [a0, b0, tb];
    const coeff = new Map<number, bigint>();
    for (const w of new Set([...other.keys(), ...tc.keys()])) {
      const c = mod(k * (other.get(w) ?? 0n) - (tc.get(w) ?? 0n), p);
      if (c !== 0n) coeff.set(w, c);
    }
    const constant = mod(k * other0 - c0, p);
    if (coeff.size === 0) return constant === 0n ? 'skip' : 'dead';
    if (coeff.size > 1) return 'skip';
    const [[w, c]] = [...coeff];
    v[w] = mod(-constant * inverse(c, p), p);
    return 'set';
  };

  const go = (v: Array<bigint | null>): void => {
    if (solutions.length >= limit) throw new Error(`more than ${limit} solutions`);
    for (let progressed = true; progressed; ) {
      progressed = false;
      for (const row of rows) {
        const r = step(row.lcs, v);
        if (r === 'dead' || r === 'branched') return;
        if (r === 'set') progressed = true;
      }
    }
    const free = v.findIndex((x) => x === null);
    if (free < 0) {
      solutions.push(v as bigint[]);
      return;
    }
    guessed.add(free);
    for (const value of domain(free)) {
      const next = [...v];
      next[free] = mod(value, p);
      go(next);
    }
  };

  const start: Array<bigint | null> = Array.from({ length: r1cs.nVars }, () => null);
  start[0] = 1n;
  for (const [w, x] of fixed) start[w] = mod(x, p);
  go(start);
  return { solutions, guessed };
}

/** Wires of main's inputs, in r1cs order: after the constant and the outputs. */
export function inputWires(r1cs: R1csSystem): number[] {
  const first = 1 + r1cs.nOutputs;
  return Array.from({ length: r1cs.nPubInputs + r1cs.nPrvInputs }, (_, i) => first + i);
}
