import { z } from 'zod';
import { canonicalJson, sha256Hex } from '../util/fs.js';
import { ZkinferError } from '../util/errors.js';
import { parseWith } from './schema.js';

/**
 * The zkinfer verification key: snarkjs's Groth16 key plus what a verifier needs to decode the public
 * signals (layout, scales, labels) and how the setup was made. It never contains weights.
 * The model id is the SHA-256 of its canonical JSON, so a bundle names exactly one key.
 */
export const KEY_FORMAT = 'zkinfer-key';
export const KEY_VERSION = 1;

// Canonical decimal (no leading zeros): one encoding per value, so a bundle cannot be re-encoded.
const decimal = z.string().regex(/^(0|[1-9]\d*)$/, 'expected a canonical decimal integer string');

export const visibilitySchema = z.object({
  input: z.enum(['public', 'private']),
  output: z.enum(['logits', 'class']),
  /** Absent for constant weights (every key and bundle before private weights). */
  weights: z.enum(['constant', 'private']).optional(),
});

const ioSchema = z.object({
  name: z.string(),
  dtype: z.enum(['float', 'int', 'bool']),
  shape: z.array(z.number().int().nonnegative()),
  scale: z.number().positive(),
});

const layoutSchema = z.object({
  batch: z.number().int().min(1),
  visibility: visibilitySchema,
  logitsOffset: z.number().int().nonnegative(),
  logits: z.number().int().nonnegative(),
  /** -1: no class (a graph model without argmax: regression, scores, several outputs). */
  classIndex: z.number().int().min(-1),
  commitmentIndex: z.number().int().min(-1),
  inputOffset: z.number().int().nonnegative(),
  inputs: z.number().int().nonnegative(),
  weightsCommitmentIndex: z.number().int().nonnegative().optional(),
  total: z.number().int().positive(),
});

export const keySchema = z.object({
  format: z.literal(KEY_FORMAT),
  version: z.literal(KEY_VERSION),
  protocol: z.literal('groth16'),
  curve: z.literal('bn128'),
  model: z.object({
    name: z.string(),
    inputShape: z.array(z.number().int().positive()).min(1),
    inputBits: z.number().int().min(1).max(32),
    inputScale: z.number().positive(),
    outputSize: z.number().int().min(1),
    logitScale: z.number().positive(),
    labels: z.array(z.string()).optional(),
    circuitHash: z.string(),
    constraints: z.number().int().nonnegative(),
    notes: z.array(z.string()),
    /** Graph models: each graph input's integer encoding (integer in [lo, hi], real = integer * scale). */
    inputs: z.array(ioSchema.extend({ lo: z.number().int(), hi: z.number().int() })).min(1).optional(),
    /** Graph models: the proved outputs (the "logits" signals are their integers, concatenated in order). */
    outputs: z.array(ioSchema).min(1).optional(),
  }),
  publicSignals: layoutSchema,
  setup: z.object({
    ptau: z.object({
      kind: z.enum(['local-development', 'ceremony']),
      insecure: z.boolean(),
      power: z.number().int().positive(),
      sha256: z.string(),
    }),
    phase2: z.string(),
  }),
  vkey: z
    .object({
      protocol: z.literal('groth16'),
      curve: z.literal('bn128'),
      nPublic: z.number().int().positive(),
      vk_alpha_1: z.array(decimal),
      vk_beta_2: z.array(z.array(decimal)),
      vk_gamma_2: z.array(z.array(decimal)),
      vk_delta_2: z.array(z.array(decimal)),
      IC: z.array(z.array(decimal)),
    })
    .loose(),
});

export type ZkinferKey = z.infer<typeof keySchema>;

export function parseKey(value: unknown): ZkinferKey {
  const key = parseWith(keySchema, value, 'verification key', 'BAD_KEY');
  const total = key.publicSignals.total;
  if (key.vkey.nPublic !== total) {
    throw new ZkinferError('BAD_KEY', `malformed verification key: vkey.nPublic (${key.vkey.nPublic}) does not match publicSignals.total (${total})`);
  }
  // One IC point per public signal plus the constant term.
  if (key.vkey.IC.length !== total + 1) {
    throw new ZkinferError('BAD_KEY', `malformed verification key: vkey.IC has ${key.vkey.IC.length} points, ${total} public signals need ${total + 1}`);
  }
  return key;
}

export function modelIdOf(key: ZkinferKey): string {
  return sha256Hex(canonicalJson(key));
}
