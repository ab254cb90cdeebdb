import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fail } from '../util/errors.js';

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
    const bytes = Buffer.concat(buffers);
    let offset = 0;
    for (const w of group.weights) {
      if (w.dtype !== 'float32') fail('BAD_MODEL', `weight ${w.name}: dtype ${w.dtype} is not supported (float32 only)`);
      const n = product(w.shape);
      if (offset + n * 4 > bytes.length) fail('BAD_MODEL', `weight shards are shorter than the manifest says (at ${w.name})`);
      const copy = new Float32Array(n);
      for (let i = 0; i < n; i++) copy[i] = bytes.readFloatLE(offset + 4 * i);
      for (const v of copy) if (!Number.isFinite(v)) fail('BAD_MODEL', `weight ${w.name} contains a non-finite value`);
      out.set(w.name, copy);
      offset += n * 4;
    }
    if (offset !== bytes.length) fail('BAD_MODEL', `weight shards hold ${bytes.length} bytes but the manifest describes ${offset}`);
  }
  return out;
}

export function findWeight(weights: Map<string, Float32Array>, layerName: string, suffix: string): Float32Array | undefined {
  for (const [name, value] of weights) {
    // tfjs may append a uniquifying suffix (e.g. "dense_1/kernel_1"); match the layer scope and role.
    if (name.startsWith(`${layerName}/`) && name.slice(layerName.length + 1).replace(/_\d+$/, '') === suffix) return value;
  }
  return undefined;
}
