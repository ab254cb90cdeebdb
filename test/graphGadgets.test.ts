import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { auditTable, pool } from '../tools/audit/auditTargets.js';
import { compileCircom } from '../src/circuit/compile.js';
import { checkWitness, hasSignal, loadR1cs, loadSymbols, type R1csSystem } from '../tools/r1cs.js';
import { computeWitness, FIELD_P as P, fieldToSigned } from '../src/circuit/witness.js';
import { allSolutions } from './helpers/solve.js';

/**
 * Soundness of the op-graph gadgets (circuits/lookup.circom, circuits/arith.circom), as in
 * test/exhaustive.test.ts: for every input of a small instance the whole-field solver
 * (test/helpers/solve.ts) lists every assignment of the other wires that satisfies the R1CS. The tests
 * require that it never has to guess a wire (except IsZero's inverse inside IsEqual when the inputs are
 * equal), exactly one solution equal to circom's witness and to the integer semantics inside the
 * precondition, and none outside it or for field-wrapped inputs. Attacks fix an output or hint to a wrong
 * value (then no completion exists at all), and hand-built DivFloor witnesses with wrong (q, r) are
 * checked against the R1CS directly, as in test/gadgets.test.ts.
 */

const pow2 = (k: number) => 1n << BigInt(k);
const fp = (x: bigint) => ((x % P) + P) % P;
const floorDiv = (a: bigint, b: bigint) => (a - (((a % b) + b) % b)) / b;
const bitsOf = (v: bigint, n: number) => Array.from({ length: n }, (_, i) => (v >> BigInt(i)) & 1n);
/** a / b in F_p. */
const fieldDiv = (a: bigint, b: bigint) => {
  let r = 1n;
  for (let e = P - 2n, x = fp(b); e > 0n; e >>= 1n, x = (x * x) % P) if (e & 1n) r = (r * x) % P;
  return (fp(a) * r) % P;
};
/** Field elements that wrap: -1, -2^k, 2^k, 2^(k+1), the two halves of the field, 2^253 and its negation. */
const wraps = (k: number) => [P - 1n, P - pow2(k), pow2(k), pow2(k + 1), (P - 1n) / 2n, (P + 1n) / 2n, pow2(253), P - pow2(253)];
/** A window of integers around [lo, hi) plus the wrap values, as field elements without duplicates. */
const probe = (lo: bigint, hi: bigint, k: number, margin = 3n) => {
  const xs: bigint[] = [];
  for (let x = lo - margin; x < hi + margin; x++) xs.push(fp(x));
  return [...new Set([...xs, ...wraps(k)])];
};

/** Small tables with negative entries and no two rows differing by a constant (see Lookup's header). */
const TABLES: Record<number, bigint[]> = {
  1: [3n, -5n],
  2: [7n, -1n, 0n, 12n],
  3: [5n, -9n, 2n, 2n, -100n, 33n, 0n, 1n],
  4: [4n, -4n, 9n, 16n, -25n, 36n, 0n, 49n, -64n, 81n, 1n, -121n, 144n, 7n, -169n, 2n],
};
/** A deterministic pseudo-random 8-bit-indexed table of signed 20-bit entries. */
const T8 = Array.from({ length: 256 }, (_, i) => BigInt(((i * 2654435761) >>> 0) % (1 << 20)) - pow2(19));
/** A clip table, clamp(i - 6, -2, 2): rows of 4 are [-2 x4], [-2, -1, 0, 1], [2 x4], [2 x4]. */
const CLIP = Array.from({ length: 16 }, (_, i) => BigInt(Math.max(-2, Math.min(i - 6, 2))));
const table = (T: bigint[]) => `[${T.join(', ')}]`;

