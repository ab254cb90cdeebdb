import { fail, ZkinferError } from '../util/errors.js';
import { gatherSources, layerGraphError, layerSources, outputLength, runFloatLayer, type FloatLayer, type FloatModel } from '../model/types.js';
import { EXACT_LIMIT, modelBounds } from './bounds.js';
import { QMODEL_FORMAT, QMODEL_VERSION, type QLayer, type QRequant, type QuantizedModel } from './types.js';

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

/** Multipliers M[c] and one shift with M[c] / 2^shift ~ ratios[c], the largest M within `bits` bits. */
function fixedPoint(ratios: number[], bits: number): { multipliers: number[]; shift: number } {
  const shift = Math.max(0, Math.floor(Math.log2((2 ** bits - 1) / Math.max(...ratios))));
  return { multipliers: ratios.map((r) => Math.max(1, Math.round(r * 2 ** shift))), shift };
}

/** Symmetric int8 weights with one scale per output channel (or one per layer when perLayer). */
function quantizeWeights(kernel: Float32Array, channels: number, perLayer: boolean): { weights: number[]; scales: number[] } {
  const channelMax = new Array<number>(channels).fill(0);
  kernel.forEach((w, k) => (channelMax[k % channels] = Math.max(channelMax[k % channels], Math.abs(w))));
  const layerMax = Math.max(...channelMax);
  const scales = channelMax.map((m) => ((perLayer ? layerMax : m) > 0 ? (perLayer ? layerMax : m) / WEIGHT_MAX : 1));
  const weights = Array.from(kernel, (w, k) => Math.max(-WEIGHT_MAX, Math.min(WEIGHT_MAX, Math.round(w / scales[k % channels]))));
  return { weights, scales };
}

/** Dense kernels are stored input-major (Keras); the IR wants output-major rows. */
function denseRows(weights: number[], inputSize: number, outputSize: number): number[] {
  const rows = new Array<number>(inputSize * outputSize);
  for (let i = 0; i < inputSize; i++) for (let j = 0; j < outputSize; j++) rows[j * inputSize + i] = weights[i * outputSize + j];
  return rows;
}

/** Hidden dense/conv activations: relu/relu6 give unsigned tensors, linear a signed one. */
function activationOf(layer: FloatLayer, isLast: boolean): 'relu' | 'relu6' | 'linear' {
  const act = 'activation' in layer ? layer.activation : 'linear';
  if (isLast) return fail('UNSUPPORTED_LAYER', `layer ${layer.name} (${layer.kind}): the last layer must be Dense (its accumulators are the logits)`);
  return act;
}

/** What the quantizer knows of one tensor: its float values on the calibration set and its integer encoding. */
interface CalibratedTensor {
  acts: Float64Array[];
  /** Real value of one integer unit. */
  scale: number;
  /** Whether its integers may be negative (a linear layer's output). */
  signed: boolean;
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
  const outMax = 2 ** activationBits - 1;
  if (calibration.length === 0) fail('BAD_INPUT', 'quantization needs at least one calibration sample');
  const size = model.inputShape.reduce((a, b) => a * b, 1);

  // Float activations of the calibration set, layer by layer (the float model is the reference meaning).
  const acts: Float64Array[] = calibration.map((sample) => {
    if (sample.length !== size) fail('BAD_INPUT', `calibration sample has ${sample.length} values, expected ${size}`);
    return Float64Array.from(sample as ArrayLike<number>, (v) => v * options.inputScale);
  });

