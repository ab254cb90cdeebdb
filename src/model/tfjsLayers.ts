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
  if (value === 'relu6') return 'relu6';
  if (value === 'softmax' && isLast) {
    notes.push(`softmax of layer ${name} replaced by argmax over logits (same predicted class)`);
    return 'linear';
  }
  fail('UNSUPPORTED_LAYER', `layer ${name} (${layer.class_name}): activation '${String(value)}' is not supported (relu, relu6, linear, final softmax)`);
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

type Conv = FloatLayer & { kind: 'conv2d' };
type WithActivation = FloatLayer & { activation: FloatActivation };

function pair(v: unknown, what: string, name: string): [number, number] {
  const arr = Array.isArray(v) ? v : [v, v];
  const [a, b] = arr.map(Number);
  if (!Number.isInteger(a) || !Number.isInteger(b) || a <= 0 || b <= 0) fail('BAD_MODEL', `layer ${name}: bad ${what} ${JSON.stringify(v)}`);
  return [a, b];
}

/** Output size and TF-style padding (SAME puts the extra row/column at the bottom/right). */
function spatial(inSize: number, k: number, stride: number, padding: string): { out: number; before: number; after: number } {
  if (padding === 'valid') return { out: Math.floor((inSize - k) / stride) + 1, before: 0, after: 0 };
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + k - inSize, 0);
  return { out, before: Math.floor(total / 2), after: total - Math.floor(total / 2) };
}

function need3d(shape: number[], name: string, type: string): [number, number, number] {
  if (shape.length !== 3) fail('UNSUPPORTED_LAYER', `layer ${name} (${type}) needs a [height, width, channels] input, got [${shape.join(', ')}]`);
  return shape as [number, number, number];
}

function checkChannelsLast(layer: LayerJson, name: string): void {
  const format = layer.config.data_format ?? 'channels_last';
  if (format !== 'channels_last') fail('UNSUPPORTED_LAYER', `layer ${name} (${layer.class_name}): data_format ${String(format)} is not supported (channels_last only)`);
}

function convLayer(layer: LayerJson, name: string, shape: number[], weights: Map<string, Float32Array>, isLast: boolean, notes: string[]): Conv {
  const depthwise = layer.class_name === 'DepthwiseConv2D';
  const [H, W, C] = need3d(shape, name, layer.class_name);
  checkChannelsLast(layer, name);
  const kernelSize = pair(layer.config.kernel_size, 'kernel_size', name);
  const strides = pair(layer.config.strides ?? 1, 'strides', name);
  const dilation = pair(layer.config.dilation_rate ?? 1, 'dilation_rate', name);
  if (dilation[0] !== 1 || dilation[1] !== 1) fail('UNSUPPORTED_LAYER', `layer ${name} (${layer.class_name}): dilation_rate ${dilation.join('x')} is not supported`);
  if (Number(layer.config.groups ?? 1) !== 1) fail('UNSUPPORTED_LAYER', `layer ${name} (${layer.class_name}): groups ${String(layer.config.groups)} is not supported`);
  if (depthwise && Number(layer.config.depth_multiplier ?? 1) !== 1) fail('UNSUPPORTED_LAYER', `layer ${name} (DepthwiseConv2D): depth_multiplier ${String(layer.config.depth_multiplier)} is not supported`);
  const padding = String(layer.config.padding ?? 'valid');
  if (padding !== 'valid' && padding !== 'same') fail('UNSUPPORTED_LAYER', `layer ${name} (${layer.class_name}): padding ${padding} is not supported`);
  const outC = depthwise ? C : Number(layer.config.filters);
  const rows = spatial(H, kernelSize[0], strides[0], padding);
  const cols = spatial(W, kernelSize[1], strides[1], padding);
  if (rows.out <= 0 || cols.out <= 0) fail('BAD_MODEL', `layer ${name} (${layer.class_name}): kernel larger than its ${H}x${W} input`);
  const kernel = findWeight(weights, name, depthwise ? 'depthwise_kernel' : 'kernel');
  const expected = kernelSize[0] * kernelSize[1] * C * (depthwise ? 1 : outC);
  if (!kernel || kernel.length !== expected) fail('BAD_MODEL', `layer ${name} (${layer.class_name}): kernel missing or not ${kernelSize.join('x')}x${C}x${depthwise ? 1 : outC}`);
  const bias = layer.config.use_bias === false ? new Float32Array(outC) : findWeight(weights, name, 'bias');
  if (!bias || bias.length !== outC) fail('BAD_MODEL', `layer ${name} (${layer.class_name}): bias missing or of the wrong size`);
  return {
    kind: 'conv2d', name, inShape: [H, W, C], outShape: [rows.out, cols.out, outC], kernelSize, strides,
    pads: [rows.before, cols.before, rows.after, cols.after], depthwise, kernel, bias,
    activation: activationOf(layer, layer.config.activation, isLast, notes),
  };
}

