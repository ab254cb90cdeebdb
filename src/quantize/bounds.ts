import type { QDense, QuantizedModel } from './types.js';

/**
 * Static value ranges of every integer the model computes, over ALL valid inputs (not just the data).
 * The circuit sizes its range checks from these, so they must be true bounds: too small and an honest
 * proof becomes impossible for some input; they never affect soundness, which the gadgets carry.
 */
export interface Interval {
  min: number;
  max: number;
}

export interface DenseBounds {
  /** Range of acc[j] for each output j. */
  acc: Interval[];
  /** Hidden layers: range of acc*M + 2^(shift-1) over all outputs, and the signed bit width of the quotient. */
  scaled?: Interval;
  quotientBits?: number;
  /** Range of the layer's output values. */
  out: Interval[];
}

export interface ModelBounds {
  input: Interval;
  layers: DenseBounds[];
  /** Signed bit width b with every logit in [-2^(b-1), 2^(b-1)). */
  logitBits: number;
}

/** Largest magnitude the JS reference computes exactly in float64 (with margin below 2^53). */
export const EXACT_LIMIT = 2 ** 52;

/** Smallest n with [min, max] inside [-2^(n-1), 2^(n-1)). */
export function signedBitsFor(iv: Interval): number {
  let n = 1;
  while (iv.min < -(2 ** (n - 1)) || iv.max >= 2 ** (n - 1)) n++;
  return n;
}

function denseAccBounds(layer: QDense, inputs: Interval[]): Interval[] {
  const out: Interval[] = [];
  for (let j = 0; j < layer.outputSize; j++) {
    let lo = layer.bias[j];
    let hi = layer.bias[j];
    for (let i = 0; i < layer.inputSize; i++) {
      const w = layer.weights[j * layer.inputSize + i];
      const a = w * inputs[i].min;
      const b = w * inputs[i].max;
      lo += Math.min(a, b);
      hi += Math.max(a, b);
    }
    out.push({ min: lo, max: hi });
  }
  return out;
}

export function modelBounds(model: QuantizedModel): ModelBounds {
  const size = model.input.shape.reduce((a, b) => a * b, 1);
  const input: Interval = { min: 0, max: 2 ** model.input.bits - 1 };
  let current: Interval[] = Array.from({ length: size }, () => input);
  const layers: DenseBounds[] = [];
  let logitBits = 1;
  for (const layer of model.layers) {
    const acc = denseAccBounds(layer, current);
    if (layer.requant) {
      const { multipliers, shift, outBits } = layer.requant;
      const half = shift > 0 ? 2 ** (shift - 1) : 0;
      let min = Infinity;
      let max = -Infinity;
      acc.forEach((iv, j) => {
        min = Math.min(min, iv.min * multipliers[j] + half);
        max = Math.max(max, iv.max * multipliers[j] + half);
      });
      if (Math.max(Math.abs(min), Math.abs(max)) >= EXACT_LIMIT) {
        throw new Error(`layer ${layer.name}: scaled accumulators reach 2^${Math.log2(Math.max(-min, max)).toFixed(1)}, beyond exact arithmetic`);
      }
      const quotient: Interval = { min: Math.floor(min / 2 ** shift), max: Math.floor(max / 2 ** shift) };
      const out = acc.map(() => ({ min: 0, max: 2 ** outBits - 1 }));
      layers.push({ acc, scaled: { min, max }, quotientBits: signedBitsFor(quotient), out });
      current = out;
    } else {
      layers.push({ acc, out: acc });
      let min = Infinity;
      let max = -Infinity;
      for (const iv of acc) {
        min = Math.min(min, iv.min);
        max = Math.max(max, iv.max);
      }
      logitBits = signedBitsFor({ min, max });
      current = acc;
    }
  }
  return { input, layers, logitBits };
}