interface Circuit {
  wasm: string;
  r1cs: R1csSystem;
  sym: Map<string, number>;
  constraints: number;
}
// main -> [file, public inputs]
const MAINS: Record<string, [string, string]> = {
  'OneHot(1)': ['lookup', 'bits'],
  'OneHot(2)': ['lookup', 'bits'],
  'OneHot(3)': ['lookup', 'bits'],
  'OneHot(4)': ['lookup', 'bits'],
  ...Object.fromEntries(Object.entries(TABLES).map(([w, T]) => [`Lookup(${w}, ${table(T)})`, ['lookup', 'in']])),
  [`Lookup(8, ${table(T8)})`]: ['lookup', 'in'],
  // Degenerate: a clip table, rows equal to the saturated last row up to a constant.
  [`Lookup(4, ${table(CLIP)})`]: ['lookup', 'in'],
  'Mul()': ['arith', 'a, b'],
  'Select()': ['arith', 'c, a, b'],
  'IsEqual()': ['arith', 'in'],
  'LessThanSigned(1)': ['arith', 'a, b'],
  'LessThanSigned(2)': ['arith', 'a, b'],
  'LessThanSigned(3)': ['arith', 'a, b'],
  'DivFloor(1, 1)': ['arith', 'num, den'],
  'DivFloor(2, 2)': ['arith', 'num, den'],
  'DivFloor(3, 2)': ['arith', 'num, den'],
  'DivFloor(2, 3)': ['arith', 'num, den'],
};
const lookupMain = (w: number) => `Lookup(${w}, ${table(w === 8 ? T8 : TABLES[w])})`;
const circuits: Record<string, Circuit> = {};
let artifactsDir: string;

beforeAll(async () => {
  artifactsDir = mkdtempSync(path.join(tmpdir(), 'zkinfer-graph-gadgets-'));
  // Two compiles at a time: each is a circom process.
  await pool(Object.entries(MAINS), 2, async ([main, [file, inputs]]) => {
    const source = `pragma circom 2.1.6;\ninclude "${file}.circom";\ncomponent main {public [${inputs}]} = ${main};\n`;
    const c = await compileCircom(source, { name: main.slice(0, 40).replace(/\W+/g, '_'), artifactsDir });
    circuits[main] = { wasm: c.wasmPath, r1cs: await loadR1cs(c.r1csPath), sym: await loadSymbols(c.symPath), constraints: c.constraints };
  });
}, 300_000);

afterAll(() => {
  if (artifactsDir) rmSync(artifactsDir, { recursive: true, force: true });
});

/** The wire of a signal of main (it must survive --O2). */
function wire(c: Circuit, name: string): number {
  const w = c.sym.get(`main.${name}`);
  expect(w !== undefined && w > 0, `main.${name} survives --O2`).toBe(true);
  return w!;
}
/** All witnesses of `main` with the named signals fixed (inputs, and for attacks an output or hint). */
function solve(main: string, fixed: Record<string, bigint>) {
  const c = circuits[main];
  return { c, ...allSolutions(c.r1cs, new Map(Object.entries(fixed).map(([name, v]) => [wire(c, name), fp(v)]))) };
}
const value = (c: Circuit, w: bigint[], name: string) => fieldToSigned(w[wire(c, name)]);
const nonlinear = (c: Circuit) => c.r1cs.constraints.filter(([a, b]) => [a, b].every((lc) => [...lc.keys()].some((k) => k !== 0))).length;

describe('OneHot: the selector of a bit vector, by tensor products', () => {
  it('k = 1..4: every bit vector has one witness, sel = the one-hot vector of its number; 2^k - k - 1 constraints', async () => {
    for (const k of [1, 2, 3, 4]) {
      const main = `OneHot(${k})`;
      expect(nonlinear(circuits[main]), main).toBe(2 ** k - k - 1);
      for (let x = 0n; x < pow2(k); x++) {
        const bits = bitsOf(x, k);
        const { c, solutions, guessed } = solve(main, Object.fromEntries(bits.map((b, i) => [`bits[${i}]`, b])));
        expect(guessed.size).toBe(0);
        expect(solutions, `${main} ${x}`).toEqual([await computeWitness(c.wasm, { bits })]);
        const sel = Array.from({ length: 2 ** k }, (_, i) => value(c, solutions[0], `sel[${i}]`));
        expect(sel, `${main} ${x}`).toEqual(sel.map((_, i) => (BigInt(i) === x ? 1n : 0n)));
      }
    }
  });

  it('non-one-hot selectors have no witness: all zero, two ones, the wrong index, a 2, p - 1 at the right index', () => {
    let attacks = 0;
    for (const k of [2, 3, 4]) {
      const main = `OneHot(${k})`;
      const n = 2 ** k;
      for (let x = 0; x < n; x++) {
        const fixedBits = Object.fromEntries(bitsOf(BigInt(x), k).map((b, i) => [`bits[${i}]`, b]));
        const claims: bigint[][] = [
          Array(n).fill(0n),
          Array.from({ length: n }, (_, i) => (i === x || i === (x + 1) % n ? 1n : 0n)),
          Array.from({ length: n }, (_, i) => (i === (x + 1) % n ? 1n : 0n)),
          Array.from({ length: n }, (_, i) => (i === x ? 2n : 0n)),
          Array.from({ length: n }, (_, i) => (i === x ? P - 1n : 0n)),
        ];
        for (const sel of claims) {
          // Fix one wrong selector at a time (fixing all could be refuted by a single one).
          for (let i = 0; i < n; i++) {
            if (sel[i] === (i === x ? 1n : 0n)) continue;
            expect(solve(main, { ...fixedBits, [`sel[${i}]`]: sel[i] }).solutions, `${main} x=${x} sel[${i}]=${sel[i]}`).toEqual([]);
            attacks++;
          }
        }
      }
    }
    expect(attacks).toBeGreaterThan(100);
  });
});

