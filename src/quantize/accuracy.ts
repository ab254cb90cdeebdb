import type { DigitSample } from '../model/mnist.js';
import { runFloat, type FloatModel } from '../model/types.js';
import { argmaxFirst, runQuantized } from './reference.js';
import type { QuantizedModel } from './types.js';

/** Float and quantized accuracy on labelled integer samples: the cost of quantization, side by side. */
export function compareAccuracy(float: FloatModel, qmodel: QuantizedModel, samples: DigitSample[]): { float: number; quantized: number; samples: number } {
  let floatOk = 0;
  let quantOk = 0;
  for (const s of samples) {
    const real = Array.from(s.pixels, (v) => v * qmodel.input.scale);
    if (argmaxFirst(Array.from(runFloat(float, real))) === s.label) floatOk++;
    if (runQuantized(qmodel, s.pixels).predicted === s.label) quantOk++;
  }
  return { float: floatOk / samples.length, quantized: quantOk / samples.length, samples: samples.length };
}
