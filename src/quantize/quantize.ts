import { fail } from '../util/errors.js';
import type { FloatModel } from '../model/types.js';
import { EXACT_LIMIT, modelBounds } from './bounds.js';
import { QMODEL_FORMAT, QMODEL_VERSION, type QDense, type QuantizedModel } from './types.js';

export interface QuantizeOptions {
  /** Float input = integer input * inputScale (MNIST pixels: 1/255). */
  inputScale: number;
  /** Input integers lie in [0, 2^inputBits - 1]. */
  inputBits: number;
  /** Hidden activations are unsigned integers of this many bits. */
  activationBits?: number;
  /** Bits of precision of the largest requantization multiplier of a layer. */
  multiplierBits?: number;
  /** Fraction of the calibration activations that may clip (0 = scale to the observed maximum). */
  clipFraction?: number;
  labels?: string[];
}

const WEIGHT_MAX = 127; // int8, symmetric

function quantile(values: Float64Array, q: number): number {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1)))];
}

/**
 * Post-training quantization: int8 weights with per-output-channel scales, unsigned integer activations
 * with scales calibrated on data, requantization by an integer multiplier and a shift.
 * `calibration` holds integer inputs (the same integers the prover will be given).
 */
export function quantizeModel(model: FloatModel, calibration: ArrayLike<number>[], options: QuantizeOptions): QuantizedModel {
  const activationBits = options.activationBits ?? 8;
  const multiplierBits = options.multiplierBits ?? 10;
  const clipFraction = options.clipFraction ?? 0;
  if (calibration.length === 0) fail('BAD_INPUT', 'quantization needs at least one calibration sample');
  const size = model.inputShape.reduce((a, b) => a * b, 1);

  // Float activations of the calibration set, layer by layer (the float model is the reference meaning).
  let acts: Float64Array[] = calibration.map((sample) => {
    if (sample.length !== size) fail('BAD_INPUT', `calibration sample has ${sample.length} values, expected ${size}`);
    return Float64Array.from(sample as ArrayLike<number>, (v) => v * options.inputScale);
  });

  let inScale = options.inputScale;
  const layers: QDense[] = [];
  model.layers.forEach((layer, index) => {
    const isLast = index === model.layers.length - 1;
    const { inputSize, outputSize, kernel } = layer;
    if (!isLast && layer.activation !== 'relu') {
      fail('UNSUPPORTED_LAYER', `layer ${layer.name} (Dense): hidden layers need a relu activation (got ${layer.activation})`);
    }
    // Weight scales: per output channel for hidden layers; one per layer on the last, so logits share a scale.
    const channelMax = new Array<number>(outputSize).fill(0);
    for (let i = 0; i < inputSize; i++) {
      for (let j = 0; j < outputSize; j++) channelMax[j] = Math.max(channelMax[j], Math.abs(kernel[i * outputSize + j]));
    }
    const layerMax = Math.max(...channelMax);
    const weightScales = channelMax.map((m) => {
      const s = (isLast ? layerMax : m) / WEIGHT_MAX;
      return s > 0 ? s : 1;
    });
    const weights = new Array<number>(inputSize * outputSize);
    for (let j = 0; j < outputSize; j++) {
      for (let i = 0; i < inputSize; i++) {
        const q = Math.round(kernel[i * outputSize + j] / weightScales[j]);
        weights[j * inputSize + i] = Math.max(-WEIGHT_MAX, Math.min(WEIGHT_MAX, q));
      }
    }
    const accScales = weightScales.map((s) => inScale * s);
    const bias = Array.from(layer.bias, (b, j) => Math.round(b / accScales[j]));
    for (const b of bias) if (Math.abs(b) >= EXACT_LIMIT) fail('BAD_MODEL', `layer ${layer.name}: bias too large to quantize`);

    // Float outputs of this layer on the calibration set.
    const next = acts.map((x) => {
      const y = new Float64Array(outputSize);
      for (let j = 0; j < outputSize; j++) {
        let acc = layer.bias[j];
        for (let i = 0; i < inputSize; i++) acc += x[i] * kernel[i * outputSize + j];
        y[j] = layer.activation === 'relu' ? Math.max(0, acc) : acc;
      }
      return y;
    });

    if (isLast) {
      layers.push({ kind: 'dense', name: layer.name, inputSize, outputSize, weights, bias, weightScales, requant: null });
      inScale = accScales[0];
    } else {
      const all = new Float64Array(next.length * outputSize);
      next.forEach((y, k) => all.set(y, k * outputSize));
      let top = clipFraction > 0 ? quantile(all, 1 - clipFraction) : Math.max(...all);
      if (!(top > 0)) top = 1; // a dead layer: any scale represents its zeros
      const outMax = 2 ** activationBits - 1;
      const outScale = top / outMax;
      const ratios = accScales.map((s) => s / outScale);
      // Largest shift that keeps every multiplier within multiplierBits bits.
      const maxRatio = Math.max(...ratios);
      const shift = Math.max(0, Math.floor(Math.log2((2 ** multiplierBits - 1) / maxRatio)));
      const multipliers = ratios.map((r) => Math.max(1, Math.round(r * 2 ** shift)));
      layers.push({
        kind: 'dense',
        name: layer.name,
        inputSize,
        outputSize,
        weights,
        bias,
        weightScales,
        requant: { multipliers, shift, activation: 'relu', outBits: activationBits, outScale },
      });
      inScale = outScale;
    }
    acts = next;
  });

  const qmodel: QuantizedModel = {
    format: QMODEL_FORMAT,
    version: QMODEL_VERSION,
    name: model.name,
    input: { shape: [...model.inputShape], bits: options.inputBits, scale: options.inputScale },
    layers,
    output: { size: model.layers[model.layers.length - 1].outputSize, logitScale: inScale, labels: options.labels },
    notes: [...model.notes],
  };
  modelBounds(qmodel); // throws if any intermediate could leave exact integer arithmetic
  return qmodel;
}
