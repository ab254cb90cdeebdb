/** The public signals of a graph circuit, in snarkjs order (shared by the emitter, the linker and the key). */
import { fail } from '../util/errors.js';
import { MAX_BATCH, type Visibility } from '../circuit/emit.js';
import type { QProgram } from './quant/lower.js';
import { size } from './ir.js';

export interface GraphLayout {
  /** Inferences per proof: item b's outputs start at outputsOffset + b * outputs, its class at classIndex + b, etc. */
  batch: number;
  visibility: Visibility;
  /** Offset and count (per item) of the output integers (count 0 with class-only visibility). */
  outputsOffset: number;
  outputs: number;
  /** Offset of item 0's class signal, or -1 when the circuit has no argmax. */
  classIndex: number;
  commitmentIndex: number;
  /** Offset of item 0's output commitment (a split chunk's committed outputs, which are then not public), or -1. */
  outputCommitmentIndex: number;
  /** Private weights: the weights commitment (one per proof, after the input commitments). */
  weightsCommitmentIndex?: number;
  inputOffset: number;
  inputs: number;
  total: number;
}

export interface GraphCircuitOptions {
  visibility?: Visibility;
  /** Index of the graph output whose argmax becomes the public `class` (a classifier's logits). */
  classOutput?: number;
  /** Inferences per proof (default 1): k copies of the model under one main. */
  batch?: number;
  /**
   * Commit the outputs instead of making them public (every chunk of a split model but the last): a
   * private salt `outSalt`, the outputs range-checked and hashed like a private input (PackedCommitment).
   */
  commitOutputs?: boolean;
}

export function graphLayout(program: QProgram, options: GraphCircuitOptions = {}): GraphLayout {
  const visibility = options.visibility ?? { input: 'public', output: 'logits' };
  const n = program.inputs.reduce((a, i) => a + size(i.shape), 0);
  const m = program.outputs.reduce((a, o) => a + o.elems.length, 0);
  const hasClass = options.classOutput !== undefined;
  const k = options.batch ?? 1;
  if (!Number.isInteger(k) || k < 1 || k > MAX_BATCH) fail('BAD_INPUT', `batch size must be an integer from 1 to ${MAX_BATCH} (got ${k})`);
  if (visibility.output === 'class' && !hasClass) fail('BAD_INPUT', 'class-only visibility needs a classifier output (its argmax is the class)');
  const commitOutputs = options.commitOutputs === true;
  if (commitOutputs && (hasClass || visibility.output !== 'logits' || k !== 1)) fail('BAD_INPUT', 'committed outputs (a split chunk) take logits visibility, no class and batch 1');
  const outputs = visibility.output === 'logits' && !commitOutputs ? m : 0;
  let pos = k * outputs;
  const classIndex = hasClass ? pos : -1;
  if (hasClass) pos += k;
  const commitmentIndex = visibility.input === 'private' ? pos : -1;
  if (visibility.input === 'private') pos += k;
  const outputCommitmentIndex = commitOutputs ? pos : -1;
  if (commitOutputs) pos += k;
  const privateWeights = visibility.weights === 'private';
  if (!privateWeights && program.weights?.length) fail('BAD_INPUT', 'a program lowered with private weights needs private-weights visibility');
  if (privateWeights && !program.weights?.length) fail('BAD_INPUT', 'private-weights visibility needs a program lowered with private weights');
  if (privateWeights && k > 1) fail('BAD_INPUT', `private weights prove one inference per proof (got batch ${k})`);
  if (privateWeights && commitOutputs) fail('BAD_INPUT', 'a split model cannot take private weights yet: prove it whole with --weights private');
  const weightsCommitmentIndex = privateWeights ? pos : undefined;
  if (privateWeights) pos++;
  const inputs = visibility.input === 'public' ? n : 0;
  return {
    batch: k,
    visibility,
    outputsOffset: 0,
    outputs,
    classIndex,
    commitmentIndex,
    outputCommitmentIndex,
    ...(weightsCommitmentIndex !== undefined ? { weightsCommitmentIndex } : {}),
    inputOffset: pos,
    inputs,
    total: pos + k * inputs,
  };
}
