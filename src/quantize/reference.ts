import { gatherSources } from '../model/types.js';
import { ZkinferError } from '../util/errors.js';
import { linearForms, outputCount, poolWindow } from './linear.js';
import { inputSize, type QLayer, type QuantizedModel } from './types.js';

/**
 * The TypeScript reference of the integer semantics documented in types.ts. The circuit must agree with
 * it bit for bit; tests compare the two on real data. Arithmetic is exact: bounds.ts proves every
 * intermediate stays below 2^52, where float64 represents integers exactly.
 */
export interface QuantizedResult {
  logits: number[];
  predicted: number;
  /** Output of every layer before the last (tensors 1..L-1), for debugging and the circuit comparison tests. */
  hidden: number[][];
}

/** Check that an input is a flat vector of integers in the model's input range; throws a clear error. */
export function validateInput(model: QuantizedModel, input: unknown): number[] {
  const size = inputSize(model);
  if (!Array.isArray(input) && !(input instanceof Uint8Array)) {
    throw new ZkinferError('BAD_INPUT', `input must be an array of ${size} integers`);
  }
  const values = Array.from(input as ArrayLike<unknown>);
  if (values.length !== size) {
    throw new ZkinferError('BAD_INPUT', `input has ${values.length} values, the model expects ${size} (shape ${model.input.shape.join('x')})`);
  }
  const max = 2 ** model.input.bits - 1;
  values.forEach((v, i) => {
    if (typeof v !== 'number' || Number.isNaN(v)) throw new ZkinferError('BAD_INPUT', `input[${i}] is not a number (${String(v)})`);
    if (!Number.isInteger(v)) throw new ZkinferError('BAD_INPUT', `input[${i}] = ${v} is not an integer`);
    if (v < 0 || v > max) throw new ZkinferError('BAD_INPUT', `input[${i}] = ${v} is out of range [0, ${max}]`);
  });
  return values as number[];
}

export function argmaxFirst(values: number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** The integers a requantized output may take: [0, 2^b - 1], or signed [-2^(b-1), 2^(b-1) - 1] for linear. */
export function requantRange(requant: { activation: string; outBits: number }): { min: number; max: number } {
  const b = requant.outBits;
  return requant.activation === 'linear' ? { min: -(2 ** (b - 1)), max: 2 ** (b - 1) - 1 } : { min: 0, max: 2 ** b - 1 };
}

/** One layer on exact integers, on its gathered sources (an add reads [a; b]). */
export function runQuantizedLayer(layer: QLayer, x: ArrayLike<number>): number[] {
  const n = outputCount(layer);
  const y = new Array<number>(n);
  if (layer.kind === 'maxpool') {
    for (let o = 0; o < n; o++) y[o] = Math.max(...poolWindow(layer, o).map((i) => x[i]));
    return y;
  }
  const forms = linearForms(layer);
  for (let o = 0; o < n; o++) {
    const { channel, bias, terms } = forms[o];
    let acc = bias;
    for (const [i, w] of terms) acc += w * x[i];
    if (layer.requant) {
      const { multipliers, shift } = layer.requant;
      const half = shift > 0 ? 2 ** (shift - 1) : 0;
      const q = Math.floor((acc * multipliers[channel] + half) / 2 ** shift);
      const { min, max } = requantRange(layer.requant);
      y[o] = Math.min(Math.max(q, min), max);
    } else {
      y[o] = acc;
    }
  }
  return y;
}

export function runQuantized(model: QuantizedModel, input: ArrayLike<number>): QuantizedResult {
  const tensors: number[][] = [validateInput(model, Array.from(input))];
  model.layers.forEach((layer, l) => tensors.push(runQuantizedLayer(layer, gatherSources(layer, l, tensors))));
  const logits = tensors[tensors.length - 1];
  return { logits, predicted: argmaxFirst(logits), hidden: tensors.slice(1, -1) };
}
