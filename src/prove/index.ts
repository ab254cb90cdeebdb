import * as snarkjs from 'snarkjs';
import type { Groth16Proof } from 'snarkjs';
import { computeWitnessBin } from '../circuit/witness.js';
import { BUNDLE_FORMAT, BUNDLE_VERSION, type ProofBundle } from '../format/bundle.js';
import { bundleClaims, decodePublicSignals, type DecodedOutput } from '../format/decode.js';
import { inputCommitment, randomSalt } from '../format/commitment.js';
import { FIELD_P } from '../circuit/witness.js';
import { runQuantized, validateInput } from '../quantize/reference.js';
import type { CompiledModel } from '../setup/index.js';
import { ZkinferError } from '../util/errors.js';
import { bundleIds, privateWeightsInputs, type WeightsOptions } from '../weights/prove.js';

/**
 * Prove inferences: witness from the circuit's wasm, Groth16 proof from the zkey, and a bundle that a
 * verifier checks with the key alone. Inputs are validated first so a bad input gets a clear error,
 * not a failed constraint deep in the witness calculator.
 */
export interface ProveOptions extends WeightsOptions {
  /**
   * Private-input circuits: the blinding salt of each item's input commitment. Keep them with the inputs:
   * input + salt (the opening) is what lets the input's holder check the commitment later. Without them,
   * fresh random salts are drawn and returned by proveWithOpenings only.
   */
  salts?: bigint[];
}

export async function prove(model: CompiledModel, input: ArrayLike<number>, options: ProveOptions = {}): Promise<ProofBundle> {
  return (await proveWithOpenings(model, [input], options)).bundle;
}

/** One proof for k inferences; the model must have been compiled with batch = k. */
export async function proveBatch(model: CompiledModel, inputs: ArrayLike<number>[], options: ProveOptions = {}): Promise<ProofBundle> {
  return (await proveWithOpenings(model, inputs, options)).bundle;
}

/** An input and the salt of its commitment: secret, kept by whoever may later reveal the input. */
export interface Opening {
  input: number[];
  salt: string;
  commitment: string;
}

/** Prove, and return the openings of private-input commitments (empty for public-input circuits). */
export async function proveWithOpenings(model: CompiledModel, inputs: ArrayLike<number>[], options: ProveOptions = {}): Promise<{ bundle: ProofBundle; openings: Opening[] }> {
  const k = model.layout.batch;
  if (!Array.isArray(inputs) || inputs.length !== k) {
    throw new ZkinferError('BAD_INPUT', `this circuit proves batches of ${k} input${k > 1 ? 's' : ''}; got ${Array.isArray(inputs) ? inputs.length : 'no array'}`);
  }
  const xs = inputs.map((input, b) => {
    try {
      return validateInput(model.qmodel, Array.isArray(input) ? input : Array.from(input));
    } catch (err) {
      if (err instanceof ZkinferError && k > 1) throw new ZkinferError(err.code, `batch item ${b}: ${err.message}`);
      throw err;
    }
  });
  const privateInput = model.layout.visibility.input === 'private';
  if (options.salts && (!privateInput || options.salts.length !== k)) {
    throw new ZkinferError('BAD_INPUT', privateInput ? `expected ${k} salts, got ${options.salts.length}` : 'salts are only used by private-input circuits');
  }
  const salts = privateInput ? (options.salts ?? xs.map(() => randomSalt())) : [];
  for (const salt of salts) if (salt < 0n || salt >= FIELD_P) throw new ZkinferError('BAD_INPUT', 'a salt must be a field element in [0, p)');
  const witnessInput: Record<string, unknown> = { x: k === 1 ? xs[0] : xs };
  if (privateInput) witnessInput.salt = k === 1 ? salts[0] : salts;
  const privateWeights = privateWeightsInputs(model, options);
  if (privateWeights) Object.assign(witnessInput, privateWeights.signals);

  const wtns = await computeWitnessBin(model.circuit.wasmPath, witnessInput);
  const { proof, publicSignals } = await snarkjs.groth16.prove(model.zkeyPath, { type: 'mem', data: wtns });
  const decoded = decodePublicSignals(model.key, publicSignals);
  // The circuit and the references implement one semantics; disagreement is a zkinfer bug, never a result.
  const openings: Opening[] = [];
  for (const [b, item] of decoded.items.entries()) {
    const reference = runQuantized(privateWeights?.fitted ?? model.qmodel, xs[b]);
    const logitsShown = item.prediction.logits.length > 0;
    if (item.prediction.class !== reference.predicted || (logitsShown && item.prediction.logits.join() !== reference.logits.join())) {
      throw new Error(`internal error: circuit output for item ${b} (class ${item.prediction.class}) differs from the reference (class ${reference.predicted})`);
    }
    if (privateInput) {
      const expected = await inputCommitment(xs[b], model.qmodel.input.bits, salts[b]);
      if (String(expected) !== item.inputCommitment) throw new Error(`internal error: input commitment of item ${b} differs from circomlibjs's`);
      openings.push({ input: xs[b], salt: String(salts[b]), commitment: item.inputCommitment });
    }
  }
  if (privateWeights && String(await privateWeights.commitment) !== decoded.weightsCommitment) {
    throw new Error("internal error: the weights commitment differs from circomlibjs's");
  }
  const bundle = assembleBundle(model, proof, publicSignals, decoded);
  return { bundle, openings };
}

/** The bundle for a Groth16 proof of `model` whose public signals decoded to `decoded`. */
export function assembleBundle(model: CompiledModel, proof: Groth16Proof, publicSignals: string[], decoded: DecodedOutput): ProofBundle {
  return {
    format: BUNDLE_FORMAT,
    version: BUNDLE_VERSION,
    protocol: 'groth16',
    curve: 'bn128',
    ...bundleIds(model.modelId, decoded),
    visibility: model.layout.visibility,
    publicSignals,
    proof: { pi_a: proof.pi_a, pi_b: proof.pi_b, pi_c: proof.pi_c, protocol: 'groth16', curve: 'bn128' },
    ...bundleClaims(decoded),
  };
}
