/**
 * Graph models end to end: passes -> lower (calibrate, quantize) -> emit -> compile -> setup -> prove.
 * Verification is the same `verify` as for layer models: the key's `model.inputs/outputs` and layout say
 * how to decode the public signals.
 */
import * as snarkjs from 'snarkjs';
import { compileCircom, type CompiledCircuit } from '../circuit/compile.js';
import { computeWitnessBin, FIELD_P } from '../circuit/witness.js';
import { BUNDLE_FORMAT, BUNDLE_VERSION, type ProofBundle } from '../format/bundle.js';
import { chainCommitment, inputCommitment, randomSalt } from '../format/commitment.js';
import { bundleClaims, decodePublicSignals } from '../format/decode.js';
import type { ZkinferKey } from '../format/key.js';
import { setupCircuit, type SetupOptions } from '../setup/index.js';
import { snarkjsProgressLogger, type OnProgress } from '../util/snarkjsProgress.js';
import { ZkinferError } from '../util/errors.js';
import type { Visibility } from '../circuit/emit.js';
import { emitGraphCircuit, type GraphLayout } from './emit.js';
import type { GraphInstances } from './instances.js';
import { linkGraphCircuit, linkedWitness, type LinkPlan } from './link/index.js';
import { size, type Graph } from './ir.js';
import { lowerGraph, type LowerOptions, type QProgram, type Sample } from './quant/lower.js';
import { unsignedBits } from './quant/prims.js';
import { quantizeInputs, runProgram } from './quant/reference.js';
import { programTag, weightGroups } from './quant/privateWeights.js';
import { modelIdOfCommitment } from '../format/modelId.js';

export interface GraphCompileOptions {
  artifactsDir?: string;
  visibility?: Visibility;
  /** Add the argmax of output 0 as the public `class` ('auto': when the graph ends in Softmax/LogSoftmax). */
  classify?: boolean | 'auto';
  /** Inferences per proof (default 1). */
  batch?: number;
  /**
   * How the r1cs is made: 'circom' compiles the whole circuit with circom2; 'linked' compiles each gadget
   * kind once and links the instances in TypeScript (src/graph/link); 'auto' (default) links above
   * LINK_AUTO_TERMS linear-form terms, where circom2 takes minutes or runs out of its 4 GB heap.
   */
  emit?: EmitMode;
  /** Commit the outputs instead of making them public (a split model's chunk; see split.ts). */
  commitOutputs?: boolean;
  onProgress?: (stage: string, done: number, total: number) => void;
}

export type EmitMode = 'circom' | 'linked' | 'auto';

/**
 * 'auto' links circuits whose gadget inputs and outputs sum to more than this many linear-form terms:
 * circom2 spends ~0.45 ms per term (100k terms: ~45 s) and dies near 800k; every model in the test suite
 * is far below, so it keeps the circom path.
 */
export const LINK_AUTO_TERMS = 100_000;

/** Linear-form terms of a circuit's instances (what circom's compile time grows with). */
export function instanceTerms(inst: GraphInstances): number {
  let n = 0;
  for (const g of [...inst.gadgets, ...(inst.classifier ? [inst.classifier] : [])]) for (const { source } of g.inputs) n += 'form' in source ? source.form.terms.length : 1;
  for (const f of inst.outputs) n += f.terms.length;
  return n * inst.layout.batch;
}

export interface GraphCircuit {
  program: QProgram;
  circuit: CompiledCircuit;
  layout: GraphLayout;
  /** Set when the circuit was linked (its witness then comes from linkedWitness, not a model wasm). */
  linked?: LinkPlan;
}

export interface GraphModel extends GraphCircuit {
  zkeyPath: string;
  key: ZkinferKey;
  modelId: string;
}

