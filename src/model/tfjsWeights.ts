import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fail } from '../util/errors.js';
import { readJsonFile } from '../util/fs.js';

/** Weights of a tfjs Layers model: the float32 values listed in model.json's weightsManifest, by name. */

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
}

interface ManifestGroup {
  paths: string[];
  weights: WeightSpec[];
}

function product(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export async function readWeights(dir: string, manifest: unknown): Promise<Map<string, Float32Array>> {
  if (!Array.isArray(manifest)) fail('BAD_MODEL', 'model.json has no weightsManifest');
  const out = new Map<string, Float32Array>();
  for (const group of manifest as ManifestGroup[]) {
    if (!Array.isArray(group?.paths) || !Array.isArray(group?.weights)) fail('BAD_MODEL', 'malformed weightsManifest group');
    const buffers: Buffer[] = [];
    for (const p of group.paths) {
      const file = path.resolve(dir, p);
      if (path.relative(dir, file).startsWith('..')) fail('BAD_MODEL', `weight shard path ${p} points outside the model directory`);
      try {
        buffers.push(await readFile(file));
      } catch {
        fail('BAD_MODEL', `weight shard ${p} not found next to model.json`);
      }
    }
    for (const [name, value] of decodeWeightData(group.weights, Buffer.concat(buffers))) out.set(name, value);
  }
  return out;
}

/**
 * The weights of `specs` (a manifest group's `weights`, or every group's in order) from their bytes,
 * concatenated as tfjs stores them (a group's shards in order; tf.io's `weightData` for all of them).
 */
export function decodeWeightData(specs: unknown, data: Uint8Array): Map<string, Float32Array> {
  if (!Array.isArray(specs)) fail('BAD_MODEL', 'malformed weight specs (not a list)');
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const out = new Map<string, Float32Array>();
  let offset = 0;
  for (const w of specs as WeightSpec[]) {
    if (w?.dtype !== 'float32') fail('BAD_MODEL', `weight ${w?.name}: dtype ${w?.dtype} is not supported (float32 only)`);
    // A stored weight has a concrete shape: -1 (tfjs's "any size") or a fraction would give a negative or
    // fractional element count.
    if (!Array.isArray(w.shape) || !w.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail('BAD_MODEL', `weight ${w.name}: shape ${JSON.stringify(w.shape)} in the weights manifest must be a list of non-negative integers`);
    }
    const n = product(w.shape);
    if (offset + n * 4 > bytes.length) fail('BAD_MODEL', `weight shards are shorter than the manifest says (at ${w.name})`);
    const copy = new Float32Array(n);
    for (let i = 0; i < n; i++) copy[i] = bytes.readFloatLE(offset + 4 * i);
    for (const v of copy) if (!Number.isFinite(v)) fail('BAD_MODEL', `weight ${w.name} contains a non-finite value`);
    out.set(w.name, copy);
    offset += n * 4;
  }
  if (offset !== bytes.length) fail('BAD_MODEL', `weight shards hold ${bytes.length} bytes but the manifest describes ${offset}`);
  return out;
}

/** A model.json file as both tfjs importers read it: the parsed JSON, its weights, and the model's name. */
export interface TfjsModelFiles {
  json: Record<string, unknown>;
  weights: Map<string, Float32Array>;
  name: string;
}

export async function readTfjsModelFiles(modelJsonPath: string): Promise<TfjsModelFiles> {
  const json = (await readJsonFile(modelJsonPath, 'model', 'BAD_MODEL')) as Record<string, unknown>;
  if (!json || typeof json !== 'object' || Array.isArray(json)) fail('BAD_MODEL', `${modelJsonPath} is not a tfjs Layers model`);
  const weights = await readWeights(path.dirname(modelJsonPath), json.weightsManifest);
  return { json, weights, name: tfjsModelName(json, path.basename(path.dirname(modelJsonPath))) };
}

/** The name the topology gives the model (its config's `name`), else `fallback`. */
export function tfjsModelName(json: Record<string, unknown>, fallback: string): string {
  const name = (json.modelTopology as { config?: { name?: unknown } } | undefined)?.config?.name;
  return typeof name === 'string' && name ? name : fallback;
}

export function findWeight(weights: Map<string, Float32Array>, layerName: string, suffix: string): Float32Array | undefined {
  for (const [name, value] of weights) {
    // tfjs may append a uniquifying suffix (e.g. "dense_1/kernel_1"); match the layer scope and role.
    if (name.startsWith(`${layerName}/`) && name.slice(layerName.length + 1).replace(/_\d+$/, '') === suffix) return value;
  }
  return undefined;
}
