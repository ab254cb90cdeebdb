import path from 'node:path';
import { ZkinferError } from '../util/errors.js';
import { PACKAGE_ROOT, readJsonFile } from '../util/fs.js';
import { loadMnistSplit } from './mnist.js';
import { loadOnnxModel } from './onnx.js';
import { loadTfjsLayersModel } from './tfjsLayers.js';
import type { FloatModel } from './types.js';

/**
 * The model stage: a float model plus what quantization needs to know about its inputs (integer range and
 * scale) and the calibration samples that set its activation scales.
 */
export interface ModelSource {
  float: FloatModel;
  /** Integer inputs (the prover's kind of input) used to calibrate activation scales. */
  calibration: ArrayLike<number>[];
  inputBits: number;
  inputScale: number;
  labels?: string[];
}

/** Models shipped in the repository, trained by the project's own scripts. */
/** modelJson: the model file (a tfjs model.json, or an ONNX file for graph-pipeline-only models). */
export const BUNDLED_MODELS: Record<string, { modelJson: string; description: string; graphOnly?: boolean }> = {
  mlp: { modelJson: 'models/mnist-mlp/model.json', description: 'MNIST digits MLP 784-32-10, trained by npm run train:mnist' },
  cnn: {
    modelJson: 'models/mnist-cnn/model.json',
    description: 'MNIST digits LeNet-style CNN: conv 6x5x5/2 relu, maxpool 2, dense 10; npm run train:mnist -- --arch cnn',
  },
  transformer: {
    modelJson: 'models/mnist-transformer/model.onnx',
    description: 'MNIST rows as 14 tokens: embedding + positions, one self-attention block (width 16), feed-forward, dense 10; npm run train:transformer',
    graphOnly: true,
  },
  lenet: {
    modelJson: 'models/mnist-lenet/model.json',
    description: 'MNIST LeNet-5: conv 6@5x5 relu, maxpool 2, conv 16@5x5 relu, maxpool 2, dense 120, 84, 10; npm run train:mnist -- --arch lenet',
    graphOnly: true,
  },
};
/** The bundled models the layer pipeline reads (tfjs Dense/Conv models); the others are graph-only. */
export const LAYER_BUNDLED_MODELS = Object.keys(BUNDLED_MODELS).filter((k) => !BUNDLED_MODELS[k].graphOnly);
export const DEFAULT_MODEL = 'mlp';
/** Training samples used for calibration: enough to see typical activation maxima, quick to run. */
export const MNIST_CALIBRATION_SAMPLES = 1000;

export interface LoadOptions {
  /** JSON file with an array of integer input vectors, for models other than the bundled ones. */
  calibrationFile?: string;
  inputBits?: number;
  inputScale?: number;
  labels?: string[];
}

export async function loadModelSource(spec: string = DEFAULT_MODEL, options: LoadOptions = {}): Promise<ModelSource> {
  const bundled = BUNDLED_MODELS[spec];
  if (bundled) {
    if (bundled.graphOnly)
      throw new ZkinferError('BAD_INPUT', `the bundled ${spec} model runs on the graph pipeline only (zkinfer's CLI and src/graph), not on the layer pipeline of buildModel`);
    const float = await loadTfjsLayersModel(path.join(PACKAGE_ROOT, bundled.modelJson));
    const calibration = loadMnistSplit()
      .train.slice(0, MNIST_CALIBRATION_SAMPLES)
      .map((s) => s.pixels);
    return { float, calibration, inputBits: 8, inputScale: 1 / 255, labels: Array.from({ length: 10 }, (_, i) => String(i)) };
  }
  if (!spec.endsWith('.json') && !spec.endsWith('.onnx')) {
    throw new ZkinferError('NOT_FOUND', `unknown model '${spec}': use one of ${Object.keys(BUNDLED_MODELS).join(', ')}, a tfjs model.json or an .onnx file`);
  }
  const float = spec.endsWith('.onnx') ? await loadOnnxModel(path.resolve(spec)) : await loadTfjsLayersModel(path.resolve(spec));
  if (!options.calibrationFile) {
    throw new ZkinferError('BAD_INPUT', 'a custom model needs --calibration FILE: a JSON array of integer input vectors');
  }
  const calibration = await readJsonFile(options.calibrationFile, 'calibration data', 'BAD_INPUT');
  if (!Array.isArray(calibration) || calibration.length === 0 || !calibration.every(Array.isArray)) {
    throw new ZkinferError('BAD_INPUT', `calibration data ${options.calibrationFile} must be a non-empty array of input arrays`);
  }
  return {
    float,
    calibration: calibration as number[][],
    inputBits: options.inputBits ?? 8,
    inputScale: options.inputScale ?? 1 / 255,
    labels: options.labels,
  };
}