function wantsClass(graph: Graph | undefined, program: QProgram, classify: GraphCompileOptions['classify'], visibility?: Visibility): boolean {
  if (visibility?.output === 'class' || classify === true || (classify !== false && program.labels !== undefined)) return true;
  if (classify === false || program.outputs.length !== 1 || program.outputs[0].elems.length < 2) return false;
  const last = graph?.nodes.find((n) => n.outputs.includes(program.outputs[0].name));
  return last !== undefined && (last.op === 'Softmax' || last.op === 'LogSoftmax');
}

export async function compileGraphProgram(program: QProgram, options: GraphCompileOptions & { graph?: Graph } = {}): Promise<GraphCircuit> {
  const classOutput = wantsClass(options.graph, program, options.classify, options.visibility) ? 0 : undefined;
  const { source, layout, instances } = emitGraphCircuit(program, {
    visibility: options.visibility,
    classOutput: options.commitOutputs ? undefined : classOutput,
    batch: options.batch,
    commitOutputs: options.commitOutputs,
  });
  const emit = options.emit ?? 'auto';
  if (emit !== 'circom' && emit !== 'linked' && emit !== 'auto') throw new ZkinferError('BAD_INPUT', `emit must be circom, linked or auto (got ${JSON.stringify(emit)})`);
  if (emit === 'linked' || (emit === 'auto' && instanceTerms(instances) > LINK_AUTO_TERMS)) {
    const { circuit, plan } = await linkGraphCircuit(source, instances, { name: 'model', artifactsDir: options.artifactsDir, onProgress: options.onProgress });
    return { program, circuit, layout, linked: plan };
  }
  const circuit = await compileCircom(source, { name: 'model', artifactsDir: options.artifactsDir });
  return { program, circuit, layout };
}

/** The key's layout and model sections for a graph circuit. */
export function graphKeyParts(c: GraphCircuit): { layout: ZkinferKey['publicSignals']; info: ZkinferKey['model'] } {
  const { program, circuit, layout } = c;
  const n = program.inputs.reduce((a, i) => a + size(i.shape), 0);
  return {
    layout: {
      batch: layout.batch,
      visibility: layout.visibility,
      logitsOffset: layout.outputsOffset,
      logits: layout.outputs,
      classIndex: layout.classIndex,
      commitmentIndex: layout.commitmentIndex,
      ...(layout.outputCommitmentIndex >= 0 ? { outputCommitmentIndex: layout.outputCommitmentIndex } : {}),
      ...(layout.weightsCommitmentIndex !== undefined ? { weightsCommitmentIndex: layout.weightsCommitmentIndex } : {}),
      inputOffset: layout.inputOffset,
      inputs: layout.inputs,
      total: layout.total,
    },
    info: {
      name: program.name,
      inputShape: [n],
      inputBits: Math.max(...program.inputs.map((i) => unsignedBits(i.hi - i.lo))),
      inputScale: program.inputs[0].scale,
      outputSize: program.outputs.reduce((a, o) => a + o.elems.length, 0),
      logitScale: program.outputs[0].scale,
      circuitHash: circuit.hash,
      constraints: circuit.constraints,
      notes: program.notes,
      ...(program.labels ? { labels: program.labels } : {}),
      inputs: program.inputs.map(({ name, dtype, shape, scale, lo, hi }) => ({ name, dtype, shape, scale, lo, hi })),
      outputs: program.outputs.map(({ name, dtype, shape, scale }) => ({ name, dtype, shape, scale })),
    },
  };
}

export async function setupGraphCircuit(c: GraphCircuit, options: SetupOptions = {}): Promise<GraphModel> {
  const { layout, info } = graphKeyParts(c);
  return { ...c, ...(await setupCircuit(c.circuit, layout, info, options)) };
}

/** Lower, compile and set up a graph (after runPasses) with its calibration samples. */
export async function buildGraphModel(graph: Graph, calibration: Sample[], options: LowerOptions & GraphCompileOptions & SetupOptions = {}): Promise<GraphModel> {
  const program = lowerGraph(graph, calibration, { ...options, privateWeights: options.privateWeights ?? options.visibility?.weights === 'private' });
  return setupGraphCircuit(await compileGraphProgram(program, { ...options, graph }), options);
}

