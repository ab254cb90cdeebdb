import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileModel } from '../src/circuit/index.js';
import { computeWitness, fieldToSigned } from '../src/circuit/witness.js';
import { loadTf } from '../src/model/tf.js';
import { loadTfjsLayersModel } from '../src/model/tfjsLayers.js';
import { runFloat, type FloatModel } from '../src/model/types.js';
import { quantizeModel } from '../src/quantize/quantize.js';
import { runQuantized } from '../src/quantize/reference.js';
import type { QuantizedModel } from '../src/quantize/types.js';
import { rng } from './helpers/models.js';
import { saveTfjs } from './helpers/residual.js';

/**
 * Convolutional layers end to end: tfjs models with Conv2D (valid/same, strides), DepthwiseConv2D,
 * BatchNormalization, ReLU6, max/average/global pooling are imported exactly (checked against tfjs's own
 * predict), and their circuits equal the integer reference on random and edge inputs.
 */
type Tf = Awaited<ReturnType<typeof loadTf>>['tf'];
let tf: Tf;
let dir: string;

beforeAll(async () => {
  tf = (await loadTf()).tf;
  dir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-cnn-'));
});

/** Save a tfjs model as model.json + weights.bin under the test's directory. */
const save = (model: import('@tensorflow/tfjs').LayersModel, name: string) => saveTfjs(tf, model, path.join(dir, name));

/** Give every weight (and batch-norm statistic) seeded random values, with positive variances. */
function randomize(model: import('@tensorflow/tfjs').LayersModel, seed: number) {
  const r = rng(seed);
  const names = model.weights.map((v) => v.name);
  expect(names.some((n) => /moving_variance/.test(n)) || !model.layers.some((l) => l.getClassName() === 'BatchNormalization')).toBe(true);
  model.setWeights(
    model.getWeights().map((w, k) => {
      const positive = /variance/.test(names[k]);
      return tf.tensor(
        Array.from({ length: w.size }, () => (positive ? 0.5 + r() : (r() * 2 - 1) * 0.6)),
        w.shape,
      );
    }),
  );
}

const architectures: Record<string, (seed: number) => import('@tensorflow/tfjs').LayersModel> = {
  lenet: () =>
    tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [9, 9, 1], filters: 3, kernelSize: 3, strides: 2, activation: 'relu', name: 'conv' }),
        tf.layers.maxPooling2d({ poolSize: 2, name: 'pool' }),
        tf.layers.flatten({ name: 'flat' }),
        tf.layers.dense({ units: 4, name: 'logits' }),
      ],
    }),
  sameBnRelu6: () =>
    tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [6, 7, 2], filters: 3, kernelSize: [3, 2], padding: 'same', name: 'conv_same' }),
        tf.layers.batchNormalization({ name: 'bn' }),
        tf.layers.reLU({ maxValue: 6, name: 'relu6' }),
        tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', strides: 2, activation: 'relu', name: 'dw' }),
        tf.layers.averagePooling2d({ poolSize: 2, strides: 1, name: 'avg' }),
        tf.layers.flatten({ name: 'flat' }),
        tf.layers.dense({ units: 3, name: 'logits' }),
      ],
    }),
  globalPool: () =>
    tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [5, 5, 2], filters: 4, kernelSize: 2, activation: 'relu', name: 'conv' }),
        tf.layers.globalAveragePooling2d({ name: 'gap' }),
        tf.layers.dense({ units: 5, activation: 'relu', name: 'hidden' }),
        tf.layers.dense({ units: 3, activation: 'softmax', name: 'probs' }),
      ],
    }),
};

function randomImages(n: number, shape: number[], seed: number): number[][] {
  const r = rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const out = Array.from({ length: n }, () => Array.from({ length: size }, () => Math.floor(r() * 256)));
  return [...out, new Array(size).fill(0), new Array(size).fill(255)];
}

