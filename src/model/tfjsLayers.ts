import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ZkinferError, fail } from '../util/errors.js';
import { readJsonFile } from '../util/fs.js';
import type { FloatActivation, FloatLayer, FloatModel } from './types.js';

/**
 * Import a TensorFlow.js Layers model (model.json + weight shards), which is also what Keras models
 * convert to. Reads the JSON topology directly rather than through tfjs, so that an unsupported layer is
 * reported by name before anything else runs.
 */

interface LayerJson {
  class_name: string;
  config: Record<string, unknown> & { name?: string };
}

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
}

interface ManifestGroup {
  paths: string[];
  weights: WeightSpec[];
}

const IGNORED_AT_INFERENCE = new Set(['InputLayer', 'Dropout', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout']);

function layerList(topology: unknown): LayerJson[] {
  const t = topology as Record<string, unknown> | undefined;
  // tfjs writes {class_name, config}; Keras-converted models nest it under model_config.
  const root = (t?.model_config ?? t) as { class_name?: string; config?: unknown } | undefined;
  if (!root || typeof root !== 'object') fail('BAD_MODEL', 'model.json has no modelTopology');
  const config = root.config as { layers?: unknown } | unknown[] | undefined;
  const layers = Array.isArray(config) ? config : (config as { layers?: unknown })?.layers;
  if (!Array.isArray(layers)) fail('BAD_MODEL', 'model.json modelTopology has no layer list');
  if (root.class_name && root.class_name !== 'Sequential') {
    // A functional model whose layers form one chain imports the same way; branches need issue-3 support.
    for (const l of layers as Array<{ inbound_nodes?: unknown[][] }>) {
      const nodes = l.inbound_nodes ?? [];
      if (nodes.length > 1 || (nodes[0] && (nodes[0] as unknown[]).length > 1)) {
        fail('UNSUPPORTED_LAYER', `model class ${root.class_name} with branching layers is not supported`);
      }
    }
  }
  return layers as LayerJson[];
}

function activationOf(layer: LayerJson, value: unknown, isLast: boolean, notes: string[]): FloatActivation {
  const name = layer.config.name ?? '?';
  if (value === undefined || value === null || value === 'linear') return 'linear';
  if (value === 'relu') return 'relu';
  if (value === 'softmax' && isLast) {
    notes.push(`softmax of layer ${name} replaced by argmax over logits (same predicted class)`);
    return 'linear';
  }
  fail('UNSUPPORTED_LAYER', `layer ${name} (${layer.class_name}): activation '${String(value)}' is not supported (relu, linear, final softmax)`);
}

function product(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

async function readWeights(dir: string, manifest: unknown): Promise<Map<string, Float32Array>> {
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

function findWeight(weights: Map<string, Float32Array>, layerName: string, suffix: string): Float32Array | undefined {
  for (const [name, value] of weights) {
    // tfjs may append a uniquifying suffix (e.g. "dense_1/kernel_1"); match the layer scope and role.
    if (name.startsWith(`${layerName}/`) && name.slice(layerName.length + 1).replace(/_\d+$/, '') === suffix) return value;
  }
  return undefined;
}

export async function loadTfjsLayersModel(modelJsonPath: string): Promise<FloatModel> {
  const json = (await readJsonFile(modelJsonPath, 'model', 'BAD_MODEL')) as Record<string, unknown>;
  if (!json || typeof json !== 'object') fail('BAD_MODEL', `${modelJsonPath} is not a tfjs Layers model`);
  const layers = layerList(json.modelTopology);
  const weights = await readWeights(path.dirname(modelJsonPath), json.weightsManifest);
  const notes: string[] = [];
  const out: FloatLayer[] = [];
  let inputShape: number[] | undefined;
  let width: number | undefined;

  const effective = layers.filter((l) => !IGNORED_AT_INFERENCE.has(l.class_name));
  for (const l of layers) {
    const bis = l.config.batch_input_shape ?? l.config.batchInputShape;
    if (!inputShape && Array.isArray(bis)) inputShape = (bis as Array<number | null>).slice(1).map((d) => Number(d));
  }
  if (!inputShape || inputShape.some((d) => !Number.isInteger(d) || d <= 0)) {
    fail('BAD_MODEL', 'model.json does not declare a fixed input shape (batch_input_shape)');
  }
  width = product(inputShape);

  effective.forEach((layer, index) => {
    const name = String(layer.config.name ?? `layer${index}`);
    const isLast = index === effective.length - 1;
    switch (layer.class_name) {
      case 'Flatten':
      case 'Reshape':
        return; // Dense layers see the flat vector either way (row-major, channels-last).
      case 'Activation': {
        const act = activationOf(layer, layer.config.activation, isLast, notes);
        const prev = out[out.length - 1];
        if (!prev) fail('UNSUPPORTED_LAYER', `layer ${name} (Activation) has no preceding Dense layer to fuse into`);
        if (act === 'relu') {
          if (prev.activation !== 'linear') fail('UNSUPPORTED_LAYER', `layer ${name} (Activation): relu after ${prev.activation} is not supported`);
          prev.activation = 'relu';
        }
        return;
      }
      case 'ReLU': {
        const prev = out[out.length - 1];
        if (layer.config.max_value != null || Number(layer.config.negative_slope ?? 0) !== 0 || Number(layer.config.threshold ?? 0) !== 0) {
          fail('UNSUPPORTED_LAYER', `layer ${name} (ReLU): max_value/negative_slope/threshold options are not supported yet`);
        }
        if (!prev || prev.activation !== 'linear') fail('UNSUPPORTED_LAYER', `layer ${name} (ReLU) must follow a Dense layer without activation`);
        prev.activation = 'relu';
        return;
      }
      case 'Softmax':
        if (!isLast) fail('UNSUPPORTED_LAYER', `layer ${name} (Softmax): only a final softmax is supported`);
        notes.push(`softmax layer ${name} replaced by argmax over logits (same predicted class)`);
        return;
      case 'Dense': {
        const units = Number(layer.config.units);
        const kernel = findWeight(weights, name, 'kernel');
        if (!Number.isInteger(units) || units <= 0) fail('BAD_MODEL', `layer ${name} (Dense) has no valid units`);
        if (!kernel) fail('BAD_MODEL', `layer ${name} (Dense): kernel weights missing from the manifest`);
        if (kernel.length !== (width as number) * units) {
          fail('BAD_MODEL', `layer ${name} (Dense): kernel has ${kernel.length} values, expected ${width} x ${units}`);
        }
        const useBias = layer.config.use_bias !== false;
        const bias = useBias ? findWeight(weights, name, 'bias') : new Float32Array(units);
        if (!bias || bias.length !== units) fail('BAD_MODEL', `layer ${name} (Dense): bias missing or of the wrong size`);
        out.push({
          kind: 'dense',
          name,
          inputSize: width as number,
          outputSize: units,
          kernel,
          bias,
          activation: activationOf(layer, layer.config.activation, isLast, notes),
        });
        width = units;
        return;
      }
      default:
        fail('UNSUPPORTED_LAYER', `layer ${name}: type ${layer.class_name} is not supported (supported: Dense, Flatten, Reshape, ReLU, Activation, Dropout, final Softmax)`);
    }
  });
  if (out.length === 0) fail('BAD_MODEL', 'the model has no Dense layer');
  const last = out[out.length - 1];
  if (last.activation !== 'linear') {
    throw new ZkinferError('UNSUPPORTED_LAYER', `last layer ${last.name}: activation ${last.activation} on the logits is not supported`);
  }
  const name = String((json.modelTopology as { config?: { name?: string } })?.config?.name ?? path.basename(path.dirname(modelJsonPath)));
  return { name, inputShape, layers: out, notes };
}
