import * as snarkjs from 'snarkjs';
import { computeWitnessBin } from '../circuit/witness.js';
import { BUNDLE_FORMAT, BUNDLE_VERSION, type ProofBundle } from '../format/bundle.js';
import { decodePublicSignals } from '../format/decode.js';
import { runQuantized, validateInput } from '../quantize/reference.js';
import type { CompiledModel } from '../setup/index.js';

/**
 * Prove one inference: witness from the circuit's wasm, Groth16 proof from the zkey, and a bundle that a
 * verifier checks with the key alone. The input is validated first so a bad input gets a clear error,
 * not a failed constraint deep in the witness calculator.
 */
export async function prove(model: CompiledModel, input: ArrayLike<number>): Promise<ProofBundle> {
  const x = validateInput(model.qmodel, Array.isArray(input) ? input : Array.from(input));
  const wtns = await computeWitnessBin(model.circuit.wasmPath, { x });
  const { proof, publicSignals } = await snarkjs.groth16.prove(model.zkeyPath, { type: 'mem', data: wtns });
  const { prediction } = decodePublicSignals(model.key, publicSignals);
  // The circuit and the reference implement one semantics; disagreement is a zkinfer bug, never a result.
  const reference = runQuantized(model.qmodel, x);
  if (prediction.class !== reference.predicted || prediction.logits.join() !== reference.logits.join()) {
    throw new Error(`internal error: circuit output (class ${prediction.class}) differs from the reference (class ${reference.predicted})`);
  }
  return {
    format: BUNDLE_FORMAT,
    version: BUNDLE_VERSION,
    protocol: 'groth16',
    curve: 'bn128',
    modelId: model.modelId,
    publicSignals,
    proof: { pi_a: proof.pi_a, pi_b: proof.pi_b, pi_c: proof.pi_c, protocol: 'groth16', curve: 'bn128' },
    prediction,
  };
}
