import { describe, expect, it } from 'vitest';
import { loadModelSource } from '../src/model/index.js';
import { loadMnistSplit } from '../src/model/mnist.js';
import { compareAccuracy } from '../src/quantize/accuracy.js';
import { modelBounds } from '../src/quantize/bounds.js';
import { quantizeModel } from '../src/quantize/quantize.js';
import { runQuantized } from '../src/quantize/reference.js';
import type { QuantizedModel } from '../src/quantize/types.js';
import { randomFloatModel, randomInputs } from './helpers/models.js';

describe('quantization of the bundled MNIST model', async () => {
  const source = await loadModelSource('mlp');
  const qmodel = quantizeModel(source.float, source.calibration, { inputBits: 8, inputScale: 1 / 255 });
  const test = loadMnistSplit().test;

  it('loses under 1 point of held-out accuracy', () => {
    const acc = compareAccuracy(source.float, qmodel, test);
    expect(acc.float).toBeGreaterThan(0.9);
    expect(Math.abs(acc.float - acc.quantized)).toBeLessThan(0.01);
  });

  it('uses int8 weights and positive multipliers that fit the requested precision', () => {
    for (const layer of qmodel.layers) {
      if (layer.kind !== 'dense') throw new Error('the bundled MLP has dense layers only');
      for (const w of layer.weights) expect(Number.isInteger(w) && Math.abs(w) <= 127).toBe(true);
      for (const b of layer.bias) expect(Number.isInteger(b)).toBe(true);
      if (layer.requant) for (const m of layer.requant.multipliers) expect(m >= 1 && m < 2 ** 10 && Number.isInteger(m)).toBe(true);
    }
  });

  it('keeps every intermediate inside the static bounds on real data', () => {
    const bounds = modelBounds(qmodel);
    for (const s of test.slice(0, 200)) {
      const r = runQuantized(qmodel, s.pixels);
      r.logits.forEach((v, j) => {
        expect(v).toBeGreaterThanOrEqual(bounds.layers[1].acc![j].min);
        expect(v).toBeLessThanOrEqual(bounds.layers[1].acc![j].max);
        expect(Math.abs(v)).toBeLessThan(2 ** (bounds.logitBits - 1));
      });
    }
  });
});

describe('integer semantics', () => {
  // A hand-checked model: 2 inputs -> 2 hidden (relu, clamp 8 bits) -> 2 logits.
  const tiny: QuantizedModel = {
    format: 'zkinfer-qmodel',
    version: 1,
    name: 'tiny',
    input: { shape: [2], bits: 8, scale: 1 },
    layers: [
      {
        kind: 'dense',
        name: 'h',
        inputSize: 2,
        outputSize: 2,
        weights: [3, -2, -1, 1],
        bias: [5, -7],
        weightScales: [1, 1],
        requant: { multipliers: [3, 1], shift: 2, activation: 'relu', outBits: 8, outScale: 1 },
      },
      { kind: 'dense', name: 'o', inputSize: 2, outputSize: 2, weights: [1, 0, 0, 1], bias: [0, 0], weightScales: [1, 1], requant: null },
    ],
    output: { size: 2, logitScale: 1 },
    notes: [],
  };

  it('floors (acc*M + 2^(s-1)) / 2^s, then relu and clamp', () => {
    // h0: acc = 5 + 3*10 - 2*4 = 27 -> floor((81 + 2)/4) = 20; h1: acc = -7 - 10 + 4 = -13 -> floor(-11/4) = -3 -> relu 0
    expect(runQuantized(tiny, [10, 4])).toMatchObject({ logits: [20, 0], predicted: 0, hidden: [[20, 0]] });
    // h0: acc = 5 + 765 = 770 -> floor(2312/4) = 578 -> clamp 255; h1: acc = -7 - 255 = -262 -> relu 0
    expect(runQuantized(tiny, [255, 0]).hidden[0]).toEqual([255, 0]);
    // h0: 5 - 16 < 0 -> 0; h1: acc = 1 -> floor(3/4) = 0: a tie at 0, which picks the first index.
    expect(runQuantized(tiny, [0, 8])).toMatchObject({ logits: [0, 0], predicted: 0 });
    // h1: acc = 3 -> floor(5/4) = 1 beats h0 = 0.
    expect(runQuantized(tiny, [0, 10])).toMatchObject({ logits: [0, 1], predicted: 1 });
  });

  it('bounds cover random inputs of random models, including all-zero and all-max inputs', () => {
    const float = randomFloatModel([20, 8, 8, 5], 3);
    const q = quantizeModel(float, randomInputs(30, 20, 8, 4), { inputBits: 8, inputScale: 1 / 255 });
    const bounds = modelBounds(q);
    const inputs = [...randomInputs(200, 20, 8, 5), new Array(20).fill(0), new Array(20).fill(255)];
    for (const x of inputs) {
      const r = runQuantized(q, x);
      expect(Math.abs(Math.min(...r.logits))).toBeLessThanOrEqual(2 ** (bounds.logitBits - 1));
      expect(Math.max(...r.logits)).toBeLessThan(2 ** (bounds.logitBits - 1));
      for (const h of r.hidden) for (const v of h) expect(v >= 0 && v <= 255).toBe(true);
    }
  });
});
