import type { ProofBundle } from './bundle.js';
import type { ZkinferKey } from './key.js';

/**
 * Model ids for both kinds of key, Node-free. A constant-weights bundle's modelId is its key's id (SHA-256
 * of the key). A private-weights key serves every model of its architecture, so there the model id is the
 * proof's public weights commitment (64 hex digits) and the bundle names its key separately, in `keyId`.
 * Checking a model id needs only the proved commitment signal, never Poseidon: the commitment itself is
 * computed by src/weights/commitment.ts, where the weights are.
 */

/** The id of the key a bundle must be checked with (what registries index keys by). */
export function keyIdOfBundle(bundle: { modelId: string; keyId?: string }): string {
  return bundle.keyId ?? bundle.modelId;
}

/** The model id of a private-weights proof: its weights commitment as 64 hex digits (it is below 2^254). */
export function modelIdOfCommitment(commitment: bigint | string): string {
  return BigInt(commitment).toString(16).padStart(64, '0');
}

const short = (id: string) => `${id.slice(0, 16)}…`;

/** Why the bundle's model (and key) id do not match the key and the proved commitment, or null. */
export function modelIdProblem(key: ZkinferKey, keyId: string, bundle: ProofBundle): string | null {
  if (key.publicSignals.visibility.weights !== 'private') {
    if (bundle.keyId !== undefined) return 'keyId is only used by private-weights proofs; this key has constant weights';
    return bundle.modelId === keyId ? null : `bundle is for model ${short(bundle.modelId)}, the key is for model ${short(keyId)}`;
  }
  if (bundle.keyId !== keyId)
    return bundle.keyId === undefined ? 'a private-weights bundle must name its key (keyId)' : `bundle is for key ${short(bundle.keyId)}, this key is ${short(keyId)}`;
  const index = key.publicSignals.weightsCommitmentIndex;
  if (index === undefined) return 'the key is for private weights but has no weights commitment in its layout';
  const signal = bundle.publicSignals[index];
  if (signal === undefined) return null; // a short signal list is reported by the length check
  const proved = modelIdOfCommitment(signal);
  return bundle.modelId === proved ? null : `bundle claims model ${short(bundle.modelId)}, the proved weights commitment is model ${short(proved)}`;
}
