import type { FloatDense, FloatModel } from '../../src/model/types.js';
import type { QuantizedModel } from '../../src/quantize/types.js';

export type DenseModel = Omit<FloatModel, 'layers'> & { layers: FloatDense[] };

/** Deterministic pseudo-random numbers for test models and inputs (tests must be reproducible). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A small random float MLP: sizes [in, h1, ..., out], relu on hidden layers. */
export function randomFloatModel(sizes: number[], seed: number, name = 'random'): DenseModel {
  const r = rng(seed);
  const layers = sizes.slice(1).map((outputSize, l) => {
    const inputSize = sizes[l];
    return {
      kind: 'dense' as const,
      name: `dense${l}`,
      inputSize,
      outputSize,
      kernel: Float32Array.from({ length: inputSize * outputSize }, () => (r() * 2 - 1) / Math.sqrt(inputSize)),
      bias: Float32Array.from({ length: outputSize }, () => (r() - 0.5) * 0.2),
      activation: (l === sizes.length - 2 ? 'linear' : 'relu') as 'linear' | 'relu',
    };
  });
  return { name, inputShape: [sizes[0]], layers, notes: [] };
}

export function randomInputs(n: number, size: number, bits: number, seed: number): number[][] {
  const r = rng(seed);
  const max = 2 ** bits - 1;
  return Array.from({ length: n }, () => Array.from({ length: size }, () => Math.floor(r() * (max + 1))));
}

/** Write a FloatModel of Dense layers as a tfjs Layers model (model.json + weights.bin), as tfjs saves one. */
/**
 * The zkinfer metadata of an 8-bit-pixel classifier (src/graph/metadata.ts): what the layer pipeline
 * assumes of every tfjs model, declared so that the graph pipeline reads the same model the same way.
 */
export function pixelClassifierMetadata(classes: number): Record<string, unknown> {
  return { zkinfer: { inputEncoding: [{ bits: 8, signed: false, scale: 1 / 255 }], classLabels: Array.from({ length: classes }, (_, i) => String(i)) } };
}

export async function writeTfjsModel(
  dir: string,
  model: DenseModel,
  metadata: Record<string, unknown> | null = pixelClassifierMetadata(model.layers[model.layers.length - 1].outputSize),
): Promise<string> {
  const { mkdir, writeFile } = await import('node:fs/promises');
  const path = await import('node:path');
  await mkdir(dir, { recursive: true });
  const layers = model.layers.map((l, i) => ({
    class_name: 'Dense',
    config: {
      name: l.name,
      units: l.outputSize,
      activation: l.activation,
      use_bias: true,
      ...(i === 0 ? { batch_input_shape: [null, ...model.inputShape] } : {}),
    },
  }));
  const weights = model.layers.flatMap((l) => [
    { name: `${l.name}/kernel`, shape: [l.inputSize, l.outputSize], dtype: 'float32' },
    { name: `${l.name}/bias`, shape: [l.outputSize], dtype: 'float32' },
  ]);
  const bin = Buffer.concat(model.layers.flatMap((l) => [Buffer.from(l.kernel.buffer.slice(0)), Buffer.from(l.bias.buffer.slice(0))]));
  const json = {
    format: 'layers-model',
    modelTopology: { class_name: 'Sequential', config: { name: model.name, layers } },
    ...(metadata ? { userDefinedMetadata: metadata } : {}),
    weightsManifest: [{ paths: ['weights.bin'], weights }],
  };
  await writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
  await writeFile(path.join(dir, 'weights.bin'), bin);
  return path.join(dir, 'model.json');
}

/**
 * A hand-built quantized model small enough to check by hand: ties between logits (first index wins), a
 * clamped unit, negative accumulators, and a requantization whose quotient needs no clamp (h >= n - 1).
 */
export const TINY_MODEL: QuantizedModel = {
  format: 'zkinfer-qmodel',
  version: 1,
  name: 'tiny',
  input: { shape: [2], bits: 8, scale: 1 },
  layers: [
    {
      kind: 'dense',
      name: 'h',
      inputSize: 2,
      outputSize: 3,
      weights: [3, -2, -1, 1, 0, 0],
      bias: [5, -7, 3],
      weightScales: [1, 1, 1],
      requant: { multipliers: [3, 1, 1], shift: 2, activation: 'relu', outBits: 8, outScale: 1 },
    },
    { kind: 'dense', name: 'o', inputSize: 3, outputSize: 3, weights: [1, 0, 0, 0, 1, 0, 0, 0, 1], bias: [0, 0, 0], weightScales: [1, 1, 1], requant: null },
  ],
  output: { size: 3, logitScale: 1 },
  notes: [],
};
export const TINY_INPUTS = [
  [10, 4],
  [255, 0],
  [0, 8],
  [0, 10],
  [0, 0],
  [255, 255],
  [1, 2],
  [100, 151],
];
