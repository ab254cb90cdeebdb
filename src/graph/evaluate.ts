/**
 * Float vs quantized agreement of a graph model on a data set, without proving: the quantized side is the
 * integer reference, which the circuit equals bit for bit.
 */
import { fail } from '../util/errors.js';
import type { Graph } from './ir.js';
import { runFloat, type QProgram, type Sample } from './quant/lower.js';
import { dequantizeOutputs, quantizeInputs, runProgram } from './quant/reference.js';

export interface OutputAgreement {
  name: string;
  /** Largest |float - quantized| over every element and sample. */
  maxAbsError: number;
  meanAbsError: number;
  /** Largest |float| over the data set: the errors' yardstick. */
  maxAbsReference: number;
}

export interface Agreement {
  samples: number;
  outputs: OutputAgreement[];
  /** With labels: accuracy of the argmax of output 0 (or of a single score thresholded at 0.5). */
  accuracy?: { float: number; quantized: number };
}

function predictedClass(values: ArrayLike<number>): number {
  if (values.length === 1) return values[0] >= 0.5 ? 1 : 0;
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

export function evaluateAgreement(graph: Graph, program: QProgram, samples: Sample[], labels?: number[]): Agreement {
  if (labels && labels.length !== samples.length) fail('BAD_INPUT', `${labels.length} labels for ${samples.length} samples`);
  const stats = program.outputs.map((o) => ({ name: o.name, maxAbsError: 0, sum: 0, count: 0, maxAbsReference: 0 }));
  let floatRight = 0;
  let quantRight = 0;
  samples.forEach((sample, k) => {
    const float = runFloat(graph, sample);
    const quant = dequantizeOutputs(program, runProgram(program, quantizeInputs(program, sample)));
    quant.forEach((q, o) => {
      const ref = float.get(q.name)!.data;
      q.values.forEach((v, i) => {
        const e = Math.abs(v - ref[i]);
        stats[o].maxAbsError = Math.max(stats[o].maxAbsError, e);
        stats[o].maxAbsReference = Math.max(stats[o].maxAbsReference, Math.abs(ref[i]));
        stats[o].sum += e;
        stats[o].count++;
      });
    });
    if (labels) {
      if (predictedClass(float.get(quant[0].name)!.data) === labels[k]) floatRight++;
      if (predictedClass(quant[0].values) === labels[k]) quantRight++;
    }
  });
  return {
    samples: samples.length,
    outputs: stats.map((s) => ({ name: s.name, maxAbsError: s.maxAbsError, meanAbsError: s.count ? s.sum / s.count : 0, maxAbsReference: s.maxAbsReference })),
    ...(labels ? { accuracy: { float: floatRight / samples.length, quantized: quantRight / samples.length } } : {}),
  };
}
