import { z } from 'zod';
import { ZkinferError } from '../util/errors.js';
import { BASE_Q } from './field.js';
import { visibilitySchema } from './key.js';
import { parseWith } from './schema.js';

/**
 * The proof bundle: everything a verifier needs besides the key. `prediction` is a convenience copy; the
 * verifier recomputes it from the proved public signals and rejects a bundle where the two differ.
 * Strict (unknown fields are errors) and canonical (one encoding per proof), Node-free for the browser.
 */
export const BUNDLE_FORMAT = 'zkinfer-proof';
export const BUNDLE_VERSION = 1;

// Canonical decimal (no leading zeros): one encoding per value, so a bundle cannot be re-encoded.
const DECIMAL = /^(0|[1-9]\d*)$/;
const decimal = z.string().regex(DECIMAL, 'expected a canonical decimal integer string');
const signedDecimal = z.string().regex(/^(0|-?[1-9]\d*)$/, 'expected a canonical integer string');

// A proof point coordinate: an element of the base field written once (x + q would be read as x), and
// affine (z = 1): snarkjs also reads Jacobian (x z^2, y z^3, z) as the same point, which would give one
// proof many accepted encodings and send a different point to an on-chain verifier.
// (zod runs refinements after a failed regex too: only compare what parses.)
const coordinate = decimal.refine((s) => !DECIMAL.test(s) || BigInt(s) < BASE_Q, 'expected a canonical coordinate (below the base field modulus q)');
// (Arrays with a refinement rather than tuples, so the type stays snarkjs's string[].)
const g1Point = z
  .array(coordinate)
  .length(3)
  .refine((p) => p[2] === '1', { message: 'expected "1": an affine point has z = 1', path: [2] });
const g2Point = z
  .array(z.array(coordinate).length(2))
  .length(3)
  .refine((p) => p[2]?.[0] === '1' && p[2]?.[1] === '0', { message: 'expected ["1", "0"]: an affine point has z = (1, 0)', path: [2] });

export const proofSchema = z.strictObject({
  pi_a: g1Point,
  pi_b: g2Point,
  pi_c: g1Point,
  protocol: z.literal('groth16'),
  curve: z.literal('bn128'),
});

export const predictionSchema = z.strictObject({
  /** Absent for graph models without a class (regression, scores, several outputs). */
  class: z.number().int().nonnegative().optional(),
  label: z.string().optional(),
  /** Integer logits, as strings because they may exceed 2^53 in larger models. */
  logits: z.array(signedDecimal),
  /** Logits times the logit scale: the float model's logits, approximately. */
  scores: z.array(z.number()),
  note: z.string(),
});

export const bundleSchema = z.strictObject({
  format: z.literal(BUNDLE_FORMAT),
  version: z.literal(BUNDLE_VERSION),
  protocol: z.literal('groth16'),
  curve: z.literal('bn128'),
  modelId: z.string().regex(/^[0-9a-f]{64}$/, 'expected a 64-digit hex SHA-256'),
  /** What the proof reveals; must equal the key's. */
  visibility: visibilitySchema,
  publicSignals: z.array(decimal).min(1),
  proof: proofSchema,
  /** The prediction (for a batch proof: of the first item). */
  prediction: predictionSchema,
  /** Graph models: every graph output, dequantized from the proved integers. */
  outputs: z
    .array(z.strictObject({ name: z.string(), shape: z.array(z.number().int().nonnegative()), values: z.array(z.number()) }))
    .min(1)
    .optional(),
  /** Batch proofs only: every item's prediction, in order. */
  items: z.array(predictionSchema).min(2).optional(),
  /** Private-input proofs only: each item's salted Poseidon commitment to its input (decimal). */
  inputCommitments: z.array(decimal).min(1).optional(),
  /** Private-weights proofs only: the key's id (modelId is then the weights commitment, in hex). */
  keyId: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'expected a 64-digit hex SHA-256')
    .optional(),
  /** Private-weights proofs only: the proved weights commitment (decimal). */
  weightsCommitment: decimal.optional(),
});

export type ProofBundle = z.infer<typeof bundleSchema>;
export type Prediction = z.infer<typeof predictionSchema>;

export function parseBundle(value: unknown): ProofBundle {
  if (value && typeof value === 'object' && 'version' in value && (value as { version: unknown }).version !== BUNDLE_VERSION) {
    const v = JSON.stringify((value as { version: unknown }).version);
    throw new ZkinferError('BAD_BUNDLE', `malformed proof bundle: version: unsupported version ${v} (this zkinfer reads version ${BUNDLE_VERSION})`);
  }
  return parseWith(bundleSchema, value, 'proof bundle', 'BAD_BUNDLE');
}
