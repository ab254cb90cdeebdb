import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { compileCircom } from '../src/circuit/compile.js';
import { loadR1cs, loadSymbols, type R1csSystem } from '../tools/r1cs.js';
import { computeWitness, FIELD_P as P, fieldToSigned } from '../src/circuit/witness.js';
import { allSolutions, sqrtMod } from './helpers/solve.js';

/**
 * Alternative-witness search for every gadget in circuits/ at small sizes, over the WHOLE field: for each
 * input, test/helpers/solve.ts lists every assignment of all other wires that satisfies the R1CS (it
 * solves constraint by constraint, branching on the roots of each quadratic, and only guesses a wire that
 * no constraint pins). The tests require exactly one solution, equal to the witness circom computes and to
 * the integer semantics, for every input in range; none for inputs just outside it or wrapped around the
 * field (p - x, 2^k, (p +- 1) / 2). The one exception is IsZero's inverse, free when its input is 0; it
 * feeds nothing, and the tests show every solution then agrees on every other wire.
 */

const pow2 = (k: number) => 1n << BigInt(k);
const fp = (x: bigint) => ((x % P) + P) % P;
const floorDiv = (a: bigint, b: bigint) => (a - (((a % b) + b) % b)) / b;
const clamp = (x: bigint, lo: bigint, hi: bigint) => (x < lo ? lo : x > hi ? hi : x);
/** a / b in F_p (b^(p-2) is b's inverse). */
const fieldDiv = (a: bigint, b: bigint) => {
  let r = 1n;
  for (let e = P - 2n, x = b; e > 0n; e >>= 1n, x = (x * x) % P) if (e & 1n) r = (r * x) % P;
  return (a * r) % P;
};
const bitsOf = (v: bigint, n: number) => Array.from({ length: n }, (_, i) => (v >> BigInt(i)) & 1n);
/** Field elements that wrap: -1, -2^k, 2^k, 2^(k+1), the two halves of the field, 2^253 and its negation. */
const wraps = (k: number) => [P - 1n, P - pow2(k), pow2(k), pow2(k + 1), (P - 1n) / 2n, (P + 1n) / 2n, pow2(253), P - pow2(253)];
/** A window of integers around [lo, hi) plus the wrap values, as field elements without duplicates. */
const probe = (lo: bigint, hi: bigint, k: number) => {
  const xs: bigint[] = [];
  for (let x = lo - 3n; x < hi + 3n; x++) xs.push(fp(x));
  return [...new Set([...xs, ...wraps(k)])];
};

interface Circuit {
  wasm: string;
  r1cs: R1csSystem;
  sym: Map<string, number>;
}
const MAINS: Record<string, string> = {
  'UnsignedRange(1)': 'range',
  'UnsignedRange(2)': 'range',
  'UnsignedRange(4)': 'range',
  'SignedBits(1)': 'range',
  'SignedBits(2)': 'range',
  'SignedBits(4)': 'range',
  'IsZero()': 'circomlib/circuits/comparators',
  'DivFloorPow2(0, 3)': 'requantize',
  'DivFloorPow2(1, 3)': 'requantize',
  'DivFloorPow2(2, 3)': 'requantize',
  'DivFloorPow2(3, 2)': 'requantize',
  'RequantReluClamp(2, 3, 1)': 'requantize',
  'RequantReluClamp(2, 3, 2)': 'requantize',
  'RequantReluClamp(2, 4, 1)': 'requantize',
  'RequantReluClamp(2, 4, 2)': 'requantize',
  'RequantReluClamp(0, 3, 1)': 'requantize',
  'RequantReluClamp(1, 4, 5)': 'requantize',
  'ArgMax(2, 2)': 'argmax',
  'ArgMax(3, 2)': 'argmax',
  'ArgMax(3, 3)': 'argmax',
  'PackedCommitment(2, 2)': 'commit',
  'Max2(2)': 'max',
  'Max2(3)': 'max',
  'MaxOfN(3, 2)': 'max',
};
const INPUTS: Record<string, string> = { ArgMax: 'in', PackedCommitment: 'in, salt', Max2: 'a, c', MaxOfN: 'in' };
const circuits: Record<string, Circuit> = {};
let artifactsDir: string;

