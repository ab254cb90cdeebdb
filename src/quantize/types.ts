/**
 * The quantized model: the one intermediate representation that the circuit emitter and the reference
 * interpreter (runQuantized) both read. Everything here is an integer except the scales, which only
 * decode integers back to real numbers for display; they never enter the proved computation.
 * Tensors are channels-last and flat (H, W, C), as in the float IR.
 *
 * Layers form a DAG with the float IR's tensor numbering (src/model/types.ts): tensor 0 is the input,
 * tensor l + 1 the output of layer l; a layer reads `from` (default: the previous tensor), an add reads
 * its two `inputs`, and "x" below is the concatenation of what a layer reads.
 *
 * Integer semantics (defined once, implemented in reference.ts and in circuits/):
 *   linear layers (dense, conv2d, avgpool, globalavgpool, add), for each output o of channel c:
 *     acc[o] = bias[c] + sum of weight * x over o's inputs (linear.ts lists them)   (exact integers;
 *     average pools have no bias and weight 1: their 1/count is folded into the multiplier; an add's
 *     acc is Wa * a[o] + Wb * b[o], the integer weights aligning the two scales, with M = 1)
 *   hidden:  q[o] = floor((acc[o] * M[c] + 2^(shift-1)) / 2^shift)
 *            relu/relu6: y[o] = clamp(q[o], 0, 2^outBits - 1)
 *            linear:     y[o] = clamp(q[o], -2^(outBits-1), 2^(outBits-1) - 1)   (a signed tensor)
 *   last layer (dense): logits[j] = acc[j]  (one weight scale for the layer, so logits are comparable)
 *   maxpool: y[o] = the maximum of o's window (values keep their scale; inputs must be unsigned)
 *   class = the first index of the maximum logit.
 */
import type { Conv2DGeometry, LayerSource, Shape3 } from '../model/types.js';

export type { Shape3 };

export const QMODEL_FORMAT = 'zkinfer-qmodel';
export const QMODEL_VERSION = 1;

export interface QRequant {
  /** Per-output fixed-point multipliers M[j] (positive integers). */
  multipliers: number[];
  /** Common right shift: the real factor is M[j] / 2^shift. */
  shift: number;
  /**
   * relu: clamp to [0, 2^outBits - 1]; relu6 is the same clamp with outScale <= 6 / (2^outBits - 1);
   * linear: a signed output clamped to [-2^(outBits-1), 2^(outBits-1) - 1] (e.g. the last conv of a
   * residual branch, before the add).
   */
  activation: 'relu' | 'relu6' | 'linear';
  /** Output width in bits (unsigned, or signed for linear). */
  outBits: number;
  /** Real value of one output unit (for display and the next layer's calibration). */
  outScale: number;
}

export interface QDense extends LayerSource {
  kind: 'dense';
  name: string;
  inputSize: number;
  outputSize: number;
  /** int8, output-major: weights[j * inputSize + i]. */
  weights: number[];
  /** Integers at the accumulator scale (inputScale * weightScale[j]). */
  bias: number[];
  /** Real value of one weight unit, per output channel. */
  weightScales: number[];
  /** null on the last layer: its accumulators are the logits. */
  requant: QRequant | null;
}

export interface QConv2D extends Conv2DGeometry {
  /** int8, HWIO like the float kernel (depthwise: [kH][kW][C]). */
  weights: number[];
  bias: number[];
  weightScales: number[];
  requant: QRequant;
}

export interface QPool2D extends LayerSource {
  kind: 'maxpool' | 'avgpool';
  name: string;
  inShape: Shape3;
  outShape: Shape3;
  poolSize: [number, number];
  strides: [number, number];
  /** avgpool only: sum times M / 2^shift, M / 2^shift ~ 1 / window size; same scale in and out. */
  requant: QRequant | null;
}

export interface QGlobalAvgPool extends LayerSource {
  kind: 'globalavgpool';
  name: string;
  inShape: Shape3;
  requant: QRequant;
}

/** Residual add: y = requant(Wa * a + Wb * b) with M = 1; Wa / Wb ~ scale(a) / scale(b) aligns the scales. */
export interface QAdd {
  kind: 'add';
  name: string;
  inputs: [number, number];
  size: number;
  /** [Wa, Wb]: positive integers, Wa / 2^shift ~ scale(a) / outScale and likewise for b. */
  weights: [number, number];
  requant: QRequant;
}

export type QLayer = QDense | QConv2D | QPool2D | QGlobalAvgPool | QAdd;

export interface QuantizedModel {
  format: typeof QMODEL_FORMAT;
  version: typeof QMODEL_VERSION;
  name: string;
  input: {
    shape: number[];
    /** Inputs are integers in [0, 2^bits - 1]; real value = integer * scale. */
    bits: number;
    scale: number;
  };
  layers: QLayer[];
  output: {
    size: number;
    /** Real value of one logit unit. */
    logitScale: number;
    labels?: string[];
  };
  notes: string[];
}

export function inputSize(model: QuantizedModel): number {
  return model.input.shape.reduce((a, b) => a * b, 1);
}
