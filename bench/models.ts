/**
 * The models the benchmark measures: every bundled model plus a sweep of MLP widths 784-W-10 with random
 * weights (cost depends on shapes and bit widths, not on accuracy), all quantized by the project's own
 * quantizer on the same MNIST calibration digits as the bundled model.
 */
import { loadModelSource, MNIST_CALIBRATION_SAMPLES } from '../src/model/index.js';
import { loadMnistSplit, MNIST_PIXELS } from '../src/model/mnist.js';
import { quantizeModel } from '../src/quantize/quantize.js';
import type { QDense, QuantizedModel } from '../src/quantize/types.js';
import type { FloatConv2D, FloatModel, Shape3 } from '../src/model/types.js';
import { randomFloatModel, rng } from '../test/helpers/models.js';

export type Impl = 'zkinfer' | 'baseline';

export interface Variant {
  /** 'mlp' / 'cnn' for the bundled models, 'w<width>' for the sweep. */
  id: string;
  description: string;
  /** The baseline emitter builds dense layers only (circomlib-ml's Conv2D is another construction). */
  baseline: boolean;
}

export const BUNDLED_VARIANTS = ['mlp', 'cnn'];
export const FULL_WIDTHS = [16, 32, 64, 128];
export const QUICK_WIDTHS = [16];

export function variantsFor(widths: number[]): Variant[] {
  return [
    ...BUNDLED_VARIANTS.map((id) => ({ id, description: `bundled ${id}`, baseline: id !== 'cnn' })),
    ...widths.map((w) => ({ id: `w${w}`, description: `random 784-${w}-10`, baseline: true })),
  ];
}

const LABELS = Array.from({ length: 10 }, (_, i) => String(i));

/** The quantized model of a variant and how long quantization took (deterministic for a given id). */
export async function quantizedVariant(id: string): Promise<{ qmodel: QuantizedModel; quantizeSeconds: number }> {
  if (BUNDLED_VARIANTS.includes(id)) {
    const source = await loadModelSource(id);
    const t = performance.now();
    const qmodel = quantizeModel(source.float, source.calibration, { inputBits: source.inputBits, inputScale: source.inputScale, labels: source.labels });
    return { qmodel, quantizeSeconds: (performance.now() - t) / 1000 };
  }
  const m = /^w(\d+)$/.exec(id);
  if (!m) throw new Error(`unknown benchmark model ${id}`);
  const width = Number(m[1]);
  const float = randomFloatModel([MNIST_PIXELS, width, 10], 1000 + width, `random-784-${width}-10`);
  const calibration = loadMnistSplit()
    .train.slice(0, MNIST_CALIBRATION_SAMPLES)
    .map((s) => s.pixels);
  const t = performance.now();
  const qmodel = quantizeModel(float, calibration, { inputBits: 8, inputScale: 1 / 255, labels: LABELS });
  return { qmodel, quantizeSeconds: (performance.now() - t) / 1000 };
}

/** Weights plus biases of the float model the quantized one came from (pools have none). */
export function parameterCount(q: QuantizedModel): number {
  return q.layers.reduce((n, l) => n + (l.kind === 'dense' || l.kind === 'conv2d' ? l.weights.length + l.bias.length : 0), 0);
}

/** 784-32-10 for an MLP; a CNN lists its layers: 28x28x1 conv6k5s2 maxpool2 10. */
export function layerShape(q: QuantizedModel): string {
  if (q.layers.every((l) => l.kind === 'dense')) {
    const dense = q.layers as QDense[];
    return [dense[0].inputSize, ...dense.map((l) => l.outputSize)].join('-');
  }
  const parts = q.layers.map((l) => {
    switch (l.kind) {
      case 'dense':
        return String(l.outputSize);
      case 'conv2d':
        return `${l.depthwise ? 'dwconv' : 'conv'}${l.outShape[2]}k${l.kernelSize.join('x')}s${l.strides[0]}`;
      case 'maxpool':
      case 'avgpool':
        return `${l.kind}${l.poolSize[0]}`;
      default:
        return l.kind;
    }
  });
  return [q.input.shape.join('x'), ...parts].join(' ');
}

/**
 * A residual CNN at MNIST size with random weights (its cost depends on shapes and bit widths, not on
 * accuracy), for the per-layer cost table: conv 4x3x3/2 relu -> conv 4x3x3 same, linear -> add (skip
 * from the first conv) relu -> maxpool 2 -> dense 10.
 */
export function residualExample(): QuantizedModel {
  const r = rng(2026);
  const weights = (n: number, fanIn: number) => Float32Array.from({ length: n }, () => ((r() * 2 - 1) * 1.5) / Math.sqrt(fanIn));
  const conv = (name: string, inShape: Shape3, outShape: Shape3, stride: number, pad: number, activation: 'relu' | 'linear'): FloatConv2D => ({
    kind: 'conv2d',
    name,
    inShape,
    outShape,
    kernelSize: [3, 3],
    strides: [stride, stride],
    pads: [pad, pad, pad, pad],
    depthwise: false,
    kernel: weights(9 * inShape[2] * outShape[2], 9 * inShape[2]),
    bias: weights(outShape[2], 9),
    activation,
  });
  const float: FloatModel = {
    name: 'residual-example',
    inputShape: [28, 28, 1],
    notes: [],
    layers: [
      conv('conv0', [28, 28, 1], [13, 13, 4], 2, 0, 'relu'),
      conv('conv1', [13, 13, 4], [13, 13, 4], 1, 1, 'linear'),
      { kind: 'add', name: 'residual', inputs: [1, 2], size: 13 * 13 * 4, activation: 'relu' },
      { kind: 'maxpool', name: 'pool', inShape: [13, 13, 4], outShape: [6, 6, 4], poolSize: [2, 2], strides: [2, 2] },
      { kind: 'dense', name: 'logits', inputSize: 144, outputSize: 10, kernel: weights(1440, 144), bias: weights(10, 144), activation: 'linear' },
    ],
  };
  const calibration = loadMnistSplit()
    .train.slice(0, MNIST_CALIBRATION_SAMPLES)
    .map((s) => s.pixels);
  return quantizeModel(float, calibration, { inputBits: 8, inputScale: 1 / 255, labels: LABELS });
}