/** The secret opening of a private-input proof: the input integers and the commitment's salt. */
export interface GraphOpening {
  input: number[];
  salt: string;
  commitment: string;
}

/** Prove one inference (a model compiled with batch 1). */
export async function proveGraph(
  model: GraphModel,
  sample: Sample,
  options: { salt?: bigint; onProgress?: OnProgress } & GraphWeightsOptions = {},
): Promise<{ bundle: ProofBundle; opening?: GraphOpening }> {
  const { salt, ...rest } = options;
  const { bundle, openings } = await proveGraphBatch(model, [sample], { ...(salt !== undefined ? { salts: [salt] } : {}), ...rest });
  return { bundle, ...(openings.length ? { opening: openings[0] } : {}) };
}

/** One proof for k inferences: the model must have been compiled with batch k. */
export async function proveGraphBatch(
  model: GraphModel,
  samples: Sample[],
  options: { salts?: bigint[]; onProgress?: OnProgress } & GraphWeightsOptions = {},
): Promise<{ bundle: ProofBundle; openings: GraphOpening[] }> {
  const weights = graphWeightsWitness(model.program, options);
  const k = model.layout.batch;
  if (samples.length !== k) throw new ZkinferError('BAD_INPUT', `this circuit proves batches of ${k} input${k > 1 ? 's' : ''}; got ${samples.length}`);
  const xs = samples.map((sample, b) => {
    try {
      return quantizeInputs(model.program, sample);
    } catch (err) {
      if (err instanceof ZkinferError && k > 1) throw new ZkinferError(err.code, `batch item ${b}: ${err.message}`);
      throw err;
    }
  });
  const privateInput = model.layout.visibility.input === 'private';
  if (options.salts && (!privateInput || options.salts.length !== k))
    throw new ZkinferError('BAD_INPUT', privateInput ? `expected ${k} salts` : 'salts are only used by private-input circuits');
  const salts = privateInput ? (options.salts ?? xs.map(() => randomSalt())) : [];
  for (const salt of salts) if (salt < 0n || salt >= FIELD_P) throw new ZkinferError('BAD_INPUT', 'a salt must be a field element in [0, p)');
  const witnessInput = { x: k === 1 ? xs[0] : xs, ...(privateInput ? { salt: k === 1 ? salts[0] : salts } : {}), ...(weights ? { w: weights.w, weightsSalt: weights.salt } : {}) };
  const wtns = model.linked
    ? await linkedWitness(
        model.linked,
        model.program,
        xs.map((x, b) => ({ x, ...(privateInput ? { salt: salts[b] } : {}), ...(weights ? { weights: weights.values, weightsSalt: weights.salt } : {}) })),
      )
    : await computeWitnessBin(model.circuit.wasmPath, witnessInput);
  const { proof, publicSignals } = await snarkjs.groth16.prove(
    model.zkeyPath,
    { type: 'mem', data: wtns },
    options.onProgress && snarkjsProgressLogger('prove', options.onProgress),
  );
  const decoded = decodePublicSignals(model.key, publicSignals);
  // The circuit and the reference implement one semantics; disagreement is a zkinfer bug, never a result.
  const openings: GraphOpening[] = [];
  for (const [b, item] of decoded.items.entries()) {
    if (model.layout.outputs > 0 && item.prediction.logits.join() !== runProgram(model.program, xs[b], weights?.values).join()) {
      throw new Error(`internal error: the circuit outputs of item ${b} differ from the integer reference`);
    }
    if (privateInput) {
      const { values, bits } = commitmentValues(model.program, xs[b]);
      const expected = String(await inputCommitment(values, bits, salts[b]));
      if (expected !== item.inputCommitment) throw new Error(`internal error: the input commitment of item ${b} differs from circomlibjs's`);
      openings.push({ input: xs[b], salt: String(salts[b]), commitment: expected });
    }
  }
  if (weights && String(await weights.commitment) !== decoded.weightsCommitment) throw new Error("internal error: the weights commitment differs from circomlibjs's");
  return { bundle: graphBundle(model, proof, publicSignals), openings };
}