describe('Lookup: out = T[in] for a constant table', () => {
  it('w = 1..4: in in [0, 2^w) has one witness with out = T[in]; in = 2^w, p - 1 and every other field element none', async () => {
    for (const w of [1, 2, 3, 4]) {
      const main = lookupMain(w);
      const T = TABLES[w];
      const k = (w + 1) >> 1;
      const m = w >> 1;
      expect(nonlinear(circuits[main]), `Lookup(${w})`).toBe(2 ** k + 2 ** (m + 1) - 3);
      let inRange = 0;
      for (const x of probe(0n, pow2(w), w)) {
        const { c, solutions, guessed } = solve(main, { in: x });
        expect(guessed.size, `Lookup(${w}) in=${x}`).toBe(0);
        if (x >= pow2(w)) {
          expect(solutions, `Lookup(${w}) in=${x} is out of range`).toEqual([]);
          continue;
        }
        inRange++;
        expect(solutions, `Lookup(${w}) in=${x}`).toEqual([await computeWitness(c.wasm, { in: x })]);
        expect(value(c, solutions[0], 'out')).toBe(T[Number(x)]);
      }
      expect(inRange).toBe(2 ** w);
    }
  });

  it('w = 1..4: out fixed to any table entry other than T[in], or to T[in] + 1, -T[in], has no witness', () => {
    let attacks = 0;
    for (const w of [1, 2, 3, 4]) {
      const main = lookupMain(w);
      const T = TABLES[w];
      for (let x = 0; x < 2 ** w; x++) {
        expect(solve(main, { in: BigInt(x), out: T[x] }).solutions.length).toBe(1);
        const wrong = [...new Set([...T, T[x] + 1n, -T[x], P - 1n].map(fp))].filter((v) => v !== fp(T[x]));
        for (const v of wrong) {
          expect(solve(main, { in: BigInt(x), out: v }).solutions, `Lookup(${w}) in=${x} out=${fieldToSigned(v)}`).toEqual([]);
          attacks++;
        }
      }
    }
    expect(attacks).toBeGreaterThan(30);
  });

  it('w = 8 with a pseudo-random table: 45 constraints, the witness is T[in] for all 256 inputs; 256 and p - 1 have none', async () => {
    const main = lookupMain(8);
    const c = circuits[main];
    expect(nonlinear(c)).toBe(45);
    for (let x = 0; x < 256; x++) {
      const w = await computeWitness(c.wasm, { in: x });
      expect(checkWitness(c.r1cs, w).ok).toBe(true);
      expect(value(c, w, 'out'), `in=${x}`).toBe(T8[x]);
    }
    // The whole-field search at a few inputs, and past the end of the table.
    for (const x of [0n, 1n, 77n, 255n]) {
      const { solutions, guessed } = solve(main, { in: x });
      expect(guessed.size).toBe(0);
      expect(solutions.map((s) => value(c, s, 'out'))).toEqual([T8[Number(x)]]);
    }
    for (const x of [256n, 257n, 511n, P - 1n, P - 256n]) expect(solve(main, { in: x }).solutions, `in=${x}`).toEqual([]);
  });
});

