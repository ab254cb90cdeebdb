import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { BUNDLE_VERSION, bundleSchema, parseBundle, type ProofBundle } from '../format/bundle.js';
import { modelIdOf, parseKey, type ZkinferKey } from '../format/key.js';
import { ZkinferError } from '../util/errors.js';
import { readJsonFile } from '../util/fs.js';
import { verify, type VerifyResult } from './index.js';
import { keyIdOfBundle } from '../format/modelId.js';

/**
 * A set of zkinfer verification keys indexed by model id, loaded once, so a verifier (the HTTP server, a
 * batch job) can check bundles for many models without touching the disk per request.
 */
export interface KeyEntry {
  modelId: string;
  key: ZkinferKey;
  /** Where the key came from (a file path, or '(memory)'). */
  source: string;
}

export interface KeyRegistry {
  readonly keys: ReadonlyMap<string, KeyEntry>;
}

/** Index keys by their real model id; the same key given twice (e.g. a renamed copy) is indexed once. */
export function createKeyRegistry(keys: Array<{ key: unknown; source?: string }>): KeyRegistry {
  const map = new Map<string, KeyEntry>();
  for (const { key: value, source = '(memory)' } of keys) {
    const key = parseKey(value);
    const modelId = modelIdOf(key);
    if (!map.has(modelId)) map.set(modelId, { modelId, key, source });
  }
  return { keys: map };
}

/**
 * Load every `*.json` file in `dir` as a zkinfer key. A file need not be named `<model id>.json`: it is
 * indexed by the id computed from its content.
 *
 * Malformed files FAIL the whole load, with one error listing every bad file and why. Serving a partial
 * registry would answer "unknown model" (404) for proofs of the broken key, hiding a configuration error
 * behind what looks like a client error; an operator should fix or remove the file instead.
 */
export async function loadKeyRegistry(dir: string): Promise<KeyRegistry> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
  } catch (err) {
    throw new ZkinferError('NOT_FOUND', `cannot read key directory ${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (names.length === 0) throw new ZkinferError('NOT_FOUND', `no zkinfer keys (*.json) in ${dir}`);
  const loaded: Array<{ key: unknown; source: string }> = [];
  const problems: string[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    try {
      const value = await readJsonFile(file, 'verification key', 'BAD_KEY');
      parseKey(value); // validate here so the error names the file
      loaded.push({ key: value, source: file });
    } catch (err) {
      if (!(err instanceof ZkinferError)) throw err;
      problems.push(`${name}: ${err.message}`);
    }
  }
  if (problems.length) {
    throw new ZkinferError('BAD_KEY', `${problems.length} malformed key file(s) in ${dir}: ${problems.join('; ')}`);
  }
  return createKeyRegistry(loaded);
}

/** Why a bundle was not accepted; the HTTP layer maps these to 400, 404 and 200 {valid:false}. */
export type VerifyFailure = 'malformed' | 'unknown-model' | 'invalid';

export interface RegistryVerdict extends VerifyResult {
  failure?: VerifyFailure;
  /** For a malformed bundle: the path of the first bad field, e.g. `proof.pi_a[1]` or `(root)`. */
  path?: string;
}

/** Path of a zod issue in the same notation as the rest of zkinfer's errors (`a.b[2].c`). */
function formatPath(parts: ReadonlyArray<PropertyKey>): string {
  if (parts.length === 0) return '(root)';
  return parts.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
}

/** The first bad field of a bundle, or null when the bundle matches the schema. */
function bundleIssue(value: unknown): { path: string; reason: string } | null {
  try {
    parseBundle(value);
    return null;
  } catch (err) {
    if (!(err instanceof ZkinferError)) throw err;
    const versioned = value !== null && typeof value === 'object' && 'version' in value;
    const result = bundleSchema.safeParse(value);
    // parseBundle checks the version before the schema; report the same field it reported.
    const wrongVersion = versioned && (value as { version: unknown }).version !== BUNDLE_VERSION;
    // A check parseBundle may add beyond the schema has no field path: report the bundle as a whole.
    const where = wrongVersion ? 'version' : result.success ? '(root)' : formatPath(result.error.issues[0].path);
    return { path: where, reason: err.message };
  }
}

/**
 * Verify a bundle against the registry: schema first (400 material), then the model id (404 material),
 * then the proof with `verify` (a verdict either way).
 */
export async function verifyWithRegistry(value: unknown, registry: KeyRegistry): Promise<RegistryVerdict> {
  const issue = bundleIssue(value);
  if (issue) return { valid: false, failure: 'malformed', reason: issue.reason, path: issue.path };
  const bundle = value as ProofBundle;
  // Private-weights bundles name their key in keyId (their modelId is the weights commitment).
  const entry = registry.keys.get(keyIdOfBundle(bundle));
  if (!entry) {
    const what = bundle.keyId ? `key id ${bundle.keyId}` : `model id ${bundle.modelId}`;
    return { valid: false, failure: 'unknown-model', modelId: bundle.modelId, reason: `unknown ${what}: no key for it among ${registry.keys.size} loaded` };
  }
  const result = await verify(bundle, entry.key);
  return result.valid ? result : { ...result, modelId: entry.modelId, failure: 'invalid' };
}
