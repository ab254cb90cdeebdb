import { ZkinferError, fail } from '../util/errors.js';
import { layerGraph, type GraphLayer, type LayerGraph } from './tfjsGraph.js';
import { findWeight, readTfjsModelFiles } from './tfjsWeights.js';
import type { FloatActivation, FloatAdd, FloatConv2D, FloatDense, FloatLayer, FloatModel } from './types.js';

/**
 * Import a TensorFlow.js Layers model (model.json + weight shards), which is also what Keras models
 * convert to. Reads the JSON topology directly rather than through tfjs, so that an unsupported layer is
 * reported by name before anything else runs.
 *
 * Sequential models are chains; functional models may branch and merge with Add (residual blocks). Each
 * Keras layer's output maps to an IR tensor: a Conv2D/Dense/pool/Add makes a new one, a layer skipped at
 * inference (InputLayer, Dropout, Flatten) reuses its input's, and BatchNormalization or a separate
 * activation layer is folded into the layer that produced its input, which is only valid when nothing
 * else reads that value before the fold.
 */

interface LayerJson {
  class_name: string;
  config: Record<string, unknown> & { name?: string };
}

const IGNORED_AT_INFERENCE = new Set(['InputLayer', 'Dropout', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout']);
const MERGE_LAYERS = new Set(['Concatenate', 'Multiply', 'Subtract', 'Average', 'Maximum', 'Minimum', 'Dot']);

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

type Conv = FloatLayer & { kind: 'conv2d' };

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
  if (depthwise && Number(layer.config.depth_multiplier ?? 1) !== 1)
    fail('UNSUPPORTED_LAYER', `layer ${name} (DepthwiseConv2D): depth_multiplier ${String(layer.config.depth_multiplier)} is not supported`);
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
    kind: 'conv2d',
    name,
    inShape: [H, W, C],
    outShape: [rows.out, cols.out, outC],
    kernelSize,
    strides,
    pads: [rows.before, cols.before, rows.after, cols.after],
    depthwise,
    kernel,
    bias,
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

/** Where a Keras layer's output lives in the IR: a tensor number and its shape (channels-last, no batch). */
interface Value {
  tensor: number;
  shape: number[];
}

const SUPPORTED =
  'Dense, Conv2D, DepthwiseConv2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, BatchNormalization, Add (two inputs), ' +
  'Flatten, Reshape, ReLU, ReLU6, Activation, Dropout, final Softmax';

/** Walks the layer graph in topological order, building the IR layers. */
class GraphImporter {
  readonly layers: FloatLayer[] = [];
  readonly notes: string[] = [];
  private readonly values = new Map<string, Value>();
  /** Keras layers that made an IR layer (the rest reuse their input's tensor, possibly folding into it). */
  private readonly producers = new Set<string>();
  private readonly byName: Map<string, GraphLayer>;
  /** The output layer and the skipped layers before it: where a softmax may stand. */
  private readonly last = new Set<string>();

  constructor(
    private readonly graph: LayerGraph,
    private readonly weights: Map<string, Float32Array>,
  ) {
    this.values.set(graph.input, { tensor: 0, shape: graph.inputShape });
    this.byName = new Map(graph.layers.map((l) => [l.name, l]));
    for (let n: GraphLayer | undefined = this.byName.get(graph.output); n;) {
      this.last.add(n.name);
      n = IGNORED_AT_INFERENCE.has(n.className) ? this.byName.get(n.inputs[0]) : undefined;
    }
  }

  run(): Value {
    for (const node of this.graph.layers) this.layer(node);
    return this.values.get(this.graph.output)!;
  }

  /** The one value a single-input layer reads. */
  private source(node: GraphLayer): Value {
    if (node.inputs.length !== 1)
      fail('UNSUPPORTED_LAYER', `layer ${node.name} (${node.className}) reads ${node.inputs.length} tensors (${node.inputs.join(', ')}); only Add combines tensors`);
    return this.values.get(node.inputs[0])!;
  }

  private push(node: GraphLayer, layer: FloatLayer, shape: number[]): void {
    const l = this.layers.length;
    if (layer.kind !== 'add') {
      const from = this.source(node).tensor;
      if (from !== l) layer.from = from;
    }
    this.layers.push(layer);
    this.producers.add(node.name);
    this.values.set(node.name, { tensor: l + 1, shape });
  }

  /** A layer that computes nothing at inference: its output is its input (seen with `shape`). */
  private alias(node: GraphLayer, shape?: number[]): void {
    const src = this.source(node);
    this.values.set(node.name, { tensor: src.tensor, shape: shape ?? src.shape });
  }

  /** The IR layer that produced the value `node` reads: a fold (BatchNorm, activation) changes it. */
  private producer(node: GraphLayer): FloatLayer | undefined {
    const t = this.source(node).tensor;
    return t === 0 ? undefined : this.layers[t - 1];
  }

  /**
   * Folding `node` into `target` changes target's output for every reader. That is only right if no other
   * layer reads the value between target and node: walk back from node's input to target, checking that
   * each value on the way has node's chain as its only reader.
   */
  private checkSoleReader(node: GraphLayer, target: FloatLayer): void {
    let reader = node.name;
    let value = node.inputs[0];
    for (;;) {
      const others = (this.graph.readers.get(value) ?? []).filter((r) => r !== reader);
      if (others.length > 0) {
        const seen = value === target.name ? `${target.name}'s output` : `the output of ${value} (that is, of ${target.name})`;
        fail(
          'UNSUPPORTED_LAYER',
          `layer ${node.name} (${node.className}) cannot be folded into ${target.name}: ${seen} is also read by ${others.join(', ')}, which must see it unchanged`,
        );
      }
      if (this.producers.has(value) || value === this.graph.input) return;
      reader = value;
      value = this.byName.get(value)!.inputs[0];
    }
  }

  /** The layer an activation layer folds into: a Dense, Conv2D or Add without activation, read only here. */
  private activationTarget(node: GraphLayer): FloatDense | FloatConv2D | FloatAdd {
    const prev = this.producer(node);
    const where = `layer ${node.name} (${node.className})`;
    if (!prev || (prev.kind !== 'dense' && prev.kind !== 'conv2d' && prev.kind !== 'add')) fail('UNSUPPORTED_LAYER', `${where} must follow a Dense, Conv2D or Add layer`);
    if (prev.activation !== 'linear') fail('UNSUPPORTED_LAYER', `${where}: an activation after ${prev.activation} is not supported`);
    this.checkSoleReader(node, prev);
    return prev;
  }

  private layer(node: GraphLayer): void {
    const { name, className } = node;
    const layer: LayerJson = { class_name: className, config: { ...node.config, name } };
    const isLast = this.last.has(name);
    if (IGNORED_AT_INFERENCE.has(className)) return this.alias(node);
    if (MERGE_LAYERS.has(className)) fail('UNSUPPORTED_LAYER', `layer ${name} (${className}): merge layer ${className} is not supported (only Add of two tensors)`);
    switch (className) {
      case 'Add':
        return this.add(node);
      case 'Flatten':
      case 'Reshape': {
        const target = layer.config.target_shape as number[] | undefined;
        if (className === 'Reshape' && !(Array.isArray(target) && target.length === 1)) {
          fail('UNSUPPORTED_LAYER', `layer ${name} (Reshape): only flattening reshapes are supported (target_shape ${JSON.stringify(target)})`);
        }
        return this.alias(node, [product(this.source(node).shape)]); // channels-last row-major data is already in flattened order
      }
      case 'Activation': {
        const act = activationOf(layer, layer.config.activation, isLast, this.notes);
        if (act !== 'linear') this.activationTarget(node).activation = act;
        return this.alias(node);
      }
      case 'ReLU': {
        const max = layer.config.max_value;
        if ((max != null && Number(max) !== 6) || Number(layer.config.negative_slope ?? 0) !== 0 || Number(layer.config.threshold ?? 0) !== 0) {
          fail('UNSUPPORTED_LAYER', `layer ${name} (ReLU): max_value ${String(max)}, negative_slope or threshold are not supported (plain ReLU or ReLU6 only)`);
        }
        this.activationTarget(node).activation = max == null ? 'relu' : 'relu6';
        return this.alias(node);
      }
      case 'Softmax':
        if (!isLast) fail('UNSUPPORTED_LAYER', `layer ${name} (Softmax): only a final softmax is supported`);
        this.notes.push(`softmax layer ${name} replaced by argmax over logits (same predicted class)`);
        return this.alias(node);
      case 'BatchNormalization': {
        const prev = this.producer(node);
        foldBatchNorm(layer, name, prev, this.weights);
        this.checkSoleReader(node, prev!);
        this.notes.push(`batch normalization ${name} folded into ${prev!.name}`);
        return this.alias(node);
      }
      case 'Conv2D':
      case 'DepthwiseConv2D': {
        const conv = convLayer(layer, name, this.source(node).shape, this.weights, isLast, this.notes);
        return this.push(node, conv, [...conv.outShape]);
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        const pool = poolLayer(layer, name, this.source(node).shape);
        return this.push(node, pool, [...pool.outShape]);
      }
      case 'GlobalAveragePooling2D': {
        const inShape = need3d(this.source(node).shape, name, className);
        checkChannelsLast(layer, name);
        if (layer.config.keepdims === true) fail('UNSUPPORTED_LAYER', `layer ${name} (GlobalAveragePooling2D): keepdims is not supported`);
        return this.push(node, { kind: 'globalavgpool', name, inShape }, [inShape[2]]);
      }
      case 'Dense': {
        const dense = denseLayer(layer, name, this.source(node).shape, this.weights, isLast, this.notes);
        return this.push(node, dense, [dense.outputSize]);
      }
      default:
        fail('UNSUPPORTED_LAYER', `layer ${name}: type ${className} is not supported (supported: ${SUPPORTED})`);
    }
  }

  /** Keras Add of two same-shaped tensors: a residual connection. */
  private add(node: GraphLayer): void {
    const where = `layer ${node.name} (Add)`;
    if (node.inputs.length !== 2) fail('UNSUPPORTED_LAYER', `${where} sums ${node.inputs.length} tensors (${node.inputs.join(', ')}); only two are supported`);
    const [a, b] = node.inputs.map((i) => this.values.get(i)!);
    if (a.shape.join() !== b.shape.join()) {
      fail(
        'UNSUPPORTED_LAYER',
        `${where}: its inputs ${node.inputs[0]} [${a.shape.join(', ')}] and ${node.inputs[1]} [${b.shape.join(', ')}] have different shapes (broadcasting is not supported)`,
      );
    }
    this.push(node, { kind: 'add', name: node.name, inputs: [a.tensor, b.tensor], size: product(a.shape), activation: 'linear' }, [...a.shape]);
  }
}

function poolLayer(layer: LayerJson, name: string, shape: number[]): FloatLayer & { kind: 'maxpool' | 'avgpool' } {
  const [H, W, C] = need3d(shape, name, layer.class_name);
  checkChannelsLast(layer, name);
  const poolSize = pair(layer.config.pool_size ?? 2, 'pool_size', name);
  const strides = pair(layer.config.strides ?? poolSize, 'strides', name);
  if ((layer.config.padding ?? 'valid') !== 'valid')
    fail('UNSUPPORTED_LAYER', `layer ${name} (${layer.class_name}): padding ${String(layer.config.padding)} is not supported (valid only)`);
  const outShape: [number, number, number] = [spatial(H, poolSize[0], strides[0], 'valid').out, spatial(W, poolSize[1], strides[1], 'valid').out, C];
  return { kind: layer.class_name === 'MaxPooling2D' ? 'maxpool' : 'avgpool', name, inShape: [H, W, C], outShape, poolSize, strides };
}

function denseLayer(layer: LayerJson, name: string, shape: number[], weights: Map<string, Float32Array>, isLast: boolean, notes: string[]): FloatDense {
  if (shape.length !== 1) fail('UNSUPPORTED_LAYER', `layer ${name} (Dense) on a [${shape.join(', ')}] tensor needs a Flatten first`);
  const width = shape[0];
  const units = Number(layer.config.units);
  const kernel = findWeight(weights, name, 'kernel');
  if (!Number.isInteger(units) || units <= 0) fail('BAD_MODEL', `layer ${name} (Dense) has no valid units`);
  if (!kernel) fail('BAD_MODEL', `layer ${name} (Dense): kernel weights missing from the manifest`);
  if (kernel.length !== width * units) fail('BAD_MODEL', `layer ${name} (Dense): kernel has ${kernel.length} values, expected ${width} x ${units}`);
  const bias = layer.config.use_bias === false ? new Float32Array(units) : findWeight(weights, name, 'bias');
  if (!bias || bias.length !== units) fail('BAD_MODEL', `layer ${name} (Dense): bias missing or of the wrong size`);
  return { kind: 'dense', name, inputSize: width, outputSize: units, kernel, bias, activation: activationOf(layer, layer.config.activation, isLast, notes) };
}

export async function loadTfjsLayersModel(modelJsonPath: string): Promise<FloatModel> {
  const { json, weights, name } = await readTfjsModelFiles(modelJsonPath);
  const graph = layerGraph(json.modelTopology);
  const importer = new GraphImporter(graph, weights);
  const output = importer.run();
  const out = importer.layers;
  const last = out[out.length - 1];
  if (!last || last.kind !== 'dense') fail('UNSUPPORTED_LAYER', 'the model must end with a Dense layer producing the logits');
  if (output.tensor !== out.length) fail('UNSUPPORTED_LAYER', `the model output ${graph.output} is not the output of the last layer ${last.name}`);
  if (last.activation !== 'linear') {
    throw new ZkinferError('UNSUPPORTED_LAYER', `last layer ${last.name}: activation ${last.activation} on the logits is not supported`);
  }
  return { name, inputShape: graph.inputShape, layers: out, notes: importer.notes };
}
