import { z } from 'zod';
import { parseWith } from '../format/schema.js';
import { QMODEL_FORMAT, QMODEL_VERSION, type QuantizedModel } from '../quantize/types.js';
import { fail } from '../util/errors.js';
import { checkChainDense } from './architecture.js';
import { readJsonFile } from '../util/fs.js';

/**
 * Quantized models as JSON files (the `zkinfer-qmodel` object as quantizeModel returns it): how a model
 * owner hands private weights to a prover. Dense layers only, as private-weights circuits support; the
 * architecture check (fitToArchitecture) then names any layer that does not fit.
 */
const int = z.number().int();
const denseSchema = z.object({
  kind: z.literal('dense'),
  name: z.string(),
  /** Kept so that the architecture check can refuse a skip connection (zod would strip it silently). */
  from: int.nonnegative().optional(),
  inputSize: int.positive(),
  outputSize: int.positive(),
  weights: z.array(int),
  bias: z.array(int),
  weightScales: z.array(z.number()),
  requant: z
    .object({
      multipliers: z.array(int),
      shift: int.nonnegative(),
      activation: z.enum(['relu', 'relu6']),
      outBits: int.positive(),
      outScale: z.number().positive(),
    })
    .nullable(),
});

const qmodelSchema = z.object({
  format: z.literal(QMODEL_FORMAT),
  version: z.literal(QMODEL_VERSION),
  name: z.string(),
  input: z.object({ shape: z.array(int.positive()).min(1), bits: int.min(1).max(32), scale: z.number().positive() }),
  layers: z.array(z.looseObject({ kind: z.string(), name: z.string() })).min(1),
  output: z.object({ size: int.min(2), logitScale: z.number().positive(), labels: z.array(z.string()).optional() }),
  notes: z.array(z.string()),
});

export function parseQuantizedModel(value: unknown, what = 'quantized model'): QuantizedModel {
  const model = parseWith(qmodelSchema, value, what, 'BAD_MODEL');
  const layers = model.layers.map((layer, l) => {
    if (layer.kind !== 'dense') fail('UNSUPPORTED_LAYER', `${what}: layer ${l} (${layer.name}) is ${layer.kind}; private weights support dense layers only`);
    return checkChainDense(parseWith(denseSchema, layer, `${what} layer ${l} (${layer.name})`, 'BAD_MODEL'), l);
  });
  return { ...model, layers };
}

export async function readQuantizedModel(file: string): Promise<QuantizedModel> {
  return parseQuantizedModel(await readJsonFile(file, 'quantized model', 'BAD_MODEL'), `quantized model ${file}`);
}
