import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { compileCircom } from '../src/circuit/compile.js';
import { checkWitness, hasSignal, loadR1cs, loadSymbols, withSignals, type R1csSystem } from '../tools/r1cs.js';
import { computeWitness, FIELD_P as P, fieldToSigned } from '../src/circuit/witness.js';

/**
 * Soundness tests for the hand-written gadgets (circuits/*.circom): compile small test circuits, check that
 * the honest witness satisfies the R1CS and computes the right integer, and that hand-built wrong witnesses
 * (what a cheating prover would try) violate at least one constraint.
 *
 * How attacks are built: every gadget has a TypeScript model (`divValues`, `reluValues`, `argmaxValues`) that
 * assigns EVERY named signal of the template from the prover's choice of hints, exactly as the witness
 * generator would (a test checks the models reproduce the compiled witness bit for bit). An attack picks
 * wrong hints and/or overrides signals; `assemble` projects that assignment onto the wires that survive
 * --O2 (signals it removed are linear combinations of the surviving ones, so they are not the prover's to
 * choose) and fails if any surviving wire is left unassigned.
 */

type Values = Record<string, bigint>;
type Mode = 'int' | 'field';

const MODES: Mode[] = ['int', 'field'];
const pow2 = (k: number) => 1n << BigInt(k);
const mod = (x: bigint, m: bigint) => ((x % m) + m) % m;
const fp = (x: bigint) => mod(x, P);
const floorDiv = (a: bigint, b: bigint) => (a - mod(a, b)) / b;
const clamp = (x: bigint, lo: bigint, hi: bigint) => (x < lo ? lo : x > hi ? hi : x);
function powMod(b: bigint, e: bigint): bigint {
  let r = 1n;
  for (b = fp(b); e > 0n; e >>= 1n, b = (b * b) % P) if (e & 1n) r = (r * b) % P;
  return r;
}
const inv = (x: bigint) => powMod(x, P - 2n);
/** Little-endian bits of a non-negative integer. */
const bitsOf = (v: bigint, n: number) => Array.from({ length: n }, (_, i) => (v >> BigInt(i)) & 1n);
/** How an attacker encodes an arbitrary value in k bits: its integer value mod 2^k, or its field representative mod 2^k. */
const encode = (x: bigint, k: number, mode: Mode) => (mode === 'int' ? mod(x, pow2(k)) : fp(x) % pow2(k));
/** First argmax, comparing as integers. */
const firstArgmax = (xs: bigint[]) => xs.reduce((best, x, i) => (x > xs[best] ? i : best), 0);
/** Every integer vector of length n with entries in [lo, hi). */
function* vectors(n: number, lo: number, hi: number): Generator<bigint[]> {
  if (n === 0) {
    yield [];
    return;
  }
  for (const rest of vectors(n - 1, lo, hi)) for (let v = lo; v < hi; v++) yield [...rest, BigInt(v)];
}

// ---------------------------------------------------------------------------------------------------------
// Circuits under test

interface Circuit {
  wasm: string;
  r1cs: R1csSystem;
  sym: Map<string, number>;
  constraints: number;
}

let artifactsDir: string;
const circuits: Record<string, Circuit> = {};
const SOURCES: Record<string, string> = {
  div23: 'include "requantize.circom";\ncomponent main {public [in]} = DivFloorPow2(2, 3);',
  div04: 'include "requantize.circom";\ncomponent main {public [in]} = DivFloorPow2(0, 4);',
  rq352: 'include "requantize.circom";\ncomponent main {public [in]} = RequantReluClamp(3, 5, 2);', // clamp, 2 high bits
  rq353: 'include "requantize.circom";\ncomponent main {public [in]} = RequantReluClamp(3, 5, 3);', // clamp, h = n - 2
  rq354: 'include "requantize.circom";\ncomponent main {public [in]} = RequantReluClamp(3, 5, 4);', // no clamp, h = n - 1
  rqBig: 'include "requantize.circom";\ncomponent main {public [in]} = RequantReluClamp(20, 14, 7);', // model-sized
  am33: 'include "argmax.circom";\ncomponent main {public [in]} = ArgMax(3, 3);',
  am46: 'include "argmax.circom";\ncomponent main {public [in]} = ArgMax(4, 6);',
  amBig: 'include "argmax.circom";\ncomponent main {public [in]} = ArgMax(10, 24);', // model-sized
};

beforeAll(async () => {
  artifactsDir = mkdtempSync(path.join(tmpdir(), 'zkinfer-gadgets-'));
  await Promise.all(
    Object.entries(SOURCES).map(async ([name, body]) => {
      const c = await compileCircom(`pragma circom 2.1.6;\n${body}\n`, { name, artifactsDir });
      const [r1cs, sym] = await Promise.all([loadR1cs(c.r1csPath), loadSymbols(c.symPath)]);
      circuits[name] = { wasm: c.wasmPath, r1cs, sym, constraints: c.constraints };
    }),
  );
}, 60_000);

afterAll(() => {
  if (artifactsDir) rmSync(artifactsDir, { recursive: true, force: true });
});

const passes = (c: Circuit, w: bigint[]) => checkWitness(c.r1cs, w).ok;

