/** CLI commands that need no model: verify, check-commitment, ptau (the model commands are graphCommands.ts). */
import path from 'node:path';
import { isChainBundle, verifyChainCommand } from './splitCommands.js';
import { readdir } from 'node:fs/promises';
import { inputCommitment } from '../format/commitment.js';
import { verify } from '../verify/index.js';
import { keyRegistryDir } from '../setup/index.js';
import { generateDevPtau } from '../setup/devPtau.js';
import { parseKey } from '../format/key.js';
import { ZkinferError } from '../util/errors.js';
import { exists, readJsonFile } from '../util/fs.js';
import { createProgress } from './progress.js';
import { openingCommitmentValues } from '../format/opening.js';

const INSECURE_WARNING = 'WARNING: local single-party setup. Whoever ran it could forge proofs; for production pass --ptau with a ceremony file and run a multi-party phase 2.';

const out = (line: string) => process.stdout.write(`${line}\n`);

async function findKey(modelId: string, artifacts?: string): Promise<unknown> {
  const file = path.join(keyRegistryDir(artifacts), `${modelId}.json`);
  if (!(await exists(file))) {
    const known = (await exists(keyRegistryDir(artifacts))) ? (await readdir(keyRegistryDir(artifacts))).length : 0;
    throw new ZkinferError('NOT_FOUND', `no verification key for model ${modelId.slice(0, 16)}… among ${known} known keys; pass --key FILE`);
  }
  return readJsonFile(file, 'verification key', 'BAD_KEY');
}

/** The key a bundle is checked against: --key, else the key filed under the bundle's model id. */
async function resolveKey(bundle: unknown, flags: { key?: string; artifacts?: string }): Promise<unknown> {
  if (flags.key) return readJsonFile(flags.key, 'verification key', 'BAD_KEY');
  // Private-weights bundles name their key in keyId (their modelId is the weights commitment).
  const id = (bundle as { keyId?: unknown })?.keyId ?? (bundle as { modelId?: unknown })?.modelId;
  if (typeof id !== 'string' || !/^[0-9a-f]{64}$/.test(id)) {
    throw new ZkinferError('BAD_BUNDLE', 'malformed proof bundle: modelId: missing or not a 64-digit hex id (pass --key to verify anyway)');
  }
  return findKey(id, flags.artifacts);
}

/** `zkinfer verify`: exit code 0 only for a valid proof; otherwise one line saying why. */
export async function verifyCommand(file: string, flags: { key?: string; artifacts?: string; json?: boolean }): Promise<number> {
  const bundle = await readJsonFile(file, 'proof bundle', 'BAD_BUNDLE');
  if (isChainBundle(bundle)) return verifyChainCommand(bundle, flags);
  const result = await verify(bundle, await resolveKey(bundle, flags));
  // A bundle that is not a zkinfer bundle at all (bad field, unsupported version: the verdict's `malformed`)
  // is bad input, exit 2 with the one-line error; a well-formed bundle whose proof fails is exit 1.
  if (result.malformed && !flags.json) throw new ZkinferError('BAD_BUNDLE', result.reason ?? 'malformed proof bundle');
  if (flags.json) out(JSON.stringify(result));
  else if (result.valid) {
    const items = result.output!.items;
    const classes = items.map(({ prediction: p }) => `${p.class}${p.label !== undefined && p.label !== String(p.class) ? ` (${p.label})` : ''}`);
    out(`VALID: model ${result.modelId!.slice(0, 16)}… predicts class${items.length > 1 ? 'es' : ''} ${classes.join(', ')}`);
  } else out(`INVALID: ${result.reason}`);
  return result.valid ? 0 : result.malformed ? 2 : 1;
}

/** `zkinfer check-commitment`: the proof is valid AND its input commitments open to the given inputs. */
export async function checkCommitmentCommand(file: string, flags: { opening: string; key?: string; artifacts?: string }): Promise<number> {
  const bundle = await readJsonFile(file, 'proof bundle', 'BAD_BUNDLE');
  const key = parseKey(await resolveKey(bundle, flags));
  const result = await verify(bundle, key);
  if (!result.valid) {
    out(`INVALID: ${result.reason}`);
    return 1;
  }
  const commitments = result.output!.items.map((i) => i.inputCommitment);
  if (commitments.some((c) => c === undefined)) throw new ZkinferError('BAD_BUNDLE', 'this proof has public inputs: there is no commitment to check');
  const openings = await readJsonFile(flags.opening, 'opening', 'BAD_INPUT');
  if (!Array.isArray(openings) || openings.length !== commitments.length) {
    throw new ZkinferError('BAD_INPUT', `opening file ${flags.opening} must hold ${commitments.length} openings as written by zkinfer prove`);
  }
  // Every opening is validated (length, range, canonical salt) before hashing: packing is injective only there.
  const checked = (openings as unknown[]).map((o, i) => openingCommitmentValues(key, o, i));
  let ok = true;
  for (const [i, o] of checked.entries()) if (String(await inputCommitment(o.values, o.bits, o.salt)) !== commitments[i]) ok = false;
  out(ok ? 'MATCH: the proof is valid and its input commitments open to these inputs' : 'MISMATCH: the inputs/salts do not open the proved commitments');
  return ok ? 0 : 1;
}

export async function ptauCommand(flags: { power: string; out: string }): Promise<void> {
  const power = Number(flags.power);
  const progress = createProgress();
  progress.stage(`generating a local development ptau of power ${power} (INSECURE: the generator knew tau)`);
  const { seconds } = await generateDevPtau(power, flags.out, { onProgress: (stage, d, t) => progress.update(stage, d, t) });
  progress.stop();
  out(`wrote ${flags.out} in ${seconds.toFixed(1)} s`);
  process.stderr.write(`${INSECURE_WARNING}\n`);
}
