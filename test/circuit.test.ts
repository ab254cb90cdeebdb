import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileModel } from '../src/circuit/index.js';
import { computeWitness, fieldToSigned } from '../src/circuit/witness.js';
import { modelBounds } from '../src/quantize/bounds.js';
import { quantizeModel } from '../src/quantize/quantize.js';
import { runQuantized } from '../src/quantize/reference.js';
import type { QuantizedModel } from '../src/quantize/types.js';
import { ZkinferError } from '../src/util/errors.js';
import { randomFloatModel, randomInputs, TINY_INPUTS, TINY_MODEL } from './helpers/models.js';

/** The emitted circuit equals the TypeScript reference bit for bit, on random models and edge inputs. */
let artifactsDir: string;
beforeAll(async () => {
  artifactsDir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-circuit-'));
});

async function expectCircuitMatchesReference(q: QuantizedModel, inputs: number[][]) {
  const compiled = await compileModel(q, { artifactsDir });
  const { logits, classIndex } = compiled.layout;
  for (const x of inputs) {
    const witness = await computeWitness(compiled.circuit.wasmPath, { x });
    const ref = runQuantized(q, x);
    expect(witness.slice(1, 1 + logits).map((v) => Number(fieldToSigned(v)))).toEqual(ref.logits);
    expect(Number(witness[1 + classIndex])).toBe(ref.predicted);
  }
  return compiled;
}

describe('circuit vs reference', () => {
  for (const [sizes, seed] of [
    [[16, 8, 4], 1],
    [[10, 6, 6, 3], 2],
    [[5, 2], 3],
    [[24, 12, 8, 10], 4],
  ] as Array<[number[], number]>) {
    it(`random model ${sizes.join('-')} on random and edge inputs`, async () => {
      const float = randomFloatModel(sizes, seed);
      const q = quantizeModel(float, randomInputs(30, sizes[0], 8, seed + 100), { inputBits: 8, inputScale: 1 / 255 });
      const edges = [new Array(sizes[0]).fill(0), new Array(sizes[0]).fill(255), Array.from({ length: sizes[0] }, (_, i) => (i % 2) * 255)];
      await expectCircuitMatchesReference(q, [...randomInputs(12, sizes[0], 8, seed + 200), ...edges]);
    });
  }

  it('a hand-built model with ties, clamping and the no-clamp branch', async () => {
    const q = TINY_MODEL;
    const inputs = TINY_INPUTS;
    const compiled = await expectCircuitMatchesReference(q, inputs);
    expect(modelBounds(q).logitBits).toBeLessThan(12);
    expect(compiled.circuit.constraints).toBeLessThan(200);
  });

  it('the circuit rejects an out-of-range input even if the caller skips validation', async () => {
    const float = randomFloatModel([5, 2], 3);
    const q = quantizeModel(float, randomInputs(10, 5, 8, 9), { inputBits: 8, inputScale: 1 / 255 });
    const compiled = await compileModel(q, { artifactsDir });
    const err = await computeWitness(compiled.circuit.wasmPath, { x: [0, 0, 256, 0, 0] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ZkinferError);
    expect((err as Error).message).toMatch(/circuit rejected the input/);
  });
});
