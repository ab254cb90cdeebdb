import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { compileModel } from '../src/circuit/index.js';
import { computeWitness, fieldToSigned } from '../src/circuit/witness.js';
import { runQuantized } from '../src/quantize/reference.js';
import type { QDense, QLayer, QRequant, QuantizedModel, Shape3 } from '../src/quantize/types.js';

/**
 * Property: for random quantized models and random inputs (edge values included), the witness the
 * compiled circuit computes equals the TypeScript reference runQuantized, logits and class, bit for bit;
 * and an input one past its range has no witness. Models are generated directly as integers (not through
 * the float quantizer), so every corner the emitter accepts is reachable: 1-bit inputs and activations,
 * shift 0, multipliers up to 2^10, extreme int8 weights, clamping and non-clamping requantization, and
 * small convolution + max pooling stacks. Each model costs a circom compile (~1-3 s), hence few runs.
 */

let artifactsDir: string;
beforeAll(() => {
  artifactsDir = mkdtempSync(path.join(tmpdir(), 'zkinfer-property-'));
});
afterAll(() => {
  if (artifactsDir) rmSync(artifactsDir, { recursive: true, force: true });
});

const weight = fc.oneof(fc.integer({ min: -127, max: 127 }), fc.constantFrom(-127, -1, 0, 1, 127));
const weights = (n: number) => fc.array(weight, { minLength: n, maxLength: n });
const requant = (channels: number): fc.Arbitrary<QRequant> =>
  fc.record({
    multipliers: fc.array(fc.integer({ min: 1, max: 1023 }), { minLength: channels, maxLength: channels }),
    shift: fc.integer({ min: 0, max: 20 }),
    activation: fc.constantFrom('relu' as const, 'relu6' as const),
    outBits: fc.integer({ min: 1, max: 8 }),
    outScale: fc.constant(1),
  });
const bias = (n: number) => fc.array(fc.integer({ min: -4096, max: 4096 }), { minLength: n, maxLength: n });

function dense(name: string, inputSize: number, outputSize: number, last: boolean): fc.Arbitrary<QDense> {
  return fc.record({
    kind: fc.constant('dense' as const),
    name: fc.constant(name),
    inputSize: fc.constant(inputSize),
    outputSize: fc.constant(outputSize),
    weights: weights(inputSize * outputSize),
    bias: bias(outputSize),
    weightScales: fc.constant(Array(outputSize).fill(1)),
    requant: last ? fc.constant(null) : requant(outputSize),
  });
}

function model(inputShape: number[], bits: number, layers: QLayer[]): QuantizedModel {
  const last = layers[layers.length - 1] as QDense;
  return {
    format: 'zkinfer-qmodel',
    version: 1,
    name: 'property',
    input: { shape: inputShape, bits, scale: 1 },
    layers,
    output: { size: last.outputSize, logitScale: 1 },
    notes: [],
  };
}

/** MLPs: 1-10 inputs, 0-2 hidden layers of 1-6 units, 2-5 logits. */
const mlp = fc
  .record({
    bits: fc.integer({ min: 1, max: 8 }),
    sizes: fc.tuple(fc.integer({ min: 1, max: 10 }), fc.array(fc.integer({ min: 1, max: 6 }), { maxLength: 2 }), fc.integer({ min: 2, max: 5 })),
  })
  .chain(({ bits, sizes: [input, hidden, out] }) => {
    const sizes = [input, ...hidden, out];
    return fc.tuple(...sizes.slice(1).map((n, l) => dense(`d${l}`, sizes[l], n, l === sizes.length - 2))).map((layers) => model([input], bits, layers));
  });