describe('Lookup with a table from a var array of the caller (as the op-graph emitter passes it)', () => {
  it('w = 10 and 12 (1,024 and 4,096 entries): 93 and 189 constraints, the witness is T[in] at sampled inputs', async () => {
    for (const [w, expected] of [
      [10, 93],
      [12, 189],
    ]) {
      const n = 2 ** w;
      // Pseudo-random entries: an affine-looking table (e.g. (i * a) mod m) has rows that differ by a
      // constant, which fold (see 'Lookup with a degenerate table'); this one has none.
      const T = auditTable(w).map(BigInt);
      const source = `pragma circom 2.1.6;\ninclude "lookup.circom";
template Act() {
    signal input x;
    signal output y;
    var T[${n}] = [${T.join(', ')}];
    component t = Lookup(${w}, T);
    t.in <== x;
    y <== t.out;
}
component main {public [x]} = Act();\n`;
      const c = await compileCircom(source, { name: `lookup_var_${w}`, artifactsDir });
      const circuit = { wasm: c.wasmPath, r1cs: await loadR1cs(c.r1csPath), sym: await loadSymbols(c.symPath), constraints: c.constraints };
      expect(nonlinear(circuit), `Lookup(${w})`).toBe(expected);
      for (const x of [0, 1, 2, n / 2 - 1, n / 2, n - 2, n - 1, 12345 % n, 777]) {
        const wit = await computeWitness(c.wasmPath, { x });
        expect(checkWitness(circuit.r1cs, wit).ok).toBe(true);
        expect(fieldToSigned(wit[circuit.sym.get('main.y')!]), `in=${x}`).toBe(T[x]);
      }
    }
  }, 120_000);
});

describe('Lookup with a degenerate table', () => {
  it('a row equal to the last one up to a constant costs no product (the header formula is exact only for tables without such rows); still one witness, T[in]', async () => {
    const main = `Lookup(4, ${table(CLIP)})`;
    const c = circuits[main];
    // Rows 0 and 2 differ from the (constant) last row by a constant (-4 and 0): sum(lo) = 1 folds their
    // products, so 2 fewer than the formula's 9. Clip/saturating activation tables look like this.
    expect(nonlinear(c)).toBe(2 ** 2 + 2 ** 3 - 3 - 2);
    for (let x = 0n; x < 16n; x++) {
      const { solutions, guessed } = solve(main, { in: x });
      expect(guessed.size).toBe(0);
      expect(
        solutions.map((w) => value(c, w, 'out')),
        `in=${x}`,
      ).toEqual([CLIP[Number(x)]]);
    }
    for (const x of [16n, P - 1n]) expect(solve(main, { in: x }).solutions).toEqual([]);
  });
});

describe('Mul, Select, IsEqual', () => {
  const values = [0n, 1n, 2n, 5n, P - 1n, P - 7n, pow2(200), (P - 1n) / 2n];

  it('Mul(): one constraint, the one witness is a * b in the field', () => {
    expect(nonlinear(circuits['Mul()'])).toBe(1);
    for (const a of values) {
      for (const b of values) {
        const { c, solutions, guessed } = solve('Mul()', { a, b });
        expect(guessed.size).toBe(0);
        expect(solutions.map((s) => s[wire(c, 'out')])).toEqual([fp(a * b)]);
      }
    }
  });

  it('Select(): one constraint; for c in {0, 1} and any field a, b the one witness is c ? a : b', () => {
    expect(nonlinear(circuits['Select()'])).toBe(1);
    for (const c of [0n, 1n]) {
      for (const a of values) {
        for (const b of values) {
          const { c: circuit, solutions, guessed } = solve('Select()', { c, a, b });
          expect(guessed.size).toBe(0);
          expect(solutions.map((s) => s[wire(circuit, 'out')])).toEqual([c ? a : b]);
          // The other input is not an accepted output (unless a = b).
          if (a !== b) expect(solve('Select()', { c, a, b, out: c ? b : a }).solutions).toEqual([]);
        }
      }
    }
  });

  it('IsEqual() (circomlib): out = [a == b], one witness; when equal only IsZero.inv is free', async () => {
    expect(nonlinear(circuits['IsEqual()'])).toBe(2);
    for (const a of values) {
      for (const b of values) {
        const { c, solutions, guessed } = solve('IsEqual()', { 'in[0]': a, 'in[1]': b });
        const names = [...guessed].map((w) => [...c.sym].find(([, i]) => i === w)?.[0]);
        if (a !== b) {
          expect(guessed.size).toBe(0);
          expect(solutions, `${a} ${b}`).toEqual([await computeWitness(c.wasm, { in: [a, b] })]);
        } else {
          expect(names).toEqual(['main.isz.inv']);
          expect(solutions.length).toBe(4); // every value tried for inv passes, and nothing else moves
        }
        for (const s of solutions) expect(value(c, s, 'out')).toBe(a === b ? 1n : 0n);
        expect(solve('IsEqual()', { 'in[0]': a, 'in[1]': b, out: a === b ? 0n : 1n }).solutions).toEqual([]);
      }
    }
  });
});

