import * as snarkjs from 'snarkjs';
import { FIELD_P } from '../circuit/witness.js';
import { parseBundle, type ProofBundle } from '../format/bundle.js';
import { decodePublicSignals, claimsMatch, type DecodedOutput } from '../format/decode.js';
import { modelIdOf, parseKey, type ZkinferKey } from '../format/key.js';
import { ZkinferError } from '../util/errors.js';
import { modelIdProblem } from '../weights/modelId.js';

/**
 * Verify a proof bundle with a zkinfer key: only the key and the bundle, never the weights.
 * Anything wrong with the bundle (malformed, other model, tampered) is an invalid verdict with a reason;
 * a malformed key throws, because that is the caller's configuration, not the prover's claim.
 */
export interface VerifyResult {
  valid: boolean;
  reason?: string;
  /** The model proved: the key's id, or for private weights the proved weights commitment (hex). */
  modelId?: string;
  /** The key the proof was checked with (for private weights, the architecture's key; else = modelId). */
  keyId?: string;
  output?: DecodedOutput;
}

function invalid(reason: string, modelId?: string): VerifyResult {
  return { valid: false, reason, ...(modelId ? { modelId } : {}) };
}

export async function verify(bundleValue: unknown, keyValue: unknown): Promise<VerifyResult> {
  const key: ZkinferKey = parseKey(keyValue);
  const keyId = modelIdOf(key);
  let bundle: ProofBundle;
  try {
    bundle = parseBundle(bundleValue);
  } catch (err) {
    if (err instanceof ZkinferError) return invalid(err.message);
    throw err;
  }
  const idProblem = modelIdProblem(key, keyId, bundle);
  if (idProblem) return invalid(idProblem);
  const { publicSignals } = bundle;
  if (publicSignals.length !== key.publicSignals.total) {
    return invalid(`bundle has ${publicSignals.length} public signals, the key expects ${key.publicSignals.total}`, keyId);
  }
  // Values >= p would verify as their residue: reject them so each statement has one encoding.
  const bad = publicSignals.findIndex((s) => BigInt(s) >= FIELD_P);
  if (bad >= 0) return invalid(`publicSignals[${bad}] is not a canonical field element`, keyId);

  let ok = false;
  try {
    ok = await snarkjs.groth16.verify(key.vkey, publicSignals, bundle.proof);
  } catch (err) {
    return invalid(`malformed proof: ${(err as Error).message}`, keyId);
  }
  if (!ok) return invalid('the Groth16 proof does not verify against the public signals and key', keyId);

  const output = decodePublicSignals(key, publicSignals);
  const kv = key.publicSignals.visibility;
  const bv = bundle.visibility;
  if (bv.input !== kv.input || bv.output !== kv.output || (bv.weights ?? 'constant') !== (kv.weights ?? 'constant')) {
    return invalid(`the bundle's visibility does not match the key's`, keyId);
  }
  if (!claimsMatch(output, bundle)) {
    return invalid(`the bundle's prediction (class ${bundle.prediction.class}) differs from the proved output (class ${output.prediction.class})`, keyId);
  }
  return { valid: true, modelId: kv.weights === 'private' ? bundle.modelId : keyId, keyId, output };
}
