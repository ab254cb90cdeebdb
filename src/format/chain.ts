import { z } from 'zod';
import { canonicalJson, sha256Hex } from './canonical.js';
import { bundleSchema, type ProofBundle } from './bundle.js';
import { keySchema, parseKey, type ZkinferKey } from './key.js';
import { parseWith } from './schema.js';
import { ZkinferError } from '../util/errors.js';

/**
 * A model split across provers (src/graph/split.ts): the chain key lists every chunk's zkinfer key, in
 * order; the chain bundle carries one ordinary proof bundle per chunk. Chunk j (all but the last) makes
 * public a salted Poseidon commitment to its outputs, and chunk j + 1 the commitment to its input: the
 * verifier (verify/core.ts verifyChain) checks every proof and that the two are equal. The first chunk's
 * input and the last chunk's outputs are the model's, decoded as for a whole-model bundle. The chain id is
 * the SHA-256 of the chain key's canonical JSON, so a chain bundle names exactly one chain of keys.
 * Strict and Node-free, like the key and bundle schemas.
 */
export const CHAIN_KEY_FORMAT = 'zkinfer-chain-key';
export const CHAIN_BUNDLE_FORMAT = 'zkinfer-chain-proof';
export const CHAIN_VERSION = 1;

export const chainKeySchema = z.strictObject({
  format: z.literal(CHAIN_KEY_FORMAT),
  version: z.literal(CHAIN_VERSION),
  /** The cut tensors, in order (chunk j ends at cuts[j]). */
  cuts: z.array(z.string()).min(1),
  chunks: z.array(keySchema).min(2),
});

export const chainBundleSchema = z.strictObject({
  format: z.literal(CHAIN_BUNDLE_FORMAT),
  version: z.literal(CHAIN_VERSION),
  chainId: z.string().regex(/^[0-9a-f]{64}$/, 'expected a 64-digit hex SHA-256'),
  /** One proof bundle per chunk, in chain order. */
  links: z.array(bundleSchema).min(2),
});

export type ChainKey = z.infer<typeof chainKeySchema>;
export type ChainBundle = z.infer<typeof chainBundleSchema>;

/** Parse a chain key: each chunk a valid key, linked by commitments of one size. */
export function parseChainKey(value: unknown): ChainKey {
  const chain = parseWith(chainKeySchema, value, 'chain key', 'BAD_KEY');
  const bad = (m: string) => new ZkinferError('BAD_KEY', `malformed chain key: ${m}`);
  if (chain.cuts.length !== chain.chunks.length - 1) throw bad(`${chain.chunks.length} chunks need ${chain.chunks.length - 1} cuts, got ${chain.cuts.length}`);
  chain.chunks.forEach((k, j) => {
    const key: ZkinferKey = parseKey(k);
    const l = key.publicSignals;
    const last = j === chain.chunks.length - 1;
    if (l.batch !== 1) throw bad(`chunks[${j}]: a chunk proves one inference (batch 1)`);
    if (!last && (l.outputCommitmentIndex === undefined || l.logits !== 0 || l.classIndex >= 0))
      throw bad(`chunks[${j}]: every chunk but the last commits its outputs (and makes none public)`);
    if (last && l.outputCommitmentIndex !== undefined) throw bad(`chunks[${j}]: the last chunk's outputs are the model's, not committed`);
    if (j > 0 && (l.visibility.input !== 'private' || l.commitmentIndex < 0)) throw bad(`chunks[${j}]: every chunk but the first takes a committed (private) input`);
    if (j > 0 && chain.chunks[j - 1].model.outputSize !== key.model.inputShape.reduce((a, b) => a * b, 1))
      throw bad(`chunks[${j}]: its input size differs from chunks[${j - 1}]'s output size`);
  });
  return chain;
}

export function chainIdOf(chain: ChainKey): string {
  return sha256Hex(canonicalJson(chain));
}

export function parseChainBundle(value: unknown): ChainBundle {
  return parseWith(chainBundleSchema, value, 'chain proof bundle', 'BAD_BUNDLE');
}

export type { ProofBundle };