describe('LessThanSigned: the sign of a - b', () => {
  it('n = 1, 2, 3: a - b in [-2^(n-1), 2^(n-1)) has one witness with out = [a < b]; any other difference none', async () => {
    for (const n of [1, 2, 3]) {
      const main = `LessThanSigned(${n})`;
      expect(nonlinear(circuits[main])).toBe(n);
      const half = pow2(n - 1);
      let inRange = 0;
      for (const b of [0n, 3n, P - 2n, pow2(100)]) {
        for (const d of probe(-half, half, n)) {
          const a = fp(b + d);
          const { c, solutions, guessed } = solve(main, { a, b });
          expect(guessed.size).toBe(0);
          const diff = fieldToSigned(d);
          if (diff < -half || diff >= half) {
            expect(solutions, `${main} a - b = ${diff}`).toEqual([]);
            continue;
          }
          inRange++;
          expect(solutions, `${main} a - b = ${diff}`).toEqual([await computeWitness(c.wasm, { a, b })]);
          expect(value(c, solutions[0], 'out')).toBe(diff < 0n ? 1n : 0n);
          expect(solve(main, { a, b, out: diff < 0n ? 0n : 1n }).solutions).toEqual([]);
        }
      }
      expect(inRange).toBe(4 * 2 ** n);
    }
  });
});