beforeAll(async () => {
  artifactsDir = mkdtempSync(path.join(tmpdir(), 'zkinfer-exhaustive-'));
  const entries = Object.entries(MAINS);
  // Two compiles at a time: each is a circom process.
  for (let k = 0; k < entries.length; k += 2) {
    await Promise.all(
      entries.slice(k, k + 2).map(async ([main, file]) => {
        const template = main.slice(0, main.indexOf('('));
        const source = `pragma circom 2.1.6;\ninclude "${file}.circom";\ncomponent main {public [${INPUTS[template] ?? 'in'}]} = ${main};\n`;
        const c = await compileCircom(source, { name: main.replace(/\W+/g, '_'), artifactsDir });
        circuits[main] = { wasm: c.wasmPath, r1cs: await loadR1cs(c.r1csPath), sym: await loadSymbols(c.symPath) };
      }),
    );
  }
}, 300_000);

afterAll(() => {
  if (artifactsDir) rmSync(artifactsDir, { recursive: true, force: true });
});

/** All witnesses of `main` with the named inputs fixed. */
function solve(main: string, inputs: Record<string, bigint>) {
  const c = circuits[main];
  const fixed = new Map(Object.entries(inputs).map(([name, v]) => [c.sym.get(`main.${name}`)!, v]));
  expect(
    [...fixed.keys()].every((w) => w !== undefined && w > 0),
    `${main}: inputs ${Object.keys(inputs)}`,
  ).toBe(true);
  return { c, ...allSolutions(c.r1cs, fixed) };
}
const value = (c: Circuit, w: bigint[], name: string) => fieldToSigned(w[c.sym.get(name)!]);
const wireName = (c: Circuit, wire: number) => [...c.sym].find(([, i]) => i === wire)?.[0];

describe('range checks: exactly one witness inside the range, none outside or wrapped', () => {
  it('UnsignedRange(n), n = 1, 2, 4: in in [0, 2^n) has one witness (its bits); every other field element none', async () => {
    let inRange = 0;
    for (const n of [1, 2, 4]) {
      const main = `UnsignedRange(${n})`;
      for (const x of probe(0n, pow2(n), n)) {
        const { c, solutions, guessed } = solve(main, { in: x });
        expect(guessed.size, `${main} in=${x}: a wire no constraint pins`).toBe(0);
        if (x < pow2(n)) {
          inRange++;
          expect(solutions, `${main} in=${x}`).toEqual([await computeWitness(c.wasm, { in: x })]);
        } else expect(solutions, `${main} in=${x} is out of range`).toEqual([]);
      }
    }
    expect(inRange).toBe(2 + 4 + 16);
  });

  it('SignedBits(n), n = 1, 2, 4: in in [-2^(n-1), 2^(n-1)) has one witness, bits = in + 2^(n-1); else none', async () => {
    for (const n of [1, 2, 4]) {
      const main = `SignedBits(${n})`;
      const half = pow2(n - 1);
      for (const x of probe(-half, half, n)) {
        const { c, solutions, guessed } = solve(main, { in: x });
        expect(guessed.size).toBe(0);
        const v = fieldToSigned(x);
        if (v < -half || v >= half) {
          expect(solutions, `${main} in=${v} is out of range`).toEqual([]);
          continue;
        }
        expect(solutions, `${main} in=${v}`).toEqual([await computeWitness(c.wasm, { in: v })]);
        const bits = Array.from({ length: n }, (_, i) => value(c, solutions[0], `main.bits[${i}]`));
        expect(bits).toEqual(bitsOf(v + half, n));
      }
    }
  });
});

describe('IsZero (circomlib)', () => {
  it('in != 0: the one witness has out = 0 and inv = 1/in; in = 0: out = 1 and only inv is free', () => {
    for (const x of [1n, 2n, P - 1n, (P + 1n) / 2n, pow2(200), P - pow2(128)]) {
      const { c, solutions, guessed } = solve('IsZero()', { in: x });
      expect(guessed.size).toBe(0);
      expect(solutions.length).toBe(1);
      expect(value(c, solutions[0], 'main.out')).toBe(0n);
      expect(fp(solutions[0][c.sym.get('main.inv')!] * x)).toBe(1n);
    }
    const { c, solutions, guessed } = solve('IsZero()', { in: 0n });
    expect([...guessed].map((w) => wireName(c, w))).toEqual(['main.inv']);
    expect(solutions.length).toBe(4); // every value tried for inv passes
    for (const s of solutions) expect(value(c, s, 'main.out')).toBe(1n);
  });
});

