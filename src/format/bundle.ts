import { z } from 'zod';
import { ZkinferError } from '../util/errors.js';
import { visibilitySchema } from './key.js';
import { parseWith } from './schema.js';

/**
 * The proof bundle: everything a verifier needs besides the key. `prediction` is a convenience copy; the
 * verifier recomputes it from the proved public signals and rejects a bundle where the two differ.
 */
export const BUNDLE_FORMAT = 'zkinfer-proof';
export const BUNDLE_VERSION = 1;

// Canonical decimal (no leading zeros): one encoding per value, so a bundle cannot be re-encoded.
const decimal = z.string().regex(/^(0|[1-9]\d*)$/, 'expected a canonical decimal integer string');
const signedDecimal = z.string().regex(/^(0|-?[1-9]\d*)$/, 'expected a canonical integer string');

export const proofSchema = z.object({
  pi_a: z.array(decimal).length(3),
  pi_b: z.array(z.array(decimal).length(2)).length(3),
  pi_c: z.array(decimal).length(3),
  protocol: z.literal('groth16'),
  curve: z.literal('bn128'),
});

export const predictionSchema = z.object({
  /** Absent for graph models without a class (regression, scores, several outputs). */
  class: z.number().int().nonnegative().optional(),
  label: z.string().optional(),
  /** Integer logits, as strings because they may exceed 2^53 in larger models. */
  logits: z.array(signedDecimal),
  /** Logits times the logit scale: the float model's logits, approximately. */
  scores: z.array(z.number()),
  note: z.string(),
});

export const bundleSchema = z.object({
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
  outputs: z.array(z.object({ name: z.string(), shape: z.array(z.number().int().nonnegative()), values: z.array(z.number()) })).min(1).optional(),
  /** Batch proofs only: every item's prediction, in order. */
  items: z.array(predictionSchema).min(2).optional(),
  /** Private-input proofs only: each item's salted Poseidon commitment to its input (decimal). */
  inputCommitments: z.array(decimal).min(1).optional(),
  /** Private-weights proofs only: the key's id (modelId is then the weights commitment, in hex). */
  keyId: z.string().regex(/^[0-9a-f]{64}$/, 'expected a 64-digit hex SHA-256').optional(),
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