describe('DivFloor: quotient by a signal divisor', () => {
  const cases: Array<[number, number]> = [
    [1, 1],
    [2, 2],
    [3, 2],
    [2, 3],
  ];
  /** The integer model: the one witness (q, r) the constraints admit, or null. */
  const model = (nq: number, nd: number, num: bigint, den: bigint) => {
    const [N, D] = [fieldToSigned(num), fieldToSigned(den)];
    if (D < 1n || D >= pow2(nd + 1)) return null;
    const q = floorDiv(N, D);
    const r = N - q * D;
    if (q < -pow2(nq - 1) || q >= pow2(nq - 1) || r >= pow2(nd) || D - 1n - r >= pow2(nd)) return null;
    return { q, r };
  };

  it('all (num, den) around the precondition and wrapped: one witness iff the model has one, q = floor(num / den); den = 0, p - 1 none', async () => {
    let inPre = 0;
    for (const [nq, nd] of cases) {
      const main = `DivFloor(${nq}, ${nd})`;
      expect(nonlinear(circuits[main])).toBe(1 + 2 * nd + nq);
      const lim = pow2(nq - 1 + nd);
      const dens = probe(1n, pow2(nd + 1), nd, 2n);
      expect(dens).toContain(0n);
      expect(dens).toContain(P - 1n);
      for (const den of dens) {
        for (const num of probe(-lim, lim, nq + nd, 2n)) {
          const { c, solutions, guessed } = solve(main, { num, den });
          expect(guessed.size).toBe(0);
          const expected = model(nq, nd, num, den);
          const D = fieldToSigned(den);
          if (expected && D < pow2(nd)) inPre++;
          if (D >= 1n && D < pow2(nd)) {
            // Inside the den precondition: a witness exactly when the quotient fits nq signed bits.
            const q = floorDiv(fieldToSigned(num), D);
            expect(expected !== null, `${main} ${num}/${D}`).toBe(q >= -pow2(nq - 1) && q < pow2(nq - 1));
          }
          if (!expected) {
            expect(solutions, `${main} num=${fieldToSigned(num)} den=${D}`).toEqual([]);
            continue;
          }
          expect(solutions, `${main} num=${fieldToSigned(num)} den=${D}`).toEqual([await computeWitness(c.wasm, { num, den })]);
          expect(value(c, solutions[0], 'q')).toBe(expected.q);
        }
      }
    }
    expect(inPre).toBeGreaterThan(100);
  });

  it('q fixed to q + 1, q - 1 (so r = r + den, r = den when r = 0), num / den in the field, p - 1, 2^(nq-1): no witness', () => {
    const main = 'DivFloor(3, 2)';
    let attacks = 0;
    for (let den = 1n; den < 4n; den++) {
      for (let num = -4n * den; num < 4n * den; num++) {
        const q = floorDiv(num, den);
        expect(solve(main, { num, den, q }).solutions.length).toBe(1);
        for (const bad of [q + 1n, q - 1n, fieldDiv(num, den), P - 1n - q, pow2(2), -pow2(2) - 1n]) {
          if (fp(bad) === fp(q)) continue;
          expect(solve(main, { num, den, q: bad }).solutions, `${num}/${den}: q=${fieldToSigned(fp(bad))}`).toEqual([]);
          attacks++;
        }
      }
    }
    expect(attacks).toBeGreaterThan(100);
  });

  it('hand-built witnesses with a wrong (q, r) are rejected: r = den, r < 0, r = num with den = 0, den = p - 1', () => {
    const [nq, nd] = [3, 2];
    const main = `DivFloor(${nq}, ${nd})`;
    const c = circuits[main];
    /** Every signal of DivFloor from the prover's (q, r), bits encoded from the field representative mod 2^k. */
    const assign = (num: bigint, den: bigint, q: bigint, r: bigint): bigint[] => {
      const v: Record<string, bigint> = { 'main.num': num, 'main.den': den, 'main.q': q, 'main.r': r };
      const bits = (pre: string, x: bigint, k: number) => {
        v[`${pre}.in`] = x;
        bitsOf(fp(x) % pow2(k), k).forEach((b, i) => (v[`${pre}.out[${i}]`] = b));
      };
      bits('main.rRange', r, nd);
      bits('main.gap', den - 1n - r, nd);
      bits('main.qRange.b', q + pow2(nq - 1), nq);
      v['main.qRange.in'] = q;
      for (let i = 0; i < nq; i++) v[`main.qRange.bits[${i}]`] = v[`main.qRange.b.out[${i}]`];
      const w: bigint[] = Array.from({ length: c.r1cs.nVars }, (_, i) => (i === 0 ? 1n : -1n));
      for (const [name, x] of Object.entries(v)) if (hasSignal(c.sym, name)) w[c.sym.get(name)!] = fp(x);
      expect(
        w.every((x) => x >= 0n),
        'every surviving wire assigned',
      ).toBe(true);
      return w;
    };
    let rejected = 0;
    for (let den = 1n; den < 4n; den++) {
      for (let num = -4n * den; num < 4n * den; num++) {
        const q = floorDiv(num, den);
        const r = num - q * den;
        expect(checkWitness(c.r1cs, assign(num, den, q, r)).ok, `honest ${num}/${den}`).toBe(true);
        for (const [dq, what] of [
          [-1n, 'r + den'],
          [1n, 'r - den'],
          [2n, 'r - 2 den'],
        ] as const) {
          expect(checkWitness(c.r1cs, assign(num, den, q + dq, r - dq * den)).ok, `${num}/${den}: q + ${dq}, ${what}`).toBe(false);
          rejected++;
        }
      }
    }
    // den = 0: q = 0, r = num would satisfy num = q * den + r; the gap den - 1 - r wraps to p - 1 - r.
    for (const num of [0n, 1n, 3n]) expect(checkWitness(c.r1cs, assign(num, 0n, 0n, num)).ok, `den = 0, num = ${num}`).toBe(false);
    // den = p - 1 (-1): q = -num, r = 0; the gap is p - 2.
    for (const num of [-3n, 0n, 2n]) expect(checkWitness(c.r1cs, assign(num, P - 1n, -num, 0n)).ok, `den = -1, num = ${num}`).toBe(false);
    expect(rejected).toBe(3 * (8 + 16 + 24)); // three attacks at every (num, den)
  });
});