/** conv2d (valid padding, stride 1-2) -> maxpool -> dense, on inputs up to 5x5x2. */
const cnn = fc
  .record({
    bits: fc.integer({ min: 1, max: 8 }),
    h: fc.integer({ min: 2, max: 5 }),
    w: fc.integer({ min: 2, max: 5 }),
    c: fc.integer({ min: 1, max: 2 }),
    oc: fc.integer({ min: 1, max: 3 }),
    k: fc.integer({ min: 1, max: 2 }),
    s: fc.integer({ min: 1, max: 2 }),
    out: fc.integer({ min: 2, max: 4 }),
  })
  .chain(({ bits, h, w, c, oc, k, s, out }) => {
    const conv: Shape3 = [Math.floor((h - k) / s) + 1, Math.floor((w - k) / s) + 1, oc];
    const pool = Math.min(2, conv[0], conv[1]);
    const pooled: Shape3 = [Math.floor((conv[0] - pool) / pool) + 1, Math.floor((conv[1] - pool) / pool) + 1, oc];
    const convLayer = fc.record({
      kind: fc.constant('conv2d' as const),
      name: fc.constant('conv'),
      inShape: fc.constant([h, w, c] as Shape3),
      outShape: fc.constant(conv),
      kernelSize: fc.constant([k, k] as [number, number]),
      strides: fc.constant([s, s] as [number, number]),
      pads: fc.constant([0, 0, 0, 0] as [number, number, number, number]),
      depthwise: fc.constant(false),
      weights: weights(k * k * c * oc),
      bias: bias(oc),
      weightScales: fc.constant(Array(oc).fill(1)),
      requant: requant(oc),
    });
    const poolLayer: QLayer = { kind: 'maxpool', name: 'pool', inShape: conv, outShape: pooled, poolSize: [pool, pool], strides: [pool, pool], requant: null };
    return fc.tuple(convLayer, dense('fc', pooled[0] * pooled[1] * oc, out, true)).map(([cv, fcl]) => model([h, w, c], bits, [cv, poolLayer, fcl]));
  });

/** Inputs biased to the edges of [0, 2^bits - 1]. */
const inputs = (m: QuantizedModel) => {
  const size = m.input.shape.reduce((a, b) => a * b, 1);
  const max = 2 ** m.input.bits - 1;
  const value = fc.oneof(fc.constant(0), fc.constant(max), fc.integer({ min: 0, max }));
  return fc.array(fc.array(value, { minLength: size, maxLength: size }), { minLength: 10, maxLength: 10 });
};

async function circuitMatchesReference(m: QuantizedModel, xs: number[][]): Promise<void> {
  const { circuit, layout } = await compileModel(m, { artifactsDir });
  for (const x of xs) {
    const w = await computeWitness(circuit.wasmPath, { x });
    const ref = runQuantized(m, x);
    const at = (offset: number) => Number(fieldToSigned(w[1 + offset]));
    expect(
      Array.from({ length: layout.logits }, (_, j) => at(layout.logitsOffset + j)),
      `logits of ${x}`,
    ).toEqual(ref.logits);
    expect(at(layout.classIndex), `class of ${x}`).toBe(ref.predicted);
  }
  // One input one past its range: the circuit has no witness (the range check, not the caller, refuses it).
  const bad = [...xs[0]];
  bad[bad.length - 1] = 2 ** m.input.bits;
  const quiet = vi.spyOn(console, 'error').mockImplementation(() => {});
  try {
    await expect(computeWitness(circuit.wasmPath, { x: bad })).rejects.toThrow(/rejected the input/);
  } finally {
    quiet.mockRestore();
  }
}

describe('circuit witness == runQuantized on random models and inputs', () => {
  it('MLPs (8 models x 10 inputs)', async () => {
    await fc.assert(
      fc.asyncProperty(
        mlp.chain((m) => fc.tuple(fc.constant(m), inputs(m))),
        ([m, xs]) => circuitMatchesReference(m, xs),
      ),
      { numRuns: 8, endOnFailure: true },
    );
  });

  it('conv2d + maxpool + dense (4 models x 10 inputs)', async () => {
    await fc.assert(
      fc.asyncProperty(
        cnn.chain((m) => fc.tuple(fc.constant(m), inputs(m))),
        ([m, xs]) => circuitMatchesReference(m, xs),
      ),
      { numRuns: 4, endOnFailure: true },
    );
  });
});
