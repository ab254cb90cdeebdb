import { layerSources } from '../model/types.js';
import { ZkinferError } from '../util/errors.js';
import { inputCount, linearForms, outputCount, poolWindow } from './linear.js';
import { requantRange } from './reference.js';
import type { QLayer, QuantizedModel } from './types.js';

/**
 * Static value ranges of every integer the model computes, over ALL valid inputs (not just the data).
 * The circuit sizes its range checks from these, so they must be true bounds: too small and an honest
 * proof becomes impossible for some input; they never affect soundness, which the gadgets carry.
 */
export interface Interval {
  min: number;
  max: number;
}

export interface LayerBounds {
  /** Linear layers: range of acc for each output. */
  acc?: Interval[];
  /**
   * Requantized layers: range of acc*M + 2^(shift-1) + offset over all outputs, and the signed bit width
   * of its quotient. offset = 2^(shift + outBits - 1) for a linear (signed) output, which moves the clamp
   * window [-2^(outBits-1), 2^(outBits-1)) onto the unsigned one the gadget checks; 0 otherwise.
   */
  scaled?: Interval;
  offset?: number;
  quotientBits?: number;
  /** Range of the layer's output values. */
  out: Interval[];
  /** Unsigned bit width that holds every output (for max gadgets reading them; signed tensors: their signed width). */
  outBits: number;
}

export interface ModelBounds {
  input: Interval;
  layers: LayerBounds[];
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

function unsignedBitsFor(max: number): number {
  let n = 1;
  while (max >= 2 ** n) n++;
  return n;
}

function span(ivs: Interval[]): Interval {
  let min = Infinity;
  let max = -Infinity;
  for (const iv of ivs) {
    min = Math.min(min, iv.min);
    max = Math.max(max, iv.max);
  }
  return { min, max };
}

function layerBounds(layer: QLayer, inputs: Interval[]): LayerBounds {
  if (inputs.length !== inputCount(layer)) throw new Error(`layer ${layer.name}: expects ${inputCount(layer)} inputs, the previous layer gives ${inputs.length}`);
  const n = outputCount(layer);
  if (layer.kind === 'maxpool') {
    const out = Array.from({ length: n }, (_, o) => span(poolWindow(layer, o).map((i) => inputs[i])));
    if (span(out).min < 0) throw new Error(`layer ${layer.name}: max pooling needs non-negative inputs (after relu)`);
    return { out, outBits: unsignedBitsFor(span(out).max) };
  }
  const forms = linearForms(layer);
  const acc = forms.map(({ bias, terms }) => {
    let lo = bias;
    let hi = bias;
    for (const [i, w] of terms) {
      const a = w * inputs[i].min;
      const b = w * inputs[i].max;
      lo += Math.min(a, b);
      hi += Math.max(a, b);
    }
    return { min: lo, max: hi };
  });
  if (!layer.requant) return { acc, out: acc, outBits: 0 };
  const { multipliers, shift, outBits } = layer.requant;
  const half = shift > 0 ? 2 ** (shift - 1) : 0;
  const range = requantRange(layer.requant);
  const offset = layer.requant.activation === 'linear' ? 2 ** (shift + outBits - 1) : 0;
  const scaled = span(acc.map((iv, o) => ({ min: iv.min * multipliers[forms[o].channel] + half + offset, max: iv.max * multipliers[forms[o].channel] + half + offset })));
  if (Math.max(Math.abs(scaled.min), Math.abs(scaled.max)) >= EXACT_LIMIT) {
    throw new ZkinferError('BAD_MODEL', `layer ${layer.name}: scaled accumulators reach 2^${Math.log2(Math.max(-scaled.min, scaled.max)).toFixed(1)}, beyond exact arithmetic`);
  }
  const quotient: Interval = { min: Math.floor(scaled.min / 2 ** shift), max: Math.floor(scaled.max / 2 ** shift) };
  const out = acc.map(() => range);
  return { acc, scaled, offset, quotientBits: signedBitsFor(quotient), out, outBits };
}

export function modelBounds(model: QuantizedModel): ModelBounds {
  const size = model.input.shape.reduce((a, b) => a * b, 1);
  const input: Interval = { min: 0, max: 2 ** model.input.bits - 1 };
  const tensors: Interval[][] = [Array.from({ length: size }, () => input)];
  const layers: LayerBounds[] = [];
  model.layers.forEach((layer, l) => {
    const b = layerBounds(
      layer,
      layerSources(layer, l).flatMap((t) => tensors[t]),
    );
    layers.push(b);
    tensors.push(b.out);
  });
  return { input, layers, logitBits: signedBitsFor(span(tensors[tensors.length - 1])) };
}
