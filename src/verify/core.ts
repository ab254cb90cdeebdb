/**
 * The zkinfer verifier core: everything needed to check a proof bundle against a key, with no Node
 * built-ins and no heavy dependencies (zod, noble-hashes, and snarkjs's Groth16 verifier). Node's
 * `verify`, the key registry and HTTP server, and the browser page (web/, built from this module by
 * scripts/build-web.mjs) all run this one copy, so they cannot drift apart.
 *
 * Strict: unknown key and bundle fields are errors, numbers have one encoding (canonical decimals, field
 * elements below p, proof coordinates below q with z = 1), and every field of the bundle's prediction must
 * equal what the proved public signals decode to.
 */
import { groth16 } from 'snarkjs';
import { parseBundle, type ProofBundle } from '../format/bundle.js';
import { chainIdOf, parseChainBundle, parseChainKey, type ChainBundle } from '../format/chain.js';
import { decodePublicSignals, claimsMismatch, type DecodedOutput } from '../format/decode.js';
import { FIELD_P } from '../format/field.js';
import { modelIdOf, parseKey, type ZkinferKey } from '../format/key.js';
import { modelIdProblem } from '../format/modelId.js';
import { ZkinferError } from '../util/errors.js';

export interface VerifyResult {
  valid: boolean;
  reason?: string;
  /** Set when the bundle itself is malformed (schema, version, encoding): the HTTP layer's 400. */
  malformed?: boolean;
  /** The model proved: the key's id, or for private weights the proved weights commitment (hex). */
  modelId?: string;
  /** The key the proof was checked with (for private weights, the architecture's key; else = modelId). */
  keyId?: string;
  output?: DecodedOutput;
  /** The key comes from a local development setup: whoever ran it can forge proofs. */
  insecureSetup?: boolean;
}

export interface VerifyOptions {
  /** The Groth16 check; default snarkjs's. The browser build passes the page's snarkjs. */
  groth16Verify?: (vkey: unknown, publicSignals: string[], proof: unknown) => Promise<boolean>;
}

function invalid(reason: string, keyId?: string): VerifyResult {
  return { valid: false, reason, ...(keyId ? { modelId: keyId } : {}) };
}

/**
 * Verify a proof bundle with a zkinfer key: only the key and the bundle, never the weights.
 * Anything wrong with the bundle (malformed, other model, tampered, a claim the proof does not make) is an
 * invalid verdict with a reason; a malformed key throws a BAD_KEY ZkinferError, because that is the
 * caller's configuration, not the prover's claim.
 */
