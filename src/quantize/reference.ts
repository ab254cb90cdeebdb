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
  /** Output of every layer before the last, for debugging and for the circuit comparison tests. */
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

/** One layer on exact integers. */
export function runQuantizedLayer(layer: QLayer, x: number[]): number[] {
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
      const { multipliers, shift, outBits } = layer.requant;
      const half = shift > 0 ? 2 ** (shift - 1) : 0;
      const q = Math.floor((acc * multipliers[channel] + half) / 2 ** shift);
      y[o] = Math.min(Math.max(q, 0), 2 ** outBits - 1);
    } else {
      y[o] = acc;
    }
  }
  return y;
}

export function runQuantized(model: QuantizedModel, input: ArrayLike<number>): QuantizedResult {
  let x = validateInput(model, Array.from(input));
  const hidden: number[][] = [];
  model.layers.forEach((layer, l) => {
    x = runQuantizedLayer(layer, x);
    if (l < model.layers.length - 1) hidden.push(x);
  });
  return { logits: x, predicted: argmaxFirst(x), hidden };
}
