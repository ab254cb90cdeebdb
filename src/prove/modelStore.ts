import path from 'node:path';
import { modelIdOf, parseKey } from '../format/key.js';
import type { GraphModel } from '../graph/pipeline.js';
import type { CompiledModel } from '../setup/index.js';
import { ZkinferError } from '../util/errors.js';
import { defaultArtifactsDir, exists, readJsonFile, writeFileAtomic } from '../util/fs.js';

/**
 * The model store: where a prover finds everything it needs to prove for a model id. setupModel files the
 * verification key under artifacts/keys/by-id/<id>.json; `storeModel` adds artifacts/models/by-id/<id>.json (not
 * beside the keys: the verification server loads every *.json there as a key),
 * a manifest holding the integer program (graph models) or the quantized model (layer models with private
 * weights), the public layout and the circuit/zkey paths RELATIVE to the
 * artifacts directory, so one artifacts directory can be shared (NFS, a copied tree) and mounted at another
 * path on each machine. The zkey is the proving key: the same model set up twice gets a different zkey
 * (the phase-2 contribution is random) and so a different model id; provers must share the setup's files.
 */
export const MANIFEST_FORMAT = 'zkinfer-model-manifest';
export const MANIFEST_VERSION = 1;
const MODEL_ID = /^[0-9a-f]{64}$/;

/** A set-up model a prover can prove with: a graph model (`program`) or a layer model (`qmodel`). */
export type StoredModel = GraphModel | CompiledModel;

interface Manifest {
  format: typeof MANIFEST_FORMAT;
  version: typeof MANIFEST_VERSION;
  modelId: string;
  /** The model with every path relative to the artifacts directory. */
  model: StoredModel;
}

export function manifestPath(modelId: string, artifactsDir?: string): string {
  return path.join(artifactsDir ?? defaultArtifactsDir(), 'models', 'by-id', `${modelId}.json`);
}

function mapPaths<M extends StoredModel>(model: M, f: (p: string) => string): M {
  const c = model.circuit;
  return {
    ...model,
    zkeyPath: f(model.zkeyPath),
    circuit: { ...c, dir: f(c.dir), circomPath: f(c.circomPath), r1csPath: f(c.r1csPath), wasmPath: f(c.wasmPath), symPath: f(c.symPath) },
  };
}

/** File a set-up model so that provers sharing `artifactsDir` can load it by id. Returns the manifest path. */
export async function storeModel(model: StoredModel, artifactsDir?: string): Promise<string> {
  // A linked circuit's witness needs its link plan (gadget calculators, eliminations), which a manifest
  // does not carry yet: refuse rather than file a model no prover could load.
  if ('linked' in model && model.linked) {
    throw new ZkinferError(
      'BAD_INPUT',
      `model ${model.modelId} was linked (too big for circom's witness generator), and linked models cannot be filed for the prove server or queue yet: prove it with \`zkinfer prove\` or the library`,
    );
  }
  const root = path.resolve(artifactsDir ?? defaultArtifactsDir());
  const relative = (p: string) => {
    const rel = path.relative(root, path.resolve(p));
    if (rel.startsWith('..') || path.isAbsolute(rel)) {
      throw new ZkinferError('BAD_INPUT', `model file ${p} is outside the artifacts directory ${root}: set the model up with this artifacts directory`);
    }
    return rel;
  };
  const manifest: Manifest = { format: MANIFEST_FORMAT, version: MANIFEST_VERSION, modelId: model.modelId, model: mapPaths(model, relative) };
  const file = manifestPath(model.modelId, root);
  await writeFileAtomic(file, JSON.stringify(manifest));
  return file;
}

/**
 * Load a stored model by id. An unknown id is a NOT_FOUND ZkinferError (the caller's mistake); a manifest
 * whose key does not hash to its id or whose files are missing is a BAD_MODEL error (a broken store).
 */
export async function loadStoredModel(modelId: string, artifactsDir?: string): Promise<StoredModel> {
  if (!MODEL_ID.test(modelId)) throw new ZkinferError('BAD_INPUT', `model id must be 64 lowercase hex digits, got ${JSON.stringify(String(modelId).slice(0, 80))}`);
  const root = path.resolve(artifactsDir ?? defaultArtifactsDir());
  const file = manifestPath(modelId, root);
  if (!(await exists(file))) throw new ZkinferError('NOT_FOUND', `unknown model id ${modelId}: no model manifest ${file} (run setup with this artifacts directory)`);
  const manifest = (await readJsonFile(file, 'model manifest', 'BAD_MODEL')) as Partial<Manifest>;
  if (manifest.format !== MANIFEST_FORMAT || manifest.version !== MANIFEST_VERSION || !manifest.model) {
    throw new ZkinferError('BAD_MODEL', `${file} is not a ${MANIFEST_FORMAT} version ${MANIFEST_VERSION}`);
  }
  const model = mapPaths(manifest.model, (p) => path.join(root, p));
  const key = parseKey(model.key);
  if (modelIdOf(key) !== modelId || model.modelId !== modelId) throw new ZkinferError('BAD_MODEL', `${file}: its key hashes to ${modelIdOf(key)}, not ${modelId}`);
  for (const p of [model.zkeyPath, model.circuit.wasmPath]) {
    if (!(await exists(p))) throw new ZkinferError('BAD_MODEL', `model ${modelId}: missing ${p} in the artifacts directory`);
  }
  return { ...model, key };
}