/** Project a full named assignment onto the surviving wires (via withSignals); every wire must be covered. */
function assemble(c: Circuit, values: Values): bigint[] {
  const surviving: Values = {};
  const covered = new Map<number, bigint>([[0, 1n]]);
  for (const [name, v] of Object.entries(values)) {
    if (!hasSignal(c.sym, name)) continue;
    const idx = c.sym.get(name)!;
    if (covered.has(idx) && covered.get(idx) !== fp(v)) throw new Error(`two values for wire ${idx} (${name})`);
    covered.set(idx, fp(v));
    surviving[name] = v;
  }
  if (covered.size !== c.r1cs.nVars) {
    const missing = [...c.sym].filter(([, i]) => i >= 0 && !covered.has(i)).map(([n]) => n);
    throw new Error(`assignment leaves wires unset: ${missing.join(', ')}`);
  }
  const blank = Array.from({ length: c.r1cs.nVars }, (_, i) => (i === 0 ? 1n : 0n));
  return withSignals(blank, c.sym, surviving);
}

/**
 * Some attacks cannot be expressed once --O2 has removed the signal they tamper with (e.g. forcing the sign bit
 * while keeping q: the sign bit is a linear function of q and the other bits) or coincide with the honest
 * witness at some inputs (out = q mod 2^h when that is the cap). Those project onto the honest witness: skip
 * them, but count the real ones so a test cannot pass vacuously.
 */
function rejectUnlessSame(c: Circuit, honest: bigint[], tampered: bigint[], what: string): number {
  if (tampered.every((v, i) => fp(v) === fp(honest[i]))) return 0;
  expectRejected(c, honest, tampered, what);
  return 1;
}

/** The witness must be a real change, the honest one must pass and the tampered one must fail. */
function expectRejected(c: Circuit, honest: bigint[], tampered: bigint[], what: string) {
  expect(passes(c, honest), `honest witness (${what})`).toBe(true);
  expect(
    tampered.some((v, i) => fp(v) !== fp(honest[i])),
    `tampering changed nothing (${what})`,
  ).toBe(true);
  expect(checkWitness(c.r1cs, tampered).failing.length, `accepted a wrong witness: ${what}`).toBeGreaterThan(0);
}

const sig = (c: Circuit, w: bigint[], name: string) => fieldToSigned(w[c.sym.get(name)!]);

// ---------------------------------------------------------------------------------------------------------
// Models of the gadgets: every signal of the template from the prover's hints.

/** DivFloorPow2(s, n) at `pre`, with quotient/remainder hints q, r (integers, any size) and bits encoded per `mode`. */
function divValues(pre: string, s: number, n: number, input: bigint, q: bigint, r: bigint, mode: Mode, qBits?: bigint[]) {
  const off = pow2(n - 1);
  const qb = qBits ?? bitsOf(encode(q + off, n, mode), n);
  const v: Values = { [`${pre}.in`]: input, [`${pre}.q`]: q, [`${pre}.r`]: r, [`${pre}.qRange.in`]: q + off, [`${pre}.qRange.b.in`]: q + off };
  qb.forEach((b, i) => {
    v[`${pre}.qBits[${i}]`] = v[`${pre}.qRange.bits[${i}]`] = v[`${pre}.qRange.b.out[${i}]`] = b;
  });
  if (s > 0) {
    v[`${pre}.rRange.in`] = r;
    bitsOf(encode(r, s, mode), s).forEach((b, i) => (v[`${pre}.rRange.out[${i}]`] = b));
  }
  return { v, qb };
}

/** ReluClampFromBits(n, h) at `pre`: the intermediate signals the witness generator derives from q and qBits. */
function reluValues(pre: string, n: number, h: number, q: bigint, qb: bigint[]): Values {
  const v: Values = { [`${pre}.q`]: q, [`${pre}.nonNeg`]: qb[n - 1] };
  qb.forEach((b, i) => (v[`${pre}.qBits[${i}]`] = b));
  if (h >= n - 1) {
    v[`${pre}.out`] = qb[n - 1] * q;
  } else {
    const high = qb.slice(h, n - 1).reduce((a, b) => a + b, 0n);
    const low = qb.slice(0, h).reduce((a, b, i) => a + b * pow2(i), 0n);
    const cap = pow2(h) - 1n;
    const fits = fp(high) === 0n ? 1n : 0n;
    v[`${pre}.fits.in`] = high;
    v[`${pre}.fits.inv`] = fp(high) === 0n ? 0n : inv(high);
    v[`${pre}.fits.out`] = fits;
    v[`${pre}.lowOrCap`] = fits * (low - cap);
    v[`${pre}.out`] = qb[n - 1] * (fits * (low - cap) + cap);
  }
  return v;
}