  const graphError = layerGraphError(model.layers, size);
  if (graphError) fail('BAD_MODEL', graphError);
  const tensors: CalibratedTensor[] = [{ acts, scale: options.inputScale, signed: false }];
  const layers: QLayer[] = [];
  model.layers.forEach((layer, index) => {
    const isLast = index === model.layers.length - 1;
    const sources = layerSources(layer, index).map((t) => tensors[t]);
    const inScale = sources[0].scale;
    const next = calibration.map((_, k) =>
      runFloatLayer(
        layer,
        gatherSources(
          layer,
          index,
          tensors.map((t) => t.acts[k]),
        ),
      ),
    );
    const from = layer.kind !== 'add' && layer.from !== undefined ? { from: layer.from } : {};
    // Output scale of a hidden layer: the calibrated maximum (relu6 never exceeds 6; linear: of |value|)
    // over the largest integer the output may take.
    const calibratedScale = (act: 'relu' | 'relu6' | 'linear') => {
      const all = new Float64Array(next.length * outputLength(layer));
      next.forEach((y, k) => all.set(act === 'linear' ? y.map(Math.abs) : y, k * y.length));
      let top = clipFraction > 0 ? quantile(all, 1 - clipFraction) : all.reduce((m, v) => Math.max(m, v), 0);
      if (act === 'relu6') top = Math.min(top, 6);
      return (top > 0 ? top : 1) / (act === 'linear' ? 2 ** (activationBits - 1) - 1 : outMax); // a dead layer: any scale represents its zeros
    };
    const requantFor = (accScales: number[], act: 'relu' | 'relu6' | 'linear'): QRequant => {
      const outScale = calibratedScale(act);
      return {
        ...fixedPoint(
          accScales.map((s) => s / outScale),
          multiplierBits,
        ),
        activation: act,
        outBits: activationBits,
        outScale,
      };
    };
    const bias = (b: Float32Array, accScales: number[]) =>
      Array.from(b, (v, c) => {
        const q = Math.round(v / accScales[c]);
        if (Math.abs(q) >= EXACT_LIMIT) fail('BAD_MODEL', `layer ${layer.name}: bias too large to quantize`);
        return q;
      });
    let out: Omit<CalibratedTensor, 'acts'>;

    switch (layer.kind) {
      case 'dense': {
        const { weights, scales } = quantizeWeights(layer.kernel, layer.outputSize, isLast);
        const accScales = scales.map((s) => inScale * s);
        const base = { kind: 'dense' as const, name: layer.name, ...from, inputSize: layer.inputSize, outputSize: layer.outputSize };
        const rows = denseRows(weights, layer.inputSize, layer.outputSize);
        if (isLast) {
          if (layer.activation !== 'linear') fail('UNSUPPORTED_LAYER', `last layer ${layer.name}: activation ${layer.activation} on the logits is not supported`);
          layers.push({ ...base, weights: rows, bias: bias(layer.bias, accScales), weightScales: scales, requant: null });
          out = { scale: accScales[0], signed: true };
        } else {
          const requant = requantFor(accScales, layer.activation);
          layers.push({ ...base, weights: rows, bias: bias(layer.bias, accScales), weightScales: scales, requant });
          out = { scale: requant.outScale, signed: requant.activation === 'linear' };
        }
        break;
      }
      case 'conv2d': {
        const act = activationOf(layer, isLast);
        const { kernelSize, strides, pads, depthwise, inShape, outShape } = layer;
        const { weights, scales } = quantizeWeights(layer.kernel, outShape[2], false);
        const accScales = scales.map((s) => inScale * s);
        const requant = requantFor(accScales, act);
        layers.push({
          kind: 'conv2d',
          name: layer.name,
          ...from,
          inShape,
          outShape,
          kernelSize,
          strides,
          pads,
          depthwise,
          weights,
          bias: bias(layer.bias, accScales),
          weightScales: scales,
          requant,
        });
        out = { scale: requant.outScale, signed: act === 'linear' };
        break;
      }
      case 'add': {
        activationOf(layer, isLast);
        // Both inputs non-negative: the sum is too, so a linear add is exactly the unsigned clamp.
        const signed = layer.activation === 'linear' && sources.some((t) => t.signed);
        const act = layer.activation === 'linear' && !signed ? 'relu' : layer.activation;
        const outScale = calibratedScale(act);
        // Wa / 2^shift ~ scale(a) / outScale and likewise b: one shift aligns both scales to the output's.
        const { multipliers, shift } = fixedPoint([sources[0].scale / outScale, sources[1].scale / outScale], multiplierBits);
        const requant: QRequant = { multipliers: [1], shift, activation: act, outBits: activationBits, outScale };
        layers.push({ kind: 'add', name: layer.name, inputs: [...layer.inputs], size: layer.size, weights: [multipliers[0], multipliers[1]], requant });
        out = { scale: outScale, signed };
        break;
      }
      case 'maxpool':
      case 'avgpool':
      case 'globalavgpool': {
        activationOf(layer, isLast);
        const signed = sources[0].signed;
        if (layer.kind === 'maxpool' && signed) {
          fail('UNSUPPORTED_LAYER', `layer ${layer.name} (maxpool) reads a signed tensor (a layer without relu): put the max pool after a relu`);
        }
        // Pools keep the scale; an average is a sum times M / 2^shift ~ 1 / window size.
        const channels = layer.inShape[2];
        const count = layer.kind === 'globalavgpool' ? layer.inShape[0] * layer.inShape[1] : layer.poolSize[0] * layer.poolSize[1];
        const average: QRequant = {
          ...fixedPoint(new Array(channels).fill(1 / count), multiplierBits),
          activation: signed ? 'linear' : 'relu',
          outBits: activationBits,
          outScale: inScale,
        };
        if (layer.kind === 'globalavgpool') layers.push({ kind: 'globalavgpool', name: layer.name, ...from, inShape: layer.inShape, requant: average });
        else
          layers.push({
            kind: layer.kind,
            name: layer.name,
            ...from,
            inShape: layer.inShape,
            outShape: layer.outShape,
            poolSize: layer.poolSize,
            strides: layer.strides,
            requant: layer.kind === 'avgpool' ? average : null,
          });
        out = { scale: inScale, signed };
        break;
      }
    }
    tensors.push({ acts: next, ...out! });
  });

  const qmodel: QuantizedModel = {
    format: QMODEL_FORMAT,
    version: QMODEL_VERSION,
    name: model.name,
    input: { shape: [...model.inputShape], bits: options.inputBits, scale: options.inputScale },
    layers,
    output: { size: outputLength(model.layers[model.layers.length - 1]), logitScale: tensors[tensors.length - 1].scale, labels: options.labels },
    notes: [...model.notes],
  };
  try {
    modelBounds(qmodel); // throws if any intermediate could leave exact integer arithmetic
  } catch (err) {
    throw withLargestWeight(err, model);
  }
  return qmodel;
}

/** Name the extreme float weight (at least 1e6) behind an overflow, usually a corrupt or unscaled value. */
function withLargestWeight(err: unknown, model: FloatModel): unknown {
  const m = err instanceof ZkinferError ? /^layer (.+?): .*beyond exact arithmetic/.exec(err.message) : null;
  const layer = m ? model.layers.find((l) => l.name === m[1]) : undefined;
  if (!layer) return err;
  let best: { what: string; index: number; value: number } | undefined;
  for (const what of ['kernel', 'bias'] as const) {
    const data = (layer as { kernel?: Float32Array; bias?: Float32Array })[what];
    if (!data) continue;
    for (let i = 0; i < data.length; i++) if (Math.abs(data[i]) > Math.abs(best?.value ?? 0)) best = { what, index: i, value: data[i] };
  }
  if (!best || Math.abs(best.value) < 1e6) return err;
  return new ZkinferError((err as ZkinferError).code, `${(err as Error).message} (its largest weight is ${best.what}[${best.index}] = ${best.value.toPrecision(3)})`);
}
