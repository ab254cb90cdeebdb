/**
 * Residual tfjs models for the importer tests (test/residualTfjs.test.ts, test/residualOnnx.test.ts): built
 * with tfjs's functional API, given seeded random weights, and saved as model.json + weights.bin the way
 * tfjs saves them.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type * as tfjs from '@tensorflow/tfjs';
import { loadTf } from '../../src/model/tf.js';
import { rng } from './models.js';

type Tf = Awaited<ReturnType<typeof loadTf>>['tf'];
type SymbolicTensor = tfjs.SymbolicTensor;

/** Save a tfjs model as model.json + weights.bin in `dir` (tfjs-node's file:// handler is not available). */
export async function saveTfjs(tf: Tf, model: tfjs.LayersModel, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      await writeFile(path.join(dir, 'weights.bin'), new Uint8Array(tf.io.CompositeArrayBuffer.join(a.weightData!)));
      await writeFile(
        path.join(dir, 'model.json'),
        JSON.stringify({ format: 'layers-model', modelTopology: a.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }] }),
      );
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return path.join(dir, 'model.json');
}

/** Seeded random weights (BatchNorm variances positive), large enough that relus both clip and pass. */
export function randomizeWeights(tf: Tf, model: tfjs.LayersModel, seed: number): void {
  const r = rng(seed);
  const names = model.weights.map((v) => v.name);
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

const apply = (layer: tfjs.layers.Layer, x: SymbolicTensor | SymbolicTensor[]) => layer.apply(x) as SymbolicTensor;

/** The residual architectures of the tests, by name. */
export function residualArchitectures(tf: Tf): Record<string, () => tfjs.LayersModel> {
  const L = tf.layers;
  return {
    /** conv relu -> conv linear -> add(first conv) -> relu -> maxpool -> flatten -> dense 10. */
    identity: () => {
      const x = tf.input({ shape: [8, 8, 1], name: 'img' });
      const c1 = apply(L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c1' }), x);
      const c2 = apply(L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'c2' }), c1);
      const sum = apply(L.add({ name: 'sum' }), [c2, c1]);
      const act = apply(L.activation({ activation: 'relu', name: 'sum_relu' }), sum);
      const pool = apply(L.maxPooling2d({ poolSize: 2, name: 'pool' }), act);
      const flat = apply(L.flatten({ name: 'flat' }), pool);
      return tf.model({ inputs: x, outputs: apply(L.dense({ units: 10, name: 'logits' }), flat), name: 'res_identity' });
    },
    /**
     * Projection shortcut (1x1 conv on the skip), a separate ReLU layer read by both the branch and nothing
     * else, BatchNormalization in the branch, a Dropout on the skip, ReLU6 after the add.
     */
    projection: () => {
      const x = tf.input({ shape: [8, 8, 2], name: 'img' });
      const c1 = apply(L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'c1' }), x);
      const r1 = apply(L.reLU({ name: 'c1_relu' }), c1);
      const c2 = apply(L.conv2d({ filters: 6, kernelSize: 3, padding: 'same', useBias: false, name: 'c2' }), r1);
      const bn = apply(L.batchNormalization({ name: 'c2_bn' }), c2);
      const proj = apply(L.conv2d({ filters: 6, kernelSize: 1, name: 'proj' }), apply(L.dropout({ rate: 0.5, name: 'skip_drop' }), r1));
      const sum = apply(L.add({ name: 'sum' }), [bn, proj]);
      const act = apply(L.reLU({ maxValue: 6, name: 'sum_relu6' }), sum);
      const pool = apply(L.maxPooling2d({ poolSize: 2, name: 'pool' }), act);
      return tf.model({ inputs: x, outputs: apply(L.dense({ units: 10, name: 'logits' }), apply(L.flatten({ name: 'flat' }), pool)), name: 'res_projection' });
    },
    /** dense 16 relu -> dense 16 linear -> add -> relu -> dense 4. */
    mlp: () => {
      const x = tf.input({ shape: [12], name: 'vec' });
      const d1 = apply(L.dense({ units: 16, activation: 'relu', name: 'd1' }), x);
      const d2 = apply(L.dense({ units: 16, name: 'd2' }), d1);
      const sum = apply(L.add({ name: 'sum' }), [d1, d2]);
      const act = apply(L.activation({ activation: 'relu', name: 'sum_relu' }), sum);
      return tf.model({ inputs: x, outputs: apply(L.dense({ units: 4, name: 'logits' }), act), name: 'res_mlp' });
    },
  };
}

export async function loadTfModule(): Promise<Tf> {
  return (await loadTf()).tf;
}

/** tfjs predict on one channels-last sample. */
export function predict(tf: Tf, model: tfjs.LayersModel, x: ArrayLike<number>): Float32Array {
  const shape = (model.inputs[0].shape as number[]).slice(1);
  return tf.tidy(() => (model.predict(tf.tensor(Array.from(x), [1, ...shape])) as tfjs.Tensor).dataSync() as Float32Array);
}
