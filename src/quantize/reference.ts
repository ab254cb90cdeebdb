import { ZkinferError } from '../util/errors.js';
import { inputSize, type QuantizedModel } from './types.js';

/**
 * The TypeScript reference of the integer semantics documented in types.ts. The circuit must agree with
 * it bit for bit; tests compare the two on real data. Arithmetic is exact: bounds.ts proves every
 * intermediate stays below 2^52, where float64 represents integers exactly.
 */
export interface QuantizedResult {
  logits: number[];
  predicted: number;
  /** Output of every hidden layer, for debugging and for the circuit comparison tests. */
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

export function runQuantized(model: QuantizedModel, input: ArrayLike<number>): QuantizedResult {
  let x = validateInput(model, Array.from(input));
  const hidden: number[][] = [];
  for (const layer of model.layers) {
    const y = new Array<number>(layer.outputSize);
    for (let j = 0; j < layer.outputSize; j++) {
      let acc = layer.bias[j];
      const row = j * layer.inputSize;
      for (let i = 0; i < layer.inputSize; i++) acc += layer.weights[row + i] * x[i];
      if (layer.requant) {
        const { multipliers, shift, outBits } = layer.requant;
        const half = shift > 0 ? 2 ** (shift - 1) : 0;
        const q = Math.floor((acc * multipliers[j] + half) / 2 ** shift);
        y[j] = Math.min(Math.max(q, 0), 2 ** outBits - 1);
      } else {
        y[j] = acc;
      }
    }
    if (layer.requant) hidden.push(y);
    x = y;
  }
  return { logits: x, predicted: argmaxFirst(x), hidden };
}
