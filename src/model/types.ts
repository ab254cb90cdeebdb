/**
 * The float model as imported from a file, before quantization. Importers (tfjs Layers today) produce
 * this; the quantizer is its only consumer.
 */
export type FloatActivation = 'relu' | 'linear';

export interface FloatDense {
  kind: 'dense';
  name: string;
  inputSize: number;
  outputSize: number;
  /** Keras layout: kernel[i * outputSize + j] is the weight from input i to output j. */
  kernel: Float32Array;
  bias: Float32Array;
  activation: FloatActivation;
}

export type FloatLayer = FloatDense;

export interface FloatModel {
  name: string;
  /** Shape of one input sample, without the batch dimension (e.g. [784] or [28, 28]). */
  inputShape: number[];
  layers: FloatLayer[];
  /** Notes for the user about what import changed (e.g. a final softmax replaced by argmax). */
  notes: string[];
}

/** Float forward pass: the meaning the quantized model approximates. */
export function runFloat(model: FloatModel, input: ArrayLike<number>): Float64Array {
  let x = Float64Array.from(input as ArrayLike<number>);
  for (const layer of model.layers) {
    const y = new Float64Array(layer.outputSize);
    for (let j = 0; j < layer.outputSize; j++) {
      let acc = layer.bias[j];
      for (let i = 0; i < layer.inputSize; i++) acc += x[i] * layer.kernel[i * layer.outputSize + j];
      y[j] = layer.activation === 'relu' ? Math.max(0, acc) : acc;
    }
    x = y;
  }
  return x;
}