export async function verifyBundle(keyValue: unknown, bundleValue: unknown, options: VerifyOptions = {}): Promise<VerifyResult> {
  const key: ZkinferKey = parseKey(keyValue);
  const keyId = modelIdOf(key);
  let bundle: ProofBundle;
  try {
    bundle = parseBundle(bundleValue);
  } catch (err) {
    if (err instanceof ZkinferError) return { valid: false, reason: err.message, malformed: true };
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
  const kv = key.publicSignals.visibility;
  const bv = bundle.visibility;
  if (bv.input !== kv.input || bv.output !== kv.output || (bv.weights ?? 'constant') !== (kv.weights ?? 'constant')) {
    return invalid(`the bundle's visibility does not match the key's`, keyId);
  }

  let ok: boolean;
  try {
    ok = await (options.groth16Verify ?? groth16.verify)(key.vkey, publicSignals, bundle.proof);
  } catch (err) {
    return invalid(`malformed proof: ${(err as Error)?.message ?? String(err)}`, keyId);
  }
  if (!ok) return invalid('the Groth16 proof does not verify against the public signals and key', keyId);

  const output = decodePublicSignals(key, publicSignals);
  const mismatch = claimsMismatch(output, bundle);
  if (mismatch) {
    return invalid(`the bundle's ${mismatch} differs from the proved output (class ${bundle.prediction.class} claimed, ${output.prediction.class} proved)`, keyId);
  }
  return { valid: true, modelId: kv.weights === 'private' ? bundle.modelId : keyId, keyId, output, insecureSetup: key.setup.ptau.insecure };
}

export interface ChainVerifyResult extends VerifyResult {
  /** The chain key's id (chainIdOf). */
  chainId?: string;
  /** Each chunk's verdict, in order (up to the first failure). */
  links?: VerifyResult[];
}

/**
 * Verify a split model's chain bundle with its chain key: every chunk's bundle as verifyBundle does, and
 * each chunk's proved output commitment equal to the next chunk's proved input commitment. The output is
 * the last chunk's (the model's outputs); with a public model input, the first chunk's input is the
 * model's. A malformed chain key throws BAD_KEY, as for verifyBundle.
 */
export async function verifyChain(chainKeyValue: unknown, bundleValue: unknown, options: VerifyOptions = {}): Promise<ChainVerifyResult> {
  const chain = parseChainKey(chainKeyValue);
  const chainId = chainIdOf(chain);
  let bundle: ChainBundle;
  try {
    bundle = parseChainBundle(bundleValue);
  } catch (err) {
    if (err instanceof ZkinferError) return { valid: false, reason: err.message, malformed: true };
    throw err;
  }
  const fails = (reason: string, links?: VerifyResult[]): ChainVerifyResult => ({ valid: false, reason, chainId, ...(links ? { links } : {}) });
  if (bundle.chainId !== chainId) return fails(`bundle is for chain ${bundle.chainId.slice(0, 16)}…, the key is for chain ${chainId.slice(0, 16)}…`);
  if (bundle.links.length !== chain.chunks.length) return fails(`bundle has ${bundle.links.length} links, the chain has ${chain.chunks.length} chunks`);
  const links: VerifyResult[] = [];
  for (const [j, link] of bundle.links.entries()) {
    const r = await verifyBundle(chain.chunks[j], link, options);
    links.push(r);
    if (!r.valid) return fails(`chunk ${j + 1}: ${r.reason}`, links);
    if (j > 0) {
      const out = links[j - 1].output!.outputCommitment;
      const inp = r.output!.inputCommitment;
      if (out === undefined || inp === undefined || out !== inp)
        return fails(`chunk ${j + 1}'s input commitment is not chunk ${j}'s output commitment (the link at '${chain.cuts[j - 1]}' is broken)`, links);
    }
  }
  const first = links[0];
  const last = links[links.length - 1];
  // The model's input side is the first chunk's (public integers or the model input's commitment); the
  // last chunk's own input commitment is a link, already checked.
  const { input: _i, inputCommitment: _c, ...result } = last.output!;
  const { input, inputCommitment } = first.output!;
  const output = { ...result, ...(input ? { input } : {}), ...(inputCommitment ? { inputCommitment } : {}) };
  return { valid: true, chainId, modelId: chainId, keyId: chainId, output, links, insecureSetup: links.some((l) => l.insecureSetup) };
}

export {
  parseChainKey,
  parseChainBundle,
  chainIdOf,
  chainKeySchema,
  chainBundleSchema,
  CHAIN_KEY_FORMAT,
  CHAIN_BUNDLE_FORMAT,
  CHAIN_VERSION,
  type ChainKey,
  type ChainBundle,
} from '../format/chain.js';
export { parseKey, modelIdOf, keySchema, KEY_FORMAT, KEY_VERSION, type ZkinferKey } from '../format/key.js';
export { parseBundle, bundleSchema, proofSchema, predictionSchema, BUNDLE_FORMAT, BUNDLE_VERSION, type ProofBundle, type Prediction } from '../format/bundle.js';
export { decodePublicSignals, bundleClaims, claimsMismatch, graphOutputs, type DecodedOutput, type DecodedItem, type GraphOutputValues } from '../format/decode.js';
export { keyIdOfBundle, modelIdOfCommitment, modelIdProblem } from '../format/modelId.js';
export { openingCommitmentValues } from '../format/opening.js';
export { FIELD_P, BASE_Q, fieldToSigned, signedToField } from '../format/field.js';
export { canonicalJson, sha256Hex } from '../format/canonical.js';
export { ZkinferError, type ZkinferErrorCode } from '../util/errors.js';