interface RqParams {
  s: number;
  n: number;
  h: number;
}
/** RequantReluClamp at main. Hints default to the honest ones; `claim` overrides signals after derivation. */
function requantValues(p: RqParams, input: bigint, hints: { q?: bigint; r?: bigint; mode?: Mode; qBits?: bigint[] } = {}, claim: Values = {}): Values {
  const q = hints.q ?? floorDiv(input, pow2(p.s));
  const r = hints.r ?? input - q * pow2(p.s);
  const { v: dv, qb } = divValues('main.div', p.s, p.n, input, q, r, hints.mode ?? 'int', hints.qBits);
  const av = reluValues('main.act', p.n, p.h, q, qb);
  const v: Values = { ...dv, ...av, 'main.in': input, 'main.out': av['main.act.out'] };
  // A claimed output is the same signal under both names (main.out and main.act.out).
  if ('out' in claim) v['main.act.out'] = claim.out;
  for (const [k, x] of Object.entries(claim)) v[k === 'out' ? 'main.out' : k] = x;
  return v;
}
const requantExpected = (p: RqParams, input: bigint) => clamp(floorDiv(input, pow2(p.s)), 0n, pow2(p.h) - 1n);

/** ArgMax(N, b) at main with selector hint `sel`; index, max, products and gap bits derived as the circuit does. */
function argmaxValues(b: number, ins: bigint[], sel: bigint[], mode: Mode, claim: { max?: bigint; pickedAt?: number } = {}): Values {
  const N = ins.length;
  const v: Values = {};
  let index = 0n;
  let max = 0n;
  ins.forEach((x, i) => {
    v[`main.in[${i}]`] = x;
    v[`main.sel[${i}]`] = sel[i];
    v[`main.picked[${i}]`] = sel[i] * x;
    index += BigInt(i) * sel[i];
    max += sel[i] * x;
  });
  if (claim.max !== undefined) {
    // Claim another max; optionally also fake one product so that sum(picked) = max holds.
    if (claim.pickedAt !== undefined) v[`main.picked[${claim.pickedAt}]`] += claim.max - max;
    max = claim.max;
  }
  v['main.index'] = index;
  v['main.max'] = max;
  let after = 0n;
  for (let i = N - 1; i >= 0; i--) {
    const gap = max - ins[i] - after;
    v[`main.gap[${i}].in`] = gap;
    bitsOf(encode(gap, b, mode), b).forEach((bit, j) => (v[`main.gap[${i}].out[${j}]`] = bit));
    after += sel[i];
  }
  return v;
}
const oneHot = (N: number, k: number) => Array.from({ length: N }, (_, i) => (i === k ? 1n : 0n));

const honestWitness = (c: Circuit, input: Record<string, unknown>) => computeWitness(c.wasm, input);

/** The witness generator itself refuses the input (an `===` fails); its console noise is silenced. */
async function expectNoWitness(c: Circuit, input: Record<string, unknown>) {
  const quiet = vi.spyOn(console, 'error').mockImplementation(() => {});
  try {
    await expect(honestWitness(c, input)).rejects.toThrow(/rejected the input/);
  } finally {
    quiet.mockRestore();
  }
}

// ---------------------------------------------------------------------------------------------------------

describe('R1CS evaluator (tools/r1cs.ts)', () => {
  it('loads the constraints, maps symbols, and withSignals refuses optimised-away or unknown signals', async () => {
    const c = circuits.div23;
    expect(c.r1cs.constraints.length).toBe(c.constraints);
    expect(c.r1cs.prime).toBe(P);
    expect(c.r1cs.nOutputs).toBe(4); // q and qBits[3]
    expect(c.r1cs.nPubInputs).toBe(1);
    expect(c.sym.get('main.q')).toBe(1); // outputs come first
    // r is folded into the linear constraint in = 4q + r by --O2.
    expect(hasSignal(c.sym, 'main.r')).toBe(false);
    const w = await honestWitness(c, { in: -7 });
    expect(w.length).toBe(c.r1cs.nVars);
    expect(() => withSignals(w, c.sym, { 'main.r': 1n })).toThrow(/optimised away/);
    expect(() => withSignals(w, c.sym, { 'main.nope': 1n })).toThrow(/no signal/);
    expect(() => checkWitness(c.r1cs, w.slice(1))).toThrow(/wires/);
    expect(checkWitness(c.r1cs, w)).toEqual({ ok: true, failing: [] });
    expect(checkWitness(c.r1cs, withSignals(w, c.sym, { 'main.q': -1n })).ok).toBe(false);
    expect(checkWitness(c.r1cs, [2n, ...w.slice(1)]).ok).toBe(false); // wire 0 must be 1
    // Field-equivalent values are the same witness: q + p reduces to q.
    expect(withSignals(w, c.sym, { 'main.q': sig(c, w, 'main.q') + P })).toEqual(w);
  });

  it('the TypeScript gadget models reproduce the compiled witnesses exactly', async () => {
    for (const input of [-16n, -7n, 0n, 5n, 15n]) {
      const c = circuits.div23;
      expect(assemble(c, divValues('main', 2, 3, input, floorDiv(input, 4n), mod(input, 4n), 'int').v)).toEqual(await honestWitness(c, { in: input }));
    }
    for (const input of [-8n, 0n, 7n]) {
      const c = circuits.div04;
      expect(assemble(c, divValues('main', 0, 4, input, input, 0n, 'int').v)).toEqual(await honestWitness(c, { in: input }));
    }
    for (const [name, h] of [
      ['rq352', 2],
      ['rq353', 3],
      ['rq354', 4],
    ] as const) {
      for (const input of [-128n, -37n, -1n, 0n, 31n, 32n, 75n, 127n]) {
        const c = circuits[name];
        expect(assemble(c, requantValues({ s: 3, n: 5, h }, input))).toEqual(await honestWitness(c, { in: input }));
      }
    }
    for (const ins of [
      [1n, -2n, 1n],
      [-4n, -4n, 3n],
    ]) {
      const c = circuits.am33;
      expect(assemble(c, argmaxValues(3, ins, oneHot(3, firstArgmax(ins)), 'int'))).toEqual(await honestWitness(c, { in: ins }));
    }
  });
});