describe('DivFloorPow2: the quotient and remainder are unique', () => {
  it('(s, n) in {(0,3), (1,3), (2,3), (3,2)}: one witness per input in range with q = floor(in / 2^s); none outside', async () => {
    for (const [s, n] of [
      [0, 3],
      [1, 3],
      [2, 3],
      [3, 2],
    ]) {
      const main = `DivFloorPow2(${s}, ${n})`;
      const lim = pow2(s + n - 1);
      for (const x of probe(-lim, lim, s + n)) {
        const { c, solutions, guessed } = solve(main, { in: x });
        expect(guessed.size).toBe(0);
        const v = fieldToSigned(x);
        if (v < -lim || v >= lim) {
          expect(solutions, `${main} in=${v}`).toEqual([]);
          continue;
        }
        expect(solutions, `${main} in=${v}`).toEqual([await computeWitness(c.wasm, { in: v })]);
        expect(value(c, solutions[0], 'main.q')).toBe(floorDiv(v, pow2(s)));
      }
    }
  });
});

describe('RequantReluClamp: requantize + ReLU + clamp', () => {
  const cases: Array<[number, number, number]> = [
    [2, 3, 1],
    [2, 3, 2],
    [2, 4, 1],
    [2, 4, 2],
    [0, 3, 1],
    [1, 4, 5],
  ];
  it('every input in range: all witnesses give out = clamp(floor(in / 2^s), 0, 2^h - 1) and agree on every wire but IsZero.inv', async () => {
    let freeInv = 0;
    for (const [s, n, h] of cases) {
      const main = `RequantReluClamp(${s}, ${n}, ${h})`;
      const lim = pow2(s + n - 1);
      for (const x of probe(-lim, lim, s + n)) {
        const { c, solutions, guessed } = solve(main, { in: x });
        const v = fieldToSigned(x);
        if (v < -lim || v >= lim) {
          expect(solutions, `${main} in=${v}`).toEqual([]);
          continue;
        }
        const honest = await computeWitness(c.wasm, { in: v });
        const inv = c.sym.get('main.act.fits.inv') ?? -1;
        // Only the IsZero inverse may be unpinned (clamping branch, high bits all zero).
        expect(
          [...guessed].filter((w) => w !== inv),
          `${main} in=${v}`,
        ).toEqual([]);
        if (guessed.size) freeInv++;
        expect(solutions.length, `${main} in=${v}`).toBe(guessed.size ? 4 : 1);
        const strip = (w: bigint[]) => w.map((y, i) => (i === inv ? 0n : y));
        for (const sol of solutions) expect(strip(sol), `${main} in=${v}`).toEqual(strip(honest));
        expect(value(c, honest, 'main.out')).toBe(clamp(floorDiv(v, pow2(s)), 0n, pow2(h) - 1n));
      }
    }
    expect(freeInv).toBeGreaterThan(0); // the IsZero case was exercised, so the exception is real
  });
});

describe('ArgMax: one-hot selector, first maximum', () => {
  it('(N, b) in {(2,2), (3,2), (3,3)}: every input vector in [-2^(b-1), 2^(b-1))^N has one witness, index = first argmax', async () => {
    let vectors = 0;
    for (const [N, b] of [
      [2, 2],
      [3, 2],
      [3, 3],
    ]) {
      const main = `ArgMax(${N}, ${b})`;
      const half = Number(pow2(b - 1));
      const all: bigint[][] = [[]];
      for (let i = 0; i < N; i++) all.splice(0, all.length, ...all.flatMap((v) => Array.from({ length: 2 * half }, (_, k) => [...v, BigInt(k - half)])));
      for (const ins of all) {
        const inputs = Object.fromEntries(ins.map((x, i) => [`in[${i}]`, x]));
        const { c, solutions, guessed } = solve(main, inputs);
        expect(guessed.size).toBe(0);
        const first = ins.reduce((best, x, i) => (x > ins[best] ? i : best), 0);
        expect(solutions, `${main} ${ins}`).toEqual([await computeWitness(c.wasm, { in: ins })]);
        expect([value(c, solutions[0], 'main.index'), value(c, solutions[0], 'main.max')]).toEqual([BigInt(first), ins[first]]);
        vectors++;
      }
      // Outside the precondition (a spread of 2^b): no witness at all, rather than a wrong one.
      const { solutions } = solve(main, Object.fromEntries(Array.from({ length: N }, (_, i) => [`in[${i}]`, i === 0 ? BigInt(half) : BigInt(-half)])));
      expect(solutions, `${main}: spread 2^b`).toEqual([]);
    }
    expect(vectors).toBe(16 + 64 + 512);
  });
});

