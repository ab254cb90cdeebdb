/**
 * Proving a stored model (the model store, the prove server's threads, the queue workers) whatever its
 * pipeline: graph models (`program`) prove on src/graph, layer models (`qmodel`: private weights) on
 * src/prove. A job's input is JSON: for a graph model one sample in any form of src/graph/inputs.ts (a flat
 * array for a one-input model, {name: array}, or EZKL's input.json), in the model's own units.
 */
import type { ProofBundle } from '../format/bundle.js';
import type { ZkinferKey } from '../format/key.js';
import { parseInputFile } from '../graph/inputs.js';
import { proveGraphBatch, type GraphModel } from '../graph/pipeline.js';
import { quantizeInputs } from '../graph/quant/reference.js';
import { ZkinferError } from '../util/errors.js';
import { proveWithOpenings } from './index.js';
import type { StoredModel } from './modelStore.js';

export const isGraphModel = (model: StoredModel): model is GraphModel => 'program' in model;

/** Prove one job's input: one sample (batch 1) or an array of `batch` samples. */
export async function proveStored(model: StoredModel, input: unknown): Promise<ProofBundle> {
  const k = model.layout.batch;
  const items = k === 1 ? [input] : input;
  if (!Array.isArray(items) || items.length !== k) throw new ZkinferError('BAD_INPUT', `this model proves batches of ${k}: the input must be an array of ${k} inputs`);
  if (isGraphModel(model)) {
    const samples = items.map((x, b) => parseInputFile(x, model.program.inputs, k === 1 ? 'input' : `input[${b}]`));
    return (await proveGraphBatch(model, samples)).bundle;
  }
  if (!items.every((x) => Array.isArray(x)))
    throw new ZkinferError('BAD_INPUT', k === 1 ? 'input must be an array of integers' : `the input must be an array of ${k} arrays of integers`);
  return (await proveWithOpenings(model, items as number[][])).bundle;
}

/** Why `input` cannot be proved with a graph model's key, or null if it can (the prove server asks before queueing). */
export function graphInputProblem(key: ZkinferKey, input: unknown): string | null {
  const inputs = key.model.inputs!;
  const k = key.publicSignals.batch;
  const items = k === 1 ? [input] : input;
  if (!Array.isArray(items) || items.length !== k) return `this model proves batches of ${k}: input must be an array of ${k} inputs`;
  try {
    items.forEach((x, b) => quantizeInputs({ inputs }, parseInputFile(x, inputs, k === 1 ? 'input' : `input[${b}]`)));
    return null;
  } catch (err) {
    if (err instanceof ZkinferError) return err.message;
    throw err;
  }
}
