/**
 * The quantized model: the one intermediate representation that the circuit emitter and the reference
 * interpreter (runQuantized) both read. Everything here is an integer except the scales, which only
 * decode integers back to real numbers for display; they never enter the proved computation.
 *
 * Integer semantics of a dense layer (defined once, implemented in reference.ts and in circuits/):
 *   acc[j] = bias[j] + sum_i weights[j * inputSize + i] * x[i]                  (exact integers)
 *   hidden layer:  y[j] = clamp(floor((acc[j] * M[j] + 2^(shift-1)) / 2^shift), 0, 2^outBits - 1)
 *   last layer:    logits[j] = acc[j]  (one weight scale for the layer, so logits are comparable)
 *   class = the first index of the maximum logit.
 */
export const QMODEL_FORMAT = 'zkinfer-qmodel';
export const QMODEL_VERSION = 1;

export interface QRequant {
  /** Per-output fixed-point multipliers M[j] (positive integers). */
  multipliers: number[];
  /** Common right shift: the real factor is M[j] / 2^shift. */
  shift: number;
  activation: 'relu';
  /** Output is clamped to [0, 2^outBits - 1]. */
  outBits: number;
  /** Real value of one output unit (for display and the next layer's calibration). */
  outScale: number;
}

export interface QDense {
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

export type QLayer = QDense;

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