/** The proof bundle of a Groth16 proof of a graph circuit, with the claims its public signals imply. */
export function graphBundle(model: GraphModel, proof: { pi_a: string[]; pi_b: string[][]; pi_c: string[] }, publicSignals: string[]): ProofBundle {
  const decoded = decodePublicSignals(model.key, publicSignals);
  return {
    format: BUNDLE_FORMAT,
    version: BUNDLE_VERSION,
    protocol: 'groth16',
    curve: 'bn128',
    // Private weights: the model id is the proved weights commitment; the bundle names its key apart.
    ...(decoded.weightsCommitment !== undefined ? { modelId: modelIdOfCommitment(decoded.weightsCommitment), keyId: model.modelId } : { modelId: model.modelId }),
    visibility: model.layout.visibility,
    publicSignals,
    proof: { pi_a: proof.pi_a, pi_b: proof.pi_b, pi_c: proof.pi_c, protocol: 'groth16', curve: 'bn128' },
    ...bundleClaims(decoded),
  };
}

/** What the private-input commitment packs: each input integer minus its range's low end, at one width. */
export function commitmentValues(program: QProgram, x: number[]): { values: number[]; bits: number } {
  const los = program.inputs.flatMap((i) => Array.from({ length: size(i.shape) }, () => i.lo));
  const bits = Math.max(...program.inputs.map((i) => unsignedBits(i.hi - i.lo)));
  return { values: x.map((v, k) => v - los[k]), bits };
}

/** Private-weights proofs: the commitment's salt, and optionally another weight set for the same circuit. */
export interface GraphWeightsOptions {
  weightsSalt?: bigint;
  /** One integer array per private weight tensor (program.weights order); default: the model's. */
  weights?: number[][];
}

/** The witness of a private-weights program (null for constant weights, which refuse weights options). */
export function graphWeightsWitness(program: QProgram, options: GraphWeightsOptions): { w: number[]; values: number[][]; salt: bigint; commitment: Promise<bigint> } | null {
  const tensors = program.weights ?? [];
  if (!tensors.length) {
    if (options.weights !== undefined || options.weightsSalt !== undefined)
      throw new ZkinferError('BAD_INPUT', 'weights and weightsSalt are only taken by private-weights circuits');
    return null;
  }
  const salt = options.weightsSalt;
  if (salt === undefined) throw new ZkinferError('BAD_INPUT', 'a private-weights proof needs the weights salt (the model id is the commitment under it)');
  if (typeof salt !== 'bigint' || salt < 0n || salt >= FIELD_P) throw new ZkinferError('BAD_INPUT', 'the weights salt must be a field element in [0, p)');
  const values = options.weights ?? tensors.map((t) => t.values);
  if (values.length !== tensors.length) throw new ZkinferError('BAD_INPUT', `expected ${tensors.length} weight tensors, got ${values.length}`);
  tensors.forEach((t, i) => {
    if (values[i].length !== t.values.length)
      throw new ZkinferError('BAD_INPUT', `weight tensor ${t.name} (node ${t.node}) has ${values[i].length} values, expected ${t.values.length}`);
    values[i].forEach((v, j) => {
      if (!Number.isInteger(v) || v < t.lo || v > t.lo + 2 ** t.bits - 1)
        throw new ZkinferError('BAD_INPUT', `weight ${t.name}[${j}] (node ${t.node}) = ${v} is outside the circuit's ${t.bits}-bit range [${t.lo}, ${t.lo + 2 ** t.bits - 1}]`);
    });
  });
  return { w: values.flat(), values, salt, commitment: graphWeightsCommitment(program, salt, values) };
}

/** The weights commitment (the model id of a private-weights proof) of a program's weights under a salt. */
export function graphWeightsCommitment(program: QProgram, salt: bigint, values?: number[][]): Promise<bigint> {
  return chainCommitment(programTag(program), salt, weightGroups(program, values));
}
