import type { R1csSystem } from '../../tools/r1cs.js';

/**
 * Every witness of a small R1CS for fixed inputs, over the whole field, not over a sample of hint values.
 *
 * Depth-first propagation over F_p. A constraint A*B = C whose factor A (or B) is already known is affine
 * in the unknown wires (k*B - C); if exactly one unknown has a non-zero coefficient there, it has exactly
 * one value (a zero factor, as in IsZero with input 0, leaves the other factor's wires unconstrained by
 * that row). A constraint whose only unknown w is in both factors is a quadratic in w: branch on its 0, 1
 * or 2 roots (modular square root). A fully known constraint is checked, pruning the branch. When no single
 * constraint pins a wire, Gaussian elimination over all the affine rows may (see `eliminate`). Only when
 * neither can be used does the search guess a wire from `domain`; such wires are reported in
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
  while ((q & 1n) === 0n) {
    q >>= 1n;
    s++;
  }
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

export function allSolutions(r1cs: R1csSystem, fixed: Map<number, bigint>, options: { domain?: (wire: number) => bigint[]; limit?: number } = {}): Solutions {
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

  /** An affine equation sum coeff * w + c = 0 over all wires (known ones are folded into c when used). */
  type Equation = { eq: Map<number, bigint>; c: bigint };
  type Pivot = Equation & { w: number };

  /** Reduce an equation (copied) by pivot rows in reduced form (each pivot wire occurs only in its own row). */
  const reduce = (e: Equation, pivots: Pivot[]): Equation => {
    const eq = new Map(e.eq);
    let c = e.c;
    for (const piv of pivots) {
      const f = eq.get(piv.w);
      if (!f) continue;
      for (const [w, x] of piv.eq) {
        const y = mod((eq.get(w) ?? 0n) - f * x, p);
        if (y === 0n) eq.delete(w);
        else eq.set(w, y);
      }
      c = mod(c - f * piv.c, p);
    }
    return { eq, c };
  };

  /** An equation with the known wires substituted. */
  const substitute = (e: Equation, v: Array<bigint | null>): Equation => {
    const eq = new Map<number, bigint>();
    let c = e.c;
    for (const [w, x] of e.eq) {
      if (v[w] === null) eq.set(w, x);
      else c = mod(c + x * (v[w] as bigint), p);
    }
    return { eq, c };
  };

  /**
   * When no single row pins a wire: Gaussian elimination over every row that is affine in the unknowns
   * (one factor known) and the branch's extra equations. A reduced row with one unknown pins it; a
   * reduced row 0 = c != 0 kills the branch. This only draws consequences of the constraints, so it never
   * loses a solution; it pins wires that need several rows together (e.g. after --O2 expressed a
   * product's factor through other outputs).
   */
  const eliminate = (v: Array<bigint | null>, extra: Equation[]): { status: 'dead' | 'set' | 'none'; pivots: Pivot[] } => {
    const pivots: Pivot[] = [];
    /** Add an equation to the reduced system; false if it contradicts it. */
    const add = (e: Equation): boolean => {
      const { eq, c: c1 } = reduce(e, pivots);
      if (eq.size === 0) return c1 === 0n;
      const [w] = eq.keys();
      const scale = inverse(eq.get(w)!, p);
      for (const [x, y] of eq) eq.set(x, mod(y * scale, p));
      const c = mod(c1 * scale, p);
      for (const piv of pivots) {
        const f = piv.eq.get(w);
        if (!f) continue;
        for (const [x, y] of eq) {
          const z = mod((piv.eq.get(x) ?? 0n) - f * y, p);
          if (z === 0n) piv.eq.delete(x);
          else piv.eq.set(x, z);
        }
        piv.c = mod(piv.c - f * c, p);
      }
      pivots.push({ w, eq, c });
      return true;
    };
    for (const e of extra) if (!add(substitute(e, v))) return { status: 'dead', pivots };
    // Rows whose factors, reduced by the relations found so far, leave one of them constant are affine:
    // repeat until no row turns affine (a row can become affine once others are in the system).
    let pending = rows.map(({ lcs }) => lcs);
    for (let changed = true; changed;) {
      changed = false;
      const still: typeof pending = [];
      for (const lcs of pending) {
        const [A, B, C] = lcs.map((lc) => {
          const [c0, t] = affine(lc, v);
          return reduce({ eq: t, c: c0 }, pivots);
        });
        if (A.eq.size && B.eq.size) {
          still.push(lcs);
          continue;
        }
        // k * other - C = 0, with k the constant factor.
        const [k, other] = A.eq.size ? [B.c, A] : [A.c, B];
        const eq = new Map<number, bigint>();
        for (const w of new Set([...other.eq.keys(), ...C.eq.keys()])) {
          const c = mod(k * (other.eq.get(w) ?? 0n) - (C.eq.get(w) ?? 0n), p);
          if (c !== 0n) eq.set(w, c);
        }
        if (!add({ eq, c: mod(k * other.c - C.c, p) })) return { status: 'dead', pivots };
        changed = true;
      }
      pending = still;
    }
    let set = false;
    for (const piv of pivots) {
      if (piv.eq.size !== 1) continue;
      v[piv.w] = mod(-piv.c, p);
      set = true;
    }
    return { status: set ? 'set' : 'none', pivots };
  };

  /**
   * A row whose two factors (and output) are, in the unknowns, multiples of one linear form L (after
   * reduction by the known linear relations), e.g. booleanity of a bit that --O2 replaced by a
   * combination of other wires: it is a quadratic in L. Branch on its roots, each adding L = root as an
   * equation; every solution lies in one branch. Returns false if no such row exists.
   */
  const branchOnForm = (v: Array<bigint | null>, extra: Equation[], pivots: Pivot[]): boolean => {
    for (const { lcs } of rows) {
      const parts = lcs.map((lc) => {
        const [c0, t] = affine(lc, v);
        return reduce({ eq: t, c: c0 }, pivots);
      });
      const [A, B, C] = parts;
      if (!A.eq.size || !B.eq.size) continue;
      const [w] = A.eq.keys();
      const inv = inverse(A.eq.get(w)!, p);
      const L = new Map([...A.eq].map(([x, y]) => [x, mod(y * inv, p)])); // normalised: L[w] = 1
      const ratio = (e: Map<number, bigint>): bigint | null => {
        if (!e.size) return 0n;
        const f = e.get(w);
        if (f === undefined || e.size !== L.size) return null;
        for (const [x, y] of L) if (mod(y * f, p) !== (e.get(x) ?? -1n)) return null;
        return f;
      };
      // A = A.c + a * L, B = B.c + b * L, C = C.c + g * L.
      const a = A.eq.get(w)!;
      const b = ratio(B.eq);
      const g = ratio(C.eq);
      if (b === null || g === null) continue;
      const roots = quadraticRoots(mod(a * b, p), mod(A.c * b + a * B.c - g, p), mod(A.c * B.c - C.c, p), p);
      for (const root of roots) {
        const eq = new Map(L);
        go([...v], [...extra, { eq, c: mod(-root, p) }]);
      }
      return true;
    }
    return false;
  };

  const go = (v: Array<bigint | null>, extra: Equation[] = []): void => {
    if (solutions.length >= limit) throw new Error(`more than ${limit} solutions`);
    let pivots: Pivot[] = [];
    for (let progressed = true; progressed;) {
      progressed = false;
      for (const row of rows) {
        const r = step(row.lcs, v);
        if (r === 'dead' || r === 'branched') return;
        if (r === 'set') progressed = true;
      }
      if (!progressed && (v.includes(null) || extra.length)) {
        const r = eliminate(v, extra);
        if (r.status === 'dead') return;
        if (r.status === 'set') progressed = true;
        pivots = r.pivots;
      }
    }
    const free = v.findIndex((x) => x === null);
    if (free < 0) {
      solutions.push(v as bigint[]);
      return;
    }
    if (branchOnForm(v, extra, pivots)) return;
    guessed.add(free);
    for (const value of domain(free)) {
      const next = [...v];
      next[free] = mod(value, p);
      go(next, extra);
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
