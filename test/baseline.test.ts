import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baselineHintInputs, baselineInputs, baselineParameterInputs, compileBaseline, proveBaseline } from '../bench/baseline/emitBaseline.js';
import { compileModel } from '../src/circuit/index.js';
import { computeWitness, fieldToSigned, FIELD_P } from '../src/circuit/witness.js';
import { quantizeModel } from '../src/quantize/quantize.js';
import { runQuantized } from '../src/quantize/reference.js';
import type { QuantizedModel } from '../src/quantize/types.js';
import { setupModel } from '../src/setup/index.js';
import { verify } from '../src/verify/index.js';
import { randomFloatModel, randomInputs, TINY_INPUTS, TINY_MODEL } from './helpers/models.js';

/**
 * The benchmark's circomlib-ml-style baseline (bench/baseline: emitter and templates) must compute the same
 * integers as zkinfer's reference, and its prover-supplied hints must be pinned by constraints.
 */
let artifactsDir: string;
beforeAll(async () => {
  artifactsDir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-baseline-'));
});
afterAll(async () => {
  await rm(artifactsDir, { recursive: true, force: true });
});

async function expectBaselineMatchesReference(q: QuantizedModel, inputs: number[][]) {
  const compiled = await compileBaseline(q, { artifactsDir });
  const { logits, classIndex } = compiled.layout;
  const params = baselineParameterInputs(q);
  for (const x of inputs) {
    const witness = await computeWitness(compiled.circuit.wasmPath, baselineInputs(q, x, params));
    const ref = runQuantized(q, x);
    expect(witness.slice(1, 1 + logits).map((v) => Number(fieldToSigned(v)))).toEqual(ref.logits);
    expect(Number(witness[1 + classIndex])).toBe(ref.predicted);
  }
  return compiled;
}

const randomModel = (sizes: number[], seed: number) =>
  quantizeModel(randomFloatModel(sizes, seed), randomInputs(30, sizes[0], 8, seed + 100), { inputBits: 8, inputScale: 1 / 255 });

// Ties between logits, a clamped unit and negative accumulators.
const tiny = TINY_MODEL;

describe('baseline circuit vs reference', () => {
  for (const [sizes, seed] of [
    [[16, 8, 4], 1],
    [[24, 12, 8, 10], 4],
  ] as Array<[number[], number]>) {
    it(`random model ${sizes.join('-')} on random and edge inputs`, async () => {
      const q = randomModel(sizes, seed);
      const edges = [new Array(sizes[0]).fill(0), new Array(sizes[0]).fill(255)];
      await expectBaselineMatchesReference(q, [...randomInputs(6, sizes[0], 8, seed + 200), ...edges]);
    });
  }

  it('a hand-built model with ties and clamping', async () => {
    await expectBaselineMatchesReference(tiny, TINY_INPUTS);
  });

  it('costs more constraints than the zkinfer circuit of the same model', async () => {
    const q = randomModel([16, 8, 4], 1);
    const ours = await compileModel(q, { artifactsDir });
    const baseline = await compileBaseline(q, { artifactsDir });
    // At least one constraint per weight product (16*8 + 8*4) on top of what zkinfer needs.
    expect(baseline.circuit.constraints).toBeGreaterThan(ours.circuit.constraints + 16 * 8 + 8 * 4);
  });
});

describe('baseline hints are constrained', () => {
  const x = [100, 151];
  const shift = 2n;
  const honest = () => baselineInputs(tiny, x);
  const rejects = (input: Record<string, unknown>) => expect(computeWitnessFor(input)).rejects.toThrow(/circuit rejected the input/);
  const computeWitnessFor = async (input: Record<string, unknown>) => {
    const compiled = await compileBaseline(tiny, { artifactsDir });
    return computeWitness(compiled.circuit.wasmPath, input);
  };

  it('accepts the honest hints', async () => {
    await expect(computeWitnessFor(honest())).resolves.toBeDefined();
  });

  it('rejects a remainder outside [0, 2^s) even when q * 2^s + r still matches', async () => {
    const input = honest();
    const q = (input.q0 as string[]).map(BigInt);
    const r = (input.r0 as string[]).map(BigInt);
    q[0] = (q[0] - 1n + FIELD_P) % FIELD_P;
    r[0] = r[0] + (1n << shift);
    await rejects({ ...input, q0: q.map(String), r0: r.map(String) });
  });

  it('rejects another in-range remainder paired with the field quotient that balances it', async () => {
    const input = honest();
    const q = (input.q0 as string[]).map(BigInt);
    const r = (input.r0 as string[]).map(BigInt);
    // q' = q - 1/2^s (mod p): q' * 2^s + (r + 1) = q * 2^s + r, but q' is a huge field element.
    const inv = modInverse(1n << shift, FIELD_P);
    const r1 = r[0] === 0n ? 1n : r[0] - 1n;
    q[0] = (((q[0] + (r[0] - r1) * inv) % FIELD_P) + FIELD_P) % FIELD_P;
    r[0] = r1;
    await rejects({ ...input, q0: q.map(String), r0: r.map(String) });
  });

  it('the hint generator agrees with the reference on hidden activations', () => {
    const hints = baselineHintInputs(tiny, x);
    const ref = runQuantized(tiny, x);
    const q = (hints.q0 as string[]).map((v) => fieldToSigned(v));
    expect(q.map((v) => Number(v < 0n ? 0n : v > 255n ? 255n : v))).toEqual(ref.hidden[0]);
  });
});

describe('baseline Groth16 proof', () => {
  it('proves and verifies with the zkinfer key format', async () => {
    const q = randomModel([6, 3, 3], 7);
    const model = await setupModel(await compileBaseline(q, { artifactsDir }), { artifactsDir });
    const x = randomInputs(1, 6, 8, 99)[0];
    const bundle = await proveBaseline(model, x, baselineParameterInputs(q));
    expect(bundle.prediction.class).toBe(runQuantized(q, x).predicted);
    const result = await verify(bundle, model.key);
    expect(result.valid).toBe(true);
  });
});

function modInverse(a: bigint, m: bigint): bigint {
  // Fermat: m is prime.
  let result = 1n;
  let base = a % m;
  let e = m - 2n;
  while (e > 0n) {
    if (e & 1n) result = (result * base) % m;
    base = (base * base) % m;
    e >>= 1n;
  }
  return result;
}