/** Fold BatchNormalization (inference statistics) into the preceding Dense/Conv2D's weights and bias. */
function foldBatchNorm(layer: LayerJson, name: string, prev: FloatLayer | undefined, weights: Map<string, Float32Array>): void {
  if (!prev || (prev.kind !== 'dense' && prev.kind !== 'conv2d') || prev.activation !== 'linear') {
    fail('UNSUPPORTED_LAYER', `layer ${name} (BatchNormalization) must directly follow a Dense or Conv2D without activation`);
  }
  const axis = Number(Array.isArray(layer.config.axis) ? layer.config.axis[0] : (layer.config.axis ?? -1));
  if (axis !== -1 && axis !== (prev.kind === 'dense' ? 1 : 3)) fail('UNSUPPORTED_LAYER', `layer ${name} (BatchNormalization): axis ${axis} is not the channel axis`);
  const channels = prev.kind === 'dense' ? prev.outputSize : prev.outShape[2];
  const get = (role: string, fallback: number) => {
    const w = findWeight(weights, name, role);
    if (w && w.length !== channels) fail('BAD_MODEL', `layer ${name} (BatchNormalization): ${role} has ${w.length} values, expected ${channels}`);
    return w ?? new Float32Array(channels).fill(fallback);
  };
  const gamma = layer.config.scale === false ? new Float32Array(channels).fill(1) : get('gamma', 1);
  const beta = layer.config.center === false ? new Float32Array(channels).fill(0) : get('beta', 0);
  const mean = findWeight(weights, name, 'moving_mean');
  const variance = findWeight(weights, name, 'moving_variance');
  if (!mean || !variance) fail('BAD_MODEL', `layer ${name} (BatchNormalization): moving_mean/moving_variance missing`);
  const eps = Number(layer.config.epsilon ?? 1e-3);
  const factor = Array.from(gamma, (g, c) => g / Math.sqrt(variance[c] + eps));
  prev.kernel = Float32Array.from(prev.kernel, (w, k) => w * factor[k % channels]);
  prev.bias = Float32Array.from(prev.bias, (b, c) => (b - mean[c]) * factor[c] + beta[c]);
}