describe('pooling max: Max2 and MaxOfN', () => {
  it('Max2(b), b = 2, 3: for all a, c in [0, 2^b) one witness with out = max(a, c); outside, none or the true maximum', async () => {
    for (const b of [2, 3]) {
      const main = `Max2(${b})`;
      const top = pow2(b);
      for (let a = 0n; a < top; a++) {
        for (let c = 0n; c < top; c++) {
          const { c: circuit, solutions, guessed } = solve(main, { a, c });
          expect(guessed.size).toBe(0);
          expect(solutions, `${main} a=${a} c=${c}`).toEqual([await computeWitness(circuit.wasm, { a, c })]);
          expect(value(circuit, solutions[0], 'main.out')).toBe(a > c ? a : c);
        }
      }
      // Beyond the precondition the gadget still never lies: a witness exists exactly when a - c lies in
      // [-2^b, 2^b) (the range of its difference bits), and then out is the true (signed) maximum.
      for (const [a, c] of [
        [top, 0n],
        [0n, top],
        [top + 1n, 0n],
        [0n, top + 1n],
        [P - 1n, top - 1n],
        [P - 1n, top],
        [pow2(200), 0n],
        [0n, P - top],
      ]) {
        const { c: circuit, solutions } = solve(main, { a, c });
        const [sa, sc] = [fieldToSigned(a), fieldToSigned(c)];
        const fits = sa - sc >= -top && sa - sc < top;
        expect(solutions.length, `${main} a=${sa} c=${sc}`).toBe(fits ? 1 : 0);
        if (fits) expect(value(circuit, solutions[0], 'main.out')).toBe(sa > sc ? sa : sc);
      }
    }
  });

  it('MaxOfN(3, 2): for every window in [0, 4)^3 one witness, out = the maximum', async () => {
    for (let k = 0; k < 64; k++) {
      const ins = [BigInt(k & 3), BigInt((k >> 2) & 3), BigInt(k >> 4)];
      const { c, solutions, guessed } = solve('MaxOfN(3, 2)', { 'in[0]': ins[0], 'in[1]': ins[1], 'in[2]': ins[2] });
      expect(guessed.size).toBe(0);
      expect(solutions, `${ins}`).toEqual([await computeWitness(c.wasm, { in: ins })]);
      expect(value(c, solutions[0], 'main.out')).toBe(ins.reduce((m, x) => (x > m ? x : m)));
    }
  });
});

describe('PackedCommitment (Poseidon)', () => {
  it('no hints: for every input and salt the R1CS determines every wire, and it is the computed witness', async () => {
    for (const salt of [0n, 1n, P - 1n, 123456789n]) {
      for (let a = 0n; a < 4n; a++) {
        for (let b = 0n; b < 4n; b++) {
          const { c, solutions, guessed } = solve('PackedCommitment(2, 2)', { 'in[0]': a, 'in[1]': b, salt });
          expect(guessed.size).toBe(0);
          expect(solutions).toEqual([await computeWitness(c.wasm, { in: [a, b], salt })]);
        }
      }
    }
  });

  it('outside its precondition (in[i] >= 2^bits) two inputs share a commitment: why the model range-checks x', () => {
    const out = (ins: [bigint, bigint]) => {
      const { c, solutions } = solve('PackedCommitment(2, 2)', { 'in[0]': ins[0], 'in[1]': ins[1], salt: 7n });
      return solutions.map((s) => s[c.sym.get('main.out')!]);
    };
    expect(out([4n, 0n])).toEqual(out([0n, 1n])); // 4 + 0 * 4 = 0 + 1 * 4
    expect(out([4n, 0n])).not.toEqual(out([0n, 0n]));
  });
});