describe('DivFloorPow2', () => {
  const S = 2;
  const N = 3;
  const c = () => circuits.div23;
  const LO = -pow2(S + N - 1);
  const HI = pow2(S + N - 1); // inputs lie in [LO, HI)

  it('honest witnesses at every input in range satisfy the constraints and give floor(in / 2^s)', async () => {
    for (let x = LO; x < HI; x++) {
      const w = await honestWitness(c(), { in: x });
      expect(passes(c(), w)).toBe(true);
      expect(sig(c(), w, 'main.q')).toBe(floorDiv(x, pow2(S)));
    }
    // s = 0: q = in, r = 0.
    for (let x = -8n; x < 8n; x++) {
      const w = await honestWitness(circuits.div04, { in: x });
      expect(passes(circuits.div04, w)).toBe(true);
      expect(sig(circuits.div04, w, 'main.q')).toBe(x);
    }
  });

  it('inputs just outside the range have no witness', async () => {
    await expectNoWitness(c(), { in: HI });
    await expectNoWitness(c(), { in: LO - 1n });
    // The nearest candidates (q one past the range, bits either way) all fail.
    for (const [x, q] of [
      [HI, pow2(N - 1)],
      [LO - 1n, -pow2(N - 1) - 1n],
    ]) {
      for (const mode of MODES) expect(passes(c(), assemble(c(), divValues('main', S, N, x, q, x - q * 4n, mode).v))).toBe(false);
    }
    await expectNoWitness(circuits.div04, { in: 8 });
  });

  it('rejects other quotient/remainder pairs, out-of-range remainders and field-wrapped quotients', async () => {
    const cases: Array<[string, bigint, (q: bigint, r: bigint, x: bigint) => [bigint, bigint]]> = [
      ['(q+1, r-2^s)', 9n, (q, r) => [q + 1n, r - 4n]],
      ['(q-1, r+2^s)', 9n, (q, r) => [q - 1n, r + 4n]],
      ['(q-1, r+2^s) at min input', LO, (q, r) => [q - 1n, r + 4n]],
      ['(q+1, r-2^s) at max input', HI - 1n, (q, r) => [q + 1n, r - 4n]],
      ['remainder exactly 2^s', 8n, (q) => [q - 1n, 4n]],
      ['remainder p-1 (i.e. -1)', 7n, (q) => [q + 1n, P - 1n]],
      ['remainder -2^s (p - 2^s)', -8n, (q) => [q + 1n, P - 4n]],
      ['q - 2^n (same low bits), r to match', 5n, (q, r) => [q - 8n, r + 32n]],
      ['q + 2^n (same low bits), r to match', -11n, (q, r) => [q + 8n, r - 32n]],
      ['q - 2^n, honest r', 5n, (q, r) => [q - 8n, r]],
      ['field division: r+1, q = (in - r - 1)/2^s', 5n, (_q, r, x) => [(x - r - 1n) * inv(4n), r + 1n]],
      ['field division: r = 0, q = in/2^s', 5n, (_q, _r, x) => [x * inv(4n), 0n]],
      ['field division: r = -1, q = (in + 1)/2^s', 6n, (_q, _r, x) => [(x + 1n) * inv(4n), -1n]],
      ['q = p - 1 claimed with its field bits', 2n, (_q, _r, x) => [P - 1n, x + 4n]],
    ];
    for (const [what, x, attack] of cases) {
      const honest = await honestWitness(c(), { in: x });
      const q0 = floorDiv(x, 4n);
      const [q, r] = attack(q0, x - 4n * q0, x);
      for (const mode of MODES) expectRejected(c(), honest, assemble(c(), divValues('main', S, N, x, q, r, mode).v), `${what}, in=${x}, ${mode} bits`);
    }
    // The same quotient with wrong bits (qBits of q+1 / q-1) or a bit set to 2 or -1.
    const x = 6n;
    const honest = await honestWitness(c(), { in: x });
    const q = floorDiv(x, 4n);
    for (const qb of [bitsOf(q + 1n + 4n, 3), bitsOf(q - 1n + 4n, 3), [2n, 0n, 0n], [P - 1n, 0n, 1n], [1n, 1n, P - 1n]]) {
      expectRejected(c(), honest, assemble(c(), divValues('main', S, N, x, q, x - 4n * q, 'int', qb).v), `qBits ${qb}`);
    }
    // s = 0: any nonzero remainder is rejected.
    const h0 = await honestWitness(circuits.div04, { in: 3 });
    for (const [q, r] of [
      [2n, 1n],
      [4n, -1n],
      [3n - 16n, 16n],
    ]) {
      expectRejected(circuits.div04, h0, assemble(circuits.div04, divValues('main', 0, 4, 3n, q, r, 'int').v), `s=0 (q, r) = (${q}, ${r})`);
    }
  });

  it('exhaustive (s=2, n=3): over all inputs, only the honest hint assignment satisfies the constraints', async () => {
    // Hint candidates: a window of integers around every plausible value plus field-wrap values.
    const wraps = [P - 1n, P - 2n, P - 4n, P - 8n, 4n, 8n, 16n, (P - 1n) / 2n, (P + 1n) / 2n, inv(4n), P - inv(4n)];
    const qs = [...Array.from({ length: 21 }, (_, i) => BigInt(i - 10)), ...wraps];
    const rs = [...Array.from({ length: 15 }, (_, i) => BigInt(i - 5)), ...wraps];
    let checked = 0;
    for (let x = LO - 1n; x <= HI; x++) {
      const inRange = x >= LO && x < HI;
      const honest = inRange ? await honestWitness(c(), { in: x }) : undefined;
      const pairs: Array<[bigint, bigint]> = [];
      for (const q of qs) for (const r of rs) pairs.push([q, r]);
      // Pairs that satisfy in = q * 2^s + r in the field, with the other hint derived.
      for (const q of qs) pairs.push([q, x - 4n * q]);
      for (const r of rs) pairs.push([(x - r) * inv(4n), r]);
      const passing = new Map<string, bigint[]>();
      for (const [q, r] of pairs) {
        for (const mode of MODES) {
          const w = assemble(c(), divValues('main', S, N, x, q, r, mode).v);
          checked++;
          if (passes(c(), w)) passing.set(w.join(','), w);
        }
      }
      if (!inRange) {
        expect(passing.size, `in=${x} is out of range`).toBe(0);
        continue;
      }
      // Exactly one distinct witness passes (r is not a wire: it is in - 4q), and it is the honest one.
      expect([...passing.values()], `in=${x}`).toEqual([honest]);
      expect(sig(c(), honest!, 'main.q')).toBe(floorDiv(x, 4n));
    }
    expect(checked).toBeGreaterThan(30_000);
  });

  it('exhaustive over the raw wires (s=2, n=3): every surviving wire over a value domain, only the honest witness passes', async () => {
    // Not through the model: enumerate the witness vector itself. Bit-like wires range over {0, 1, 2, -1};
    // value wires over a window of integers plus wrap values. Booleanity pins bit wires to {0, 1}, and the
    // remaining (linear) constraints then fix the value wires, so these domains cover every real choice.
    const C = c();
    const names = new Map([...C.sym].filter(([, i]) => i >= 0).map(([n, i]) => [i, n]));
    const inputWire = C.sym.get('main.in')!;
    const free = [...names.keys()].filter((i) => i !== 0 && i !== inputWire).sort((a, b) => a - b);
    const bitDomain = [0n, 1n, 2n, P - 1n];
    const valueDomain = (x: bigint) => [
      ...new Set([
        ...Array.from({ length: 25 }, (_, i) => fp(BigInt(i - 12))),
        ...[P - 4n, 16n, 32n, (P - 1n) / 2n, (P + 1n) / 2n, ...[0n, 1n, 2n, 3n].map((r) => (x - r) * inv(4n))].map(fp),
      ]),
    ];
    const isBit = (name: string) => /Bits\[|\.out\[|bits\[/.test(name);
    let checked = 0;
    for (let x = LO - 1n; x <= HI; x++) {
      const domains = free.map((i) => (isBit(names.get(i)!) ? bitDomain : valueDomain(x)));
      const w: bigint[] = Array.from({ length: C.r1cs.nVars }, (_, i) => (i === 0 ? 1n : 0n));
      w[inputWire] = fp(x);
      const passing: string[] = [];
      const counters = free.map(() => 0);
      for (;;) {
        free.forEach((wire, k) => (w[wire] = domains[k][counters[k]]));
        checked++;
        if (passes(C, w)) passing.push(w.join(','));
        let k = 0;
        while (k < counters.length && ++counters[k] === domains[k].length) counters[k++] = 0;
        if (k === counters.length) break;
      }
      if (x < LO || x >= HI) expect(passing, `in=${x}`).toEqual([]);
      else expect(passing, `in=${x}`).toEqual([(await honestWitness(C, { in: x })).join(',')]);
    }
    expect(free.length).toBeGreaterThanOrEqual(4);
    expect(checked).toBeGreaterThan(100_000);
  });
});

describe('RequantReluClamp', () => {
  const params: Record<string, RqParams> = {
    rq352: { s: 3, n: 5, h: 2 },
    rq353: { s: 3, n: 5, h: 3 },
    rq354: { s: 3, n: 5, h: 4 },
  };

  it('honest witnesses at every input in range give min(max(floor(in/2^s), 0), 2^h - 1)', async () => {
    for (const [name, p] of Object.entries(params)) {
      const C = circuits[name];
      for (let x = -pow2(p.s + p.n - 1); x < pow2(p.s + p.n - 1); x++) {
        const w = await honestWitness(C, { in: x });
        expect(passes(C, w), `${name} in=${x}`).toBe(true);
        expect(sig(C, w, 'main.out'), `${name} in=${x}`).toBe(requantExpected(p, x));
      }
      await expectNoWitness(C, { in: pow2(p.s + p.n - 1) });
      await expectNoWitness(C, { in: -pow2(p.s + p.n - 1) - 1n });
    }
  });

  it('edge values: q = 2^h - 1 and q = 2^h give 2^h - 1; q = -1 and 0 give 0; extremes of the input range', async () => {
    for (const [name, p] of Object.entries(params)) {
      const C = circuits[name];
      const cap = pow2(p.h) - 1n;
      const qMax = pow2(p.n - 1) - 1n;
      const edges: Array<[bigint, bigint]> = [
        [-pow2(p.s + p.n - 1), 0n], // most negative input
        [-1n, 0n], // q = -1
        [0n, 0n],
        [pow2(p.s) - 1n, 0n], // largest input with q = 0
        [cap * pow2(p.s), cap], // q = 2^h - 1
        [(cap + 1n) * pow2(p.s) + pow2(p.s) - 1n, clamp(cap + 1n, 0n, cap)], // q = 2^h (when representable)
        [pow2(p.s + p.n - 1) - 1n, clamp(qMax, 0n, cap)], // most positive input
      ];
      for (const [x, out] of edges) {
        if (x >= pow2(p.s + p.n - 1)) continue; // q = 2^h not representable when h = n - 1
        const w = await honestWitness(C, { in: x });
        expect(passes(C, w)).toBe(true);
        expect(sig(C, w, 'main.out'), `${name} in=${x}`).toBe(out);
      }
    }
  });

  it('ReLU: a negative q cannot be passed through, made positive, or claimed as a wrapped large value', async () => {
    let real = 0;
    let total = 0;
    for (const [name, p] of Object.entries(params)) {
      const C = circuits[name];
      const off = pow2(p.n - 1);
      for (const x of [-37n, -1n, -pow2(p.s + p.n - 1), -9n]) {
        const q = floorDiv(x, pow2(p.s));
        const r = x - q * pow2(p.s);
        const a = -q; // |q|
        const honest = await honestWitness(C, { in: x });
        expect(sig(C, honest, 'main.out')).toBe(0n);
        const trueBits = bitsOf(q + off, p.n);
        const signForced = [...trueBits.slice(0, -1), 1n];
        const attacks: Array<[string, Values]> = [
          ['out = q', requantValues(p, x, {}, { out: q })],
          ['out = |q|', requantValues(p, x, {}, { out: a })],
          ['out = 1', requantValues(p, x, {}, { out: 1n })],
          ['nonNeg forced to 1, other bits kept, out derived', requantValues(p, x, { qBits: signForced })],
          ['nonNeg forced to 1, q := what the bits encode, r to match', requantValues(p, x, { q: q + off, r: x - (q + off) * pow2(p.s), qBits: signForced })],
          ['nonNeg forced to 1, out = q', requantValues(p, x, { qBits: signForced }, { out: q })],
          ['nonNeg forced to 1, low bits of |q|', requantValues(p, x, { qBits: bitsOf(a + off, p.n) })],
          ['nonNeg forced to 1, low bits of q mod 2^(n-1)', requantValues(p, x, { qBits: [...bitsOf(mod(q, off), p.n - 1), 1n] })],
          ['q := |q| with r to match', requantValues(p, x, { q: a, r: x - a * pow2(p.s) })],
          ['q := |q| with honest r', requantValues(p, x, { q: a, r })],
          ['q := |q|, r to match, field bits', requantValues(p, x, { q: a, r: x - a * pow2(p.s), mode: 'field' })],
          ['wrapped: q as p - |q| with field bits, nonNeg = 1', requantValues(p, x, { mode: 'field', qBits: [...bitsOf(fp(q + off) % off, p.n - 1), 1n] }, { out: fp(q) })],
          ['wrapped: out = p - |q| (field value of q) claimed positive', requantValues(p, x, { mode: 'field' }, { out: fp(q) })],
        ];
        for (const [what, v] of attacks) real += rejectUnlessSame(C, honest, assemble(C, v), `${name} in=${x}: ${what}`);
        total += attacks.length;
      }
    }
    expect(real).toBeGreaterThan(total * 0.9);
  });

  it('clamp: q above 2^h - 1 cannot claim out = q or q mod 2^h, by any path through IsZero', async () => {
    let real = 0;
    let total = 0;
    for (const name of ['rq352', 'rq353']) {
      const p = params[name];
      const C = circuits[name];
      const cap = pow2(p.h) - 1n;
      const off = pow2(p.n - 1);
      for (let q = cap + 1n; q < off; q++) {
        const x = q * pow2(p.s) + 3n;
        const honest = await honestWitness(C, { in: x });
        expect(sig(C, honest, 'main.out')).toBe(cap);
        const low = mod(q, pow2(p.h));
        const fake = (out: bigint, inv0: bigint): Values => ({ 'main.act.fits.out': 1n, 'main.act.fits.inv': inv0, 'main.act.lowOrCap': out - cap, out });
        const attacks: Array<[string, Values]> = [
          ['out = q', requantValues(p, x, {}, { out: q })],
          ['out = q mod 2^h', requantValues(p, x, {}, { out: low })],
          ['out = q mod 2^h, fits forced to 1', requantValues(p, x, {}, fake(low, 0n))],
          ['out = q, fits forced to 1', requantValues(p, x, {}, fake(q, 0n))],
          ['out = q mod 2^h, fits = 1 with an inverse hint', requantValues(p, x, {}, fake(low, inv(q >> BigInt(p.h))))],
          ['high bits cleared, q kept', requantValues(p, x, { qBits: bitsOf(low + off, p.n) })],
          ['q := q mod 2^h with r to match', requantValues(p, x, { q: low, r: x - low * pow2(p.s) })],
          ['q := q mod 2^h with r to match, field bits', requantValues(p, x, { q: low, r: x - low * pow2(p.s), mode: 'field' })],
          ['out = cap + 1', requantValues(p, x, {}, { out: cap + 1n })],
        ];
        for (const [what, v] of attacks) real += rejectUnlessSame(C, honest, assemble(C, v), `${name} q=${q}: ${what}`);
        total += attacks.length;
      }
    }
    expect(real).toBeGreaterThan(total * 0.9);
  });

  it('every single-wire change of an honest witness is rejected, except the IsZero inverse hint when its input is 0', async () => {
    for (const [name, p] of Object.entries(params)) {
      const C = circuits[name];
      for (const x of [-100n, -1n, 0n, 17n, 35n, 100n, 127n]) {
        const honest = await honestWitness(C, { in: x });
        const accepted: string[] = [];
        for (const [sigName, idx] of C.sym) {
          if (idx <= 0) continue;
          for (const d of [1n, -1n, 2n]) {
            const w = [...honest];
            w[idx] = fp(w[idx] + d);
            if (passes(C, w)) accepted.push(sigName);
          }
        }
        // IsZero's inv is a free hint when its input is zero: any value satisfies out = 1 - in * inv and
        // in * out = 0. It changes no output, so the statement stays sound; nothing else may move.
        const q = floorDiv(x, pow2(p.s));
        const highIsZero = p.h < p.n - 1 && (q < 0n ? mod(q + pow2(p.n - 1), pow2(p.n - 1)) : q) >> BigInt(p.h) === 0n;
        const expected = highIsZero && hasSignal(C.sym, 'main.act.fits.inv') ? Array(3).fill('main.act.fits.inv') : [];
        expect(accepted, `${name} in=${x}`).toEqual(expected);
      }
    }
  });

  it('model-sized parameters (s=20, n=14, h=7): edges are right and the same attacks fail', async () => {
    const p = { s: 20, n: 14, h: 7 };
    const C = circuits.rqBig;
    const S = pow2(p.s);
    const lim = pow2(p.s + p.n - 1);
    const edges = [-lim, -lim + 1n, -S - 1n, -S, -1n, 0n, 1n, S - 1n, S, 126n * S + S - 1n, 127n * S, 128n * S, 128n * S - 1n, lim - 1n, 123_456_789n, -987_654_321n];
    for (const x of edges) {
      const w = await honestWitness(C, { in: x });
      expect(passes(C, w)).toBe(true);
      expect(sig(C, w, 'main.out'), `in=${x}`).toBe(requantExpected(p, x));
    }
    await expectNoWitness(C, { in: lim });
    for (const x of [-987_654_321n, -1n, 5n * S + 17n, 127n * S, 300n * S + 1n, lim - 1n]) {
      const honest = await honestWitness(C, { in: x });
      const q = floorDiv(x, S);
      const r = x - q * S;
      for (const mode of MODES) {
        const attacks: Array<[string, Values]> = [
          ['(q+1, r-2^s)', requantValues(p, x, { q: q + 1n, r: r - S, mode })],
          ['(q-1, r+2^s)', requantValues(p, x, { q: q - 1n, r: r + S, mode })],
          ['q - 2^n, r to match', requantValues(p, x, { q: q - pow2(p.n), r: r + pow2(p.n) * S, mode })],
          ['field division r+1', requantValues(p, x, { q: (x - r - 1n) * inv(S), r: r + 1n, mode })],
          ['out = q', requantValues(p, x, { mode }, { out: q })],
          ['out = q mod 2^h', requantValues(p, x, { mode }, { out: mod(q, 128n) })],
          ['out = honest + 1', requantValues(p, x, { mode }, { out: requantExpected(p, x) + 1n })],
        ];
        // (out = q is no change when 0 <= q <= cap.)
        for (const [what, v] of attacks) rejectUnlessSame(C, honest, assemble(C, v), `in=${x} ${mode}: ${what}`);
      }
    }
  });
});

describe('ArgMax', () => {
  it('honest witnesses at every input in range (N=3, b=3) give the FIRST maximum and its value', async () => {
    const C = circuits.am33;
    for (const ins of vectors(3, -4, 4)) {
      const w = await honestWitness(C, { in: ins });
      expect(passes(C, w)).toBe(true);
      const k = firstArgmax(ins);
      expect([sig(C, w, 'main.index'), sig(C, w, 'main.max')], `${ins}`).toEqual([BigInt(k), ins[k]]);
    }
    // Inputs are not range-checked here (the caller's static bounds are the precondition): [4, 0, 0] still
    // gets its right answer, but a spread of 2^b or more leaves a gap outside [0, 2^b), so no witness.
    await expectNoWitness(C, { in: [4, -4, 0] });
  });

  it('edge values: all tied, extremes, zero, maximum last (N=4, b=6 and N=10, b=24)', async () => {
    const cases: Array<[string, number, bigint[]]> = [
      ['am46', 6, [-32n, -32n, -32n, -32n]],
      ['am46', 6, [31n, 31n, 31n, 31n]],
      ['am46', 6, [0n, 0n, 0n, 0n]],
      ['am46', 6, [-32n, 31n, -32n, 31n]],
      ['am46', 6, [-32n, -32n, -32n, 31n]],
      ['am46', 6, [-32n, -31n, -32n, -32n]],
      ['amBig', 24, [0n, -1n, -(2n ** 23n), 2n ** 23n - 1n, 5n, 2n ** 23n - 1n, 0n, 0n, 7n, -3n]],
      ['amBig', 24, Array(10).fill(-(2n ** 23n))],
      ['amBig', 24, [...Array(9).fill(2n ** 23n - 2n), 2n ** 23n - 1n]],
    ];
    for (const [name, , ins] of cases) {
      const C = circuits[name];
      const w = await honestWitness(C, { in: ins });
      expect(passes(C, w)).toBe(true);
      const k = firstArgmax(ins);
      expect([sig(C, w, 'main.index'), sig(C, w, 'main.max')], `${ins}`).toEqual([BigInt(k), ins[k]]);
    }
  });

  it('rejects a smaller index, a later tied maximum, bad selectors and a max not in the inputs', async () => {
    for (const [name, b, ins] of [
      ['am46', 6, [5n, 9n, -3n, 9n]],
      ['am46', 6, [-32n, 31n, -32n, 31n]],
      ['am46', 6, [0n, 0n, 0n, 0n]],
      ['amBig', 24, [0n, -1n, -(2n ** 23n), 2n ** 23n - 1n, 5n, 2n ** 23n - 1n, 0n, 0n, 7n, -3n]],
    ] as Array<[string, number, bigint[]]>) {
      const C = circuits[name];
      const N = ins.length;
      const k = firstArgmax(ins);
      const honest = await honestWitness(C, { in: ins });
      const sel = (...pairs: Array<[number, bigint]>) => {
        const s: bigint[] = Array(N).fill(0n);
        for (const [i, v] of pairs) s[i] = v;
        return s;
      };
      for (const mode of MODES) {
        const attacks: Array<[string, Values]> = [];
        for (let j = 0; j < N; j++) if (j !== k) attacks.push([`index ${j} (${ins[j] === ins[k] ? 'later tie' : 'smaller'})`, argmaxValues(b, ins, oneHot(N, j), mode)]);
        attacks.push(
          ['two ones', argmaxValues(b, ins, sel([k, 1n], [(k + 1) % N, 1n]), mode)],
          ['selector 2 and -1 (sums to 1)', argmaxValues(b, ins, sel([k, 2n], [(k + 1) % N, -1n]), mode)],
          ['selector -1 and 2 (sums to 1)', argmaxValues(b, ins, sel([(k + 1) % N, -1n], [(k + 2) % N, 2n]), mode)],
          ['selector 2, -1 aimed at index 0', argmaxValues(b, ins, sel([1, 2n], [2, -1n]), mode)],
          ['all zero', argmaxValues(b, ins, sel(), mode)],
          ['max + 1, picked unchanged', argmaxValues(b, ins, oneHot(N, k), mode, { max: ins[k] + 1n })],
          ['max + 1, picked[index] faked', argmaxValues(b, ins, oneHot(N, k), mode, { max: ins[k] + 1n, pickedAt: k })],
          ['max + 1, another picked faked', argmaxValues(b, ins, oneHot(N, k), mode, { max: ins[k] + 1n, pickedAt: (k + 1) % N })],
          ['max far above, picked faked', argmaxValues(b, ins, oneHot(N, k), mode, { max: 2n ** BigInt(b - 1), pickedAt: k })],
          ['max = p - 1', argmaxValues(b, ins, oneHot(N, k), mode, { max: P - 1n, pickedAt: k })],
        );
        for (const [what, v] of attacks) expectRejected(C, honest, assemble(C, v), `${name} ${ins}: ${what} (${mode} bits)`);
      }
    }
  });

  it('exhaustive (N=3, b=3): over all inputs, of all selectors in {0,1,2,-1}^3 only the first argmax passes', async () => {
    const C = circuits.am33;
    const values = [0n, 1n, 2n, P - 1n];
    let checked = 0;
    for (const ins of vectors(3, -4, 4)) {
      const honest = await honestWitness(C, { in: ins });
      const passing = new Map<string, bigint[]>();
      for (const s0 of values)
        for (const s1 of values)
          for (const s2 of values) {
            for (const mode of MODES) {
              const w = assemble(C, argmaxValues(3, ins, [s0, s1, s2], mode));
              checked++;
              if (passes(C, w)) passing.set(w.join(','), w);
            }
          }
      expect([...passing.values()], `${ins}`).toEqual([honest]);
      expect(sig(C, honest, 'main.index')).toBe(BigInt(firstArgmax(ins)));
    }
    expect(checked).toBe(512 * 64 * 2);
  });
});