export async function loadTfjsLayersModel(modelJsonPath: string): Promise<FloatModel> {
  const json = (await readJsonFile(modelJsonPath, 'model', 'BAD_MODEL')) as Record<string, unknown>;
  if (!json || typeof json !== 'object') fail('BAD_MODEL', `${modelJsonPath} is not a tfjs Layers model`);
  const layers = layerList(json.modelTopology);
  const weights = await readWeights(path.dirname(modelJsonPath), json.weightsManifest);
  const notes: string[] = [];
  const out: FloatLayer[] = [];
  let inputShape: number[] | undefined;

  const effective = layers.filter((l) => !IGNORED_AT_INFERENCE.has(l.class_name));
  for (const l of layers) {
    const bis = l.config.batch_input_shape ?? l.config.batchInputShape;
    if (!inputShape && Array.isArray(bis)) inputShape = (bis as Array<number | null>).slice(1).map((d) => Number(d));
  }
  if (!inputShape || inputShape.some((d) => !Number.isInteger(d) || d <= 0)) {
    fail('BAD_MODEL', 'model.json does not declare a fixed input shape (batch_input_shape)');
  }
  let shape = [...inputShape];
  const lastWithActivation = (name: string, type: string): WithActivation => {
    const prev = out[out.length - 1];
    if (!prev || (prev.kind !== 'dense' && prev.kind !== 'conv2d')) fail('UNSUPPORTED_LAYER', `layer ${name} (${type}) must follow a Dense or Conv2D layer`);
    if (prev.activation !== 'linear') fail('UNSUPPORTED_LAYER', `layer ${name} (${type}): an activation after ${prev.activation} is not supported`);
    return prev;
  };

  effective.forEach((layer, index) => {
    const name = String(layer.config.name ?? `layer${index}`);
    const isLast = index === effective.length - 1;
    switch (layer.class_name) {
      case 'Flatten':
      case 'Reshape': {
        const target = layer.config.target_shape as number[] | undefined;
        if (layer.class_name === 'Reshape' && !(Array.isArray(target) && target.length === 1)) {
          fail('UNSUPPORTED_LAYER', `layer ${name} (Reshape): only flattening reshapes are supported (target_shape ${JSON.stringify(target)})`);
        }
        shape = [product(shape)]; // channels-last row-major data is already in flattened order
        return;
      }
      case 'Activation': {
        const act = activationOf(layer, layer.config.activation, isLast, notes);
        if (act !== 'linear') lastWithActivation(name, 'Activation').activation = act;
        return;
      }
      case 'ReLU': {
        const max = layer.config.max_value;
        if ((max != null && Number(max) !== 6) || Number(layer.config.negative_slope ?? 0) !== 0 || Number(layer.config.threshold ?? 0) !== 0) {
          fail('UNSUPPORTED_LAYER', `layer ${name} (ReLU): max_value ${String(max)}, negative_slope or threshold are not supported (plain ReLU or ReLU6 only)`);
        }
        lastWithActivation(name, 'ReLU').activation = max == null ? 'relu' : 'relu6';
        return;
      }
      case 'Softmax':
        if (!isLast) fail('UNSUPPORTED_LAYER', `layer ${name} (Softmax): only a final softmax is supported`);
        notes.push(`softmax layer ${name} replaced by argmax over logits (same predicted class)`);
        return;
      case 'BatchNormalization':
        foldBatchNorm(layer, name, out[out.length - 1], weights);
        notes.push(`batch normalization ${name} folded into ${out[out.length - 1].name}`);
        return;
      case 'Conv2D':
      case 'DepthwiseConv2D': {
        const conv = convLayer(layer, name, shape, weights, isLast, notes);
        out.push(conv);
        shape = [...conv.outShape];
        return;
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        const [H, W, C] = need3d(shape, name, layer.class_name);
        checkChannelsLast(layer, name);
        const poolSize = pair(layer.config.pool_size ?? 2, 'pool_size', name);
        const strides = pair(layer.config.strides ?? poolSize, 'strides', name);
        if ((layer.config.padding ?? 'valid') !== 'valid') fail('UNSUPPORTED_LAYER', `layer ${name} (${layer.class_name}): padding ${String(layer.config.padding)} is not supported (valid only)`);
        const outShape: [number, number, number] = [spatial(H, poolSize[0], strides[0], 'valid').out, spatial(W, poolSize[1], strides[1], 'valid').out, C];
        out.push({ kind: layer.class_name === 'MaxPooling2D' ? 'maxpool' : 'avgpool', name, inShape: [H, W, C], outShape, poolSize, strides });
        shape = [...outShape];
        return;
      }
      case 'GlobalAveragePooling2D': {
        const inShape = need3d(shape, name, layer.class_name);
        checkChannelsLast(layer, name);
        if (layer.config.keepdims === true) fail('UNSUPPORTED_LAYER', `layer ${name} (GlobalAveragePooling2D): keepdims is not supported`);
        out.push({ kind: 'globalavgpool', name, inShape });
        shape = [inShape[2]];
        return;
      }
      case 'Dense': {
        if (shape.length !== 1) fail('UNSUPPORTED_LAYER', `layer ${name} (Dense) on a [${shape.join(', ')}] tensor needs a Flatten first`);
        const width = shape[0];
        const units = Number(layer.config.units);
        const kernel = findWeight(weights, name, 'kernel');
        if (!Number.isInteger(units) || units <= 0) fail('BAD_MODEL', `layer ${name} (Dense) has no valid units`);
        if (!kernel) fail('BAD_MODEL', `layer ${name} (Dense): kernel weights missing from the manifest`);
        if (kernel.length !== width * units) fail('BAD_MODEL', `layer ${name} (Dense): kernel has ${kernel.length} values, expected ${width} x ${units}`);
        const bias = layer.config.use_bias === false ? new Float32Array(units) : findWeight(weights, name, 'bias');
        if (!bias || bias.length !== units) fail('BAD_MODEL', `layer ${name} (Dense): bias missing or of the wrong size`);
        out.push({ kind: 'dense', name, inputSize: width, outputSize: units, kernel, bias, activation: activationOf(layer, layer.config.activation, isLast, notes) });
        shape = [units];
        return;
      }
      default:
        fail(
          'UNSUPPORTED_LAYER',
          `layer ${name}: type ${layer.class_name} is not supported (supported: Dense, Conv2D, DepthwiseConv2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, BatchNormalization, Flatten, Reshape, ReLU, ReLU6, Activation, Dropout, final Softmax)`,
        );
    }
  });
  const last = out[out.length - 1];
  if (!last || last.kind !== 'dense') fail('UNSUPPORTED_LAYER', 'the model must end with a Dense layer producing the logits');
  if (last.activation !== 'linear') {
    throw new ZkinferError('UNSUPPORTED_LAYER', `last layer ${last.name}: activation ${last.activation} on the logits is not supported`);
  }
  const name = String((json.modelTopology as { config?: { name?: string } })?.config?.name ?? path.basename(path.dirname(modelJsonPath)));
  return { name, inputShape, layers: out, notes };
}
