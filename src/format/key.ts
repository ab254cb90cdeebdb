import { z } from 'zod';
import { canonicalJson, sha256Hex } from './canonical.js';
import { ZkinferError } from '../util/errors.js';
import { parseWith } from './schema.js';

/**
 * The zkinfer verification key: snarkjs's Groth16 key plus what a verifier needs to decode the public
 * signals (layout, scales, labels) and how the setup was made. It never contains weights.
 * The model id is the SHA-256 of its canonical JSON, so a bundle names exactly one key. Every object is
 * strict (an unknown field is an error): a key with an extra field would otherwise have two ids, the hash
 * of what was given and the hash of what was read. Node-free: the browser verifier uses this schema too.
 */
export const KEY_FORMAT = 'zkinfer-key';
export const KEY_VERSION = 1;

// Canonical decimal (no leading zeros): one encoding per value, so a bundle cannot be re-encoded.
const decimal = z.string().regex(/^(0|[1-9]\d*)$/, 'expected a canonical decimal integer string');

// Points as snarkjs writes them (projective, decimal coordinates).
const g1 = z.array(decimal).length(3);
const g2 = z.array(z.array(decimal).length(2)).length(3);

export const visibilitySchema = z.strictObject({
  input: z.enum(['public', 'private']),
  output: z.enum(['logits', 'class']),
  /** Absent for constant weights (every key and bundle before private weights). */
  weights: z.enum(['constant', 'private']).optional(),
});

const ioSchema = z.strictObject({
  name: z.string(),
  dtype: z.enum(['float', 'int', 'bool']),
  shape: z.array(z.number().int().nonnegative()),
  scale: z.number().positive(),
});

const layoutSchema = z.strictObject({
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
  /** A split model's chunk (all but the last): the salted Poseidon commitment to its outputs, which are not public. */
  outputCommitmentIndex: z.number().int().nonnegative().optional(),
  total: z.number().int().positive(),
});

export const keySchema = z.strictObject({
  format: z.literal(KEY_FORMAT),
  version: z.literal(KEY_VERSION),
  protocol: z.literal('groth16'),
  curve: z.literal('bn128'),
  model: z.strictObject({
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
    inputs: z
      .array(ioSchema.extend({ lo: z.number().int(), hi: z.number().int() }))
      .min(1)
      .optional(),
    /** Graph models: the proved outputs (the "logits" signals are their integers, concatenated in order). */
    outputs: z.array(ioSchema).min(1).optional(),
  }),
  publicSignals: layoutSchema,
  setup: z.strictObject({
    ptau: z.strictObject({
      kind: z.enum(['local-development', 'ceremony']),
      insecure: z.boolean(),
      power: z.number().int().positive(),
      sha256: z.string(),
    }),
    phase2: z.string(),
  }),
  vkey: z.strictObject({
    protocol: z.literal('groth16'),
    curve: z.literal('bn128'),
    nPublic: z.number().int().positive(),
    vk_alpha_1: g1,
    vk_beta_2: g2,
    vk_gamma_2: g2,
    vk_delta_2: g2,
    /** snarkjs precomputes e(alpha, beta) into exported keys; its verifier does not read it. */
    vk_alphabeta_12: z
      .array(z.array(z.array(decimal).length(2)).length(3))
      .length(2)
      .optional(),
    IC: z.array(g1).min(1),
  }),
});

export type ZkinferKey = z.infer<typeof keySchema>;

export function parseKey(value: unknown): ZkinferKey {
  const key = parseWith(keySchema, value, 'verification key', 'BAD_KEY');
  const { nPublic, IC } = key.vkey;
  const total = key.publicSignals.total;
  if (nPublic !== total) throw new ZkinferError('BAD_KEY', `malformed verification key: vkey.nPublic (${nPublic}) does not match publicSignals.total (${total})`);
  if (IC.length !== total + 1) throw new ZkinferError('BAD_KEY', `malformed verification key: vkey.IC has ${IC.length} points, ${total} public signals need ${total + 1}`);
  const w = key.publicSignals.weightsCommitmentIndex;
  if (key.publicSignals.visibility.weights === 'private' && (w === undefined || w >= total)) {
    throw new ZkinferError('BAD_KEY', 'malformed verification key: publicSignals.weightsCommitmentIndex: a private-weights key needs the index of its weights commitment');
  }
  return key;
}

export function modelIdOf(key: ZkinferKey): string {
  return sha256Hex(canonicalJson(key));
}
