/**
 * What a model file declares about its own inputs and outputs, beyond the tensors: zkinfer's metadata
 * block (tfjs model.json `userDefinedMetadata.zkinfer`, written by scripts/train-mnist.ts for the bundled
 * models). Two fields, both optional:
 *
 *   "inputEncoding": [{"bits": 8, "signed": false, "scale": 0.00392156862745098}, ...]
 *       per graph input, in order (null for an input without one): the input is an integer of `bits`
 *       bits (unsigned unless `signed`), and the model computes on integer * scale. MNIST pixels are
 *       {bits 8, unsigned, scale 1/255}: input files hold the pixels 0..255, and the circuit range-checks
 *       them to exactly that width.
 *   "classLabels": ["0", ..., "9"]
 *       the (single) output is a classifier's logits: prove its argmax as the class; labels name classes.
 *
 * The importer translates an encoded input into an int graph input followed by Cast (to float) and a Mul
 * by the scale: exact, and free in the circuit (a cast of exact integers and a change of scale).
 */
import { fail } from '../util/errors.js';

export interface InputEncoding {
  bits: number;
  signed: boolean;
  scale: number;
}

export interface ModelMetadata {
  inputEncoding?: Array<InputEncoding | null>;
  classLabels?: string[];
}

/** Parse the `zkinfer` metadata block (undefined: none); `what` names the file for errors. */
export function parseModelMetadata(block: unknown, what: string): ModelMetadata {
  if (block === undefined || block === null) return {};
  if (typeof block !== 'object' || Array.isArray(block)) fail('BAD_MODEL', `${what}: zkinfer metadata must be an object`);
  const { inputEncoding, classLabels } = block as Record<string, unknown>;
  const out: ModelMetadata = {};
  if (inputEncoding !== undefined) {
    if (!Array.isArray(inputEncoding)) fail('BAD_MODEL', `${what}: zkinfer.inputEncoding must be an array (one entry per input)`);
    out.inputEncoding = inputEncoding.map((e, i) => {
      if (e === null) return null;
      const { bits, signed, scale } = (e ?? {}) as Record<string, unknown>;
      if (typeof bits !== 'number' || !Number.isInteger(bits) || bits < 1 || bits > 32)
        fail('BAD_MODEL', `${what}: zkinfer.inputEncoding[${i}].bits must be an integer from 1 to 32, got ${JSON.stringify(bits)}`);
      if (typeof scale !== 'number' || !(scale > 0) || !Number.isFinite(scale))
        fail('BAD_MODEL', `${what}: zkinfer.inputEncoding[${i}].scale must be a positive number, got ${JSON.stringify(scale)}`);
      if (signed !== undefined && typeof signed !== 'boolean') fail('BAD_MODEL', `${what}: zkinfer.inputEncoding[${i}].signed must be true or false`);
      return { bits, signed: signed === true, scale };
    });
  }
  if (classLabels !== undefined) {
    if (!Array.isArray(classLabels) || classLabels.length < 2 || !classLabels.every((l) => typeof l === 'string')) {
      fail('BAD_MODEL', `${what}: zkinfer.classLabels must be an array of at least 2 strings`);
    }
    out.classLabels = classLabels as string[];
  }
  return out;
}