describe('field-wrap attacks, spelled out: fixing an output to p - x, 2^k or a value just outside its range leaves no witness', () => {
  const cases: Array<[string, Record<string, bigint>, string, bigint, bigint[]]> = [
    // [circuit, inputs, output signal, its true value, attacks]
    ['SignedBits(4)', { in: P - 3n }, 'bits[3]', 0n, [1n, 2n, P - 1n]], // sign bit of -3 claimed non-negative
    ['DivFloorPow2(2, 3)', { in: 5n }, 'q', 1n, [2n, 0n, P - 1n, pow2(3), P - pow2(3), fieldDiv(5n, 4n)]], // last: 5/4 in the field (q * 4 = in with r = 0)
    ['DivFloorPow2(2, 3)', { in: P - 5n }, 'q', P - 2n, [2n, P - 1n, pow2(2), (P - 1n) / 2n]],
    ['RequantReluClamp(2, 3, 1)', { in: P - 5n }, 'out', 0n, [P - 2n, 2n, 1n, pow2(1)]], // ReLU of -2: not |q|, not q
    ['RequantReluClamp(2, 4, 1)', { in: 12n }, 'out', 1n, [3n, 2n, 0n, P - 1n]], // q = 3 clamps to 1
    ['ArgMax(3, 3)', { 'in[0]': 1n, 'in[1]': 3n, 'in[2]': 3n }, 'index', 1n, [2n, 0n, P - 1n, pow2(3)]], // later tie, smaller, wraps
    ['ArgMax(3, 3)', { 'in[0]': P - 4n, 'in[1]': P - 4n, 'in[2]': P - 4n }, 'max', P - 4n, [P - 3n, 0n, 3n, pow2(2)]],
    ['Max2(3)', { a: 2n, c: 5n }, 'out', 5n, [2n, P - 3n, pow2(3), 6n]],
  ];
  it.each(cases)('%s with %o: %s', (main, inputs, signal, truth, attacks) => {
    const wire = circuits[main].sym.get(`main.${signal}`)!;
    expect(wire, `${main}.${signal} survives --O2`).toBeGreaterThan(0);
    const withFixed = (v: bigint) =>
      allSolutions(circuits[main].r1cs, new Map([...Object.entries(inputs).map(([n, x]) => [circuits[main].sym.get(`main.${n}`)!, x] as [number, bigint]), [wire, v]]));
    expect(withFixed(truth).solutions.length, 'the true value has its witness').toBe(1);
    for (const a of attacks) expect(withFixed(a).solutions, `${main}.${signal} = ${a}`).toEqual([]);
  });
});

describe('the solver itself', () => {
  it('finds the alternative witnesses of a weakened circuit (each constraint matters)', () => {
    // Drop one constraint at a time from DivFloorPow2(2, 3): every drop must let in a second witness (or an
    // unpinned wire) for some input in range, or the exhaustive tests above could not fail.
    const c = circuits['DivFloorPow2(2, 3)'];
    const inWire = c.sym.get('main.in')!;
    c.r1cs.constraints.forEach((_, k) => {
      const weak = { ...c.r1cs, constraints: c.r1cs.constraints.filter((__, j) => j !== k) };
      const loose = [-16n, -5n, 0n, 7n, 15n].some((x) => {
        const { solutions, guessed } = allSolutions(weak, new Map([[inWire, x]]));
        return solutions.length > 1 || guessed.size > 0;
      });
      expect(loose, `without constraint ${k}`).toBe(true);
    });
  });

  it('finds both roots of a quadratic and none for a non-residue', () => {
    const [r, s] = sqrtMod(9n, P);
    expect(new Set([r, s])).toEqual(new Set([3n, P - 3n]));
    const nonResidue = [2n, 3n, 5n, 7n, 11n].find((z) => sqrtMod(z, P).length === 0);
    expect(nonResidue).toBeDefined();
    for (const x of [2n, 10n, pow2(200)]) for (const root of sqrtMod(x, P)) expect((root * root) % P).toBe(x % P);
  });
});
