import * as snarkjs from 'snarkjs';
import { computeWitnessBin } from '../circuit/witness.js';
import { BUNDLE_FORMAT, BUNDLE_VERSION, type ProofBundle } from '../format/bundle.js';
import { decodePublicSignals } from '../format/decode.js';
import { runQuantized, validateInput } from '../quantize/reference.js';
import type { CompiledModel } from '../setup/index.js';
import { ZkinferError } from '../util/errors.js';

/**
 * Prove inferences: witness from the circuit's wasm, Groth16 proof from the zkey, and a bundle that a
 * verifier checks with the key alone. Inputs are validated first so a bad input gets a clear error,
 * not a failed constraint deep in the witness calculator.
 */
export async function prove(model: CompiledModel, input: ArrayLike<number>): Promise<ProofBundle> {
  return proveBatch(model, [input]);
}

/** One proof for k inferences; the model must have been compiled with batch = k. */
export async function proveBatch(model: CompiledModel, inputs: ArrayLike<number>[]): Promise<ProofBundle> {
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
  const wtns = await computeWitnessBin(model.circuit.wasmPath, { x: k === 1 ? xs[0] : xs });
  const { proof, publicSignals } = await snarkjs.groth16.prove(model.zkeyPath, { type: 'mem', data: wtns });
  const decoded = decodePublicSignals(model.key, publicSignals);
  // The circuit and the reference implement one semantics; disagreement is a zkinfer bug, never a result.
  decoded.items.forEach(({ prediction }, b) => {
    const reference = runQuantized(model.qmodel, xs[b]);
    if (prediction.class !== reference.predicted || prediction.logits.join() !== reference.logits.join()) {
      throw new Error(`internal error: circuit output for item ${b} (class ${prediction.class}) differs from the reference (class ${reference.predicted})`);
    }
  });
  return {
    format: BUNDLE_FORMAT,
    version: BUNDLE_VERSION,
    protocol: 'groth16',
    curve: 'bn128',
    modelId: model.modelId,
    publicSignals,
    proof: { pi_a: proof.pi_a, pi_b: proof.pi_b, pi_c: proof.pi_c, protocol: 'groth16', curve: 'bn128' },
    prediction: decoded.prediction,
    ...(k > 1 ? { items: decoded.items.map((item) => item.prediction) } : {}),
  };
}