describe('tfjs convolutional import', () => {
  for (const [name, build] of Object.entries(architectures)) {
    it(`${name}: runFloat of the import equals tfjs predict`, async () => {
      const model = build(1);
      randomize(model, name.length);
      const imported: FloatModel = await loadTfjsLayersModel(await save(model, name));
      const shape = imported.inputShape;
      for (const x of randomImages(5, shape, 3)) {
        const real = x.map((v) => v / 255);
        const expected = Array.from((model.predict(tf.tensor([real]).reshape([1, ...shape])) as import('@tensorflow/tfjs').Tensor).dataSync());
        let ours = Array.from(runFloat(imported, real));
        if (name === 'globalPool') {
          // The import replaces the final softmax by argmax over logits: compare the softmax of ours.
          const m = Math.max(...ours);
          const e = ours.map((v) => Math.exp(v - m));
          ours = e.map((v) => v / e.reduce((a, b) => a + b, 0));
        }
        ours.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 4));
      }
    });
  }

  it('names unsupported convolution options', async () => {
    const dilated = tf.sequential({
      layers: [tf.layers.conv2d({ inputShape: [6, 6, 1], filters: 2, kernelSize: 2, dilationRate: 2, name: 'dil' }), tf.layers.flatten(), tf.layers.dense({ units: 2 })],
    });
    await expect(loadTfjsLayersModel(await save(dilated, 'dilated'))).rejects.toThrow(/layer dil \(Conv2D\): dilation_rate 2x2 is not supported/);
    const samePool = tf.sequential({
      layers: [tf.layers.maxPooling2d({ inputShape: [5, 5, 1], poolSize: 2, padding: 'same', name: 'sp' }), tf.layers.flatten(), tf.layers.dense({ units: 2 })],
    });
    await expect(loadTfjsLayersModel(await save(samePool, 'samepool'))).rejects.toThrow(/layer sp \(MaxPooling2D\): padding same is not supported/);
    const tanh = tf.sequential({
      layers: [tf.layers.conv2d({ inputShape: [4, 4, 1], filters: 2, kernelSize: 2, activation: 'tanh', name: 'ct' }), tf.layers.flatten(), tf.layers.dense({ units: 2 })],
    });
    await expect(loadTfjsLayersModel(await save(tanh, 'tanh'))).rejects.toThrow(/layer ct \(Conv2D\): activation 'tanh' is not supported/);
  });
});

describe('convolutional circuits equal the reference', () => {
  async function quantized(name: string): Promise<{ q: QuantizedModel; inputs: number[][] }> {
    const model = architectures[name](1);
    randomize(model, name.length);
    const imported = await loadTfjsLayersModel(await save(model, `${name}-q`));
    const calibration = randomImages(20, imported.inputShape, 5);
    return { q: quantizeModel(imported, calibration, { inputBits: 8, inputScale: 1 / 255 }), inputs: randomImages(8, imported.inputShape, 9) };
  }

  for (const name of Object.keys(architectures)) {
    it(`${name}: witness logits and class equal runQuantized`, async () => {
      const { q, inputs } = await quantized(name);
      const compiled = await compileModel(q, { artifactsDir: dir });
      for (const x of inputs) {
        const w = await computeWitness(compiled.circuit.wasmPath, { x });
        const ref = runQuantized(q, x);
        expect(w.slice(1, 1 + q.output.size).map((v) => Number(fieldToSigned(v)))).toEqual(ref.logits);
        expect(Number(w[1 + compiled.layout.classIndex])).toBe(ref.predicted);
      }
    });
  }

  it('maxpool ties and all-equal windows pick the common maximum', async () => {
    const { q } = await quantized('lenet');
    const compiled = await compileModel(q, { artifactsDir: dir });
    const flat = new Array(81).fill(128);
    const w = await computeWitness(compiled.circuit.wasmPath, { x: flat });
    expect(w.slice(1, 5).map((v) => Number(fieldToSigned(v)))).toEqual(runQuantized(q, flat).logits);
  });
});
