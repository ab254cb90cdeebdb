/**
 * TensorFlow.js Layers (Keras) model -> op graph. A translation only, like the ONNX importer (onnx.ts):
 * each Keras layer becomes the fixed short sequence of ONNX ops that computes the same thing, and nothing
 * is rewritten across layers (folding, fusions and batch handling are the shared passes' job,
 * passes/index.ts). The model.json topology and the weight files are read by the same code as the
 * FloatModel importer (model/tfjsGraph.ts, model/tfjsWeights.ts).
 *
 * Layout: Keras is channels-last, and so is the IR for the model's own tensors: the input is
 * [1, H, W, C] (the batch of 1 kept, as ONNX models have it). The 2-D layers whose ONNX ops are
 * channels-first (Conv2D, DepthwiseConv2D, the pools, BatchNormalization on a non-second axis) are wrapped
 * in Transposes, which are data movement (free in the circuit); a Conv's own activation is applied before
 * the Transpose back, so the shared fusion pass can merge a Relu into the Conv. Kernels are converted to
 * ONNX's layouts as constants (HWIO -> OIHW). 'same' padding becomes the explicit pads TensorFlow computes
 * (the odd one at the bottom/right). Flatten and Reshape are row-major reshapes of the channels-last data,
 * which is what Keras does.
 *
 * What has no exact translation is refused with an UNSUPPORTED_LAYER error naming the layer, its class
 * and the option, before any pass runs.
 */
import { fail } from '../util/errors.js';
import { layerGraph, SEQUENTIAL_INPUT, type GraphLayer, type LayerGraph } from '../model/tfjsGraph.js';
import { decodeWeightData, findWeight, readTfjsModelFiles, tfjsModelName } from '../model/tfjsWeights.js';
import { NodeAttrs, tensor, type AttrValue, type Graph, type Node, type Tensor, type ValueInfo } from './ir.js';
import { parseModelMetadata, type ModelMetadata } from './metadata.js';
import { OPS } from './ops/index.js';
import type { OpInput, TypeShape } from './ops/types.js';
import { recurrentLayer } from './tfjsRecurrent.js';

/** Weights by manifest name, or the raw bytes of every weight the model.json lists, in its order (tf.io's weightData). */
export type TfjsWeights = Map<string, Float32Array> | Uint8Array | ArrayBuffer;

/** The opset the translations use (Gelu is an ONNX op from opset 20; nothing else here changed meaning since 13). */
const OPSET = 20;

export async function loadTfjsGraph(file: string): Promise<Graph> {
  const { json, weights, name } = await readTfjsModelFiles(file);
  return importTfjsGraph(json, weights, name);
}

/**
 * `modelJson` is a parsed model.json ({modelTopology, weightsManifest}) or tf.io model artifacts
 * ({modelTopology, weightSpecs}); `weights` the decoded weights, or their bytes.
 */
export function importTfjsGraph(modelJson: unknown, weights: TfjsWeights, name?: string): Graph {
  if (!modelJson || typeof modelJson !== 'object' || Array.isArray(modelJson)) fail('BAD_MODEL', 'not a tfjs Layers model (model.json must be an object)');
  const json = modelJson as Record<string, unknown>;
  const topology = json.modelTopology ?? json;
  const lg = layerGraph(topology);
  const byName = weights instanceof Map ? weights : decodeWeightData(weightSpecs(json), weights instanceof Uint8Array ? weights : new Uint8Array(weights));
  const keras = String((topology as { keras_version?: unknown }).keras_version ?? json.keras_version ?? '');
  const graphName = name ?? tfjsModelName(json, 'tfjs');
  const metadata = parseModelMetadata((json.userDefinedMetadata as { zkinfer?: unknown } | undefined)?.zkinfer, graphName);
  return new TfjsTranslator(lg, byName, /^3\./.test(keras)).run(graphName, metadata);
}

function weightSpecs(json: Record<string, unknown>): unknown {
  if (Array.isArray(json.weightSpecs)) return json.weightSpecs;
  const manifest = json.weightsManifest;
  if (!Array.isArray(manifest)) fail('BAD_MODEL', 'model.json has no weightsManifest (needed to decode weight bytes)');
  return manifest.flatMap((g: { weights?: unknown }) => (Array.isArray(g?.weights) ? g.weights : fail('BAD_MODEL', 'malformed weightsManifest group')));
}

const NHWC_TO_NCHW = [0, 3, 1, 2];
const NCHW_TO_NHWC = [0, 2, 3, 1];

/** Layers that compute nothing at inference: their output is their input. */
const PASS_THROUGH = new Set(['InputLayer', 'Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'ActivityRegularization']);

/** Keras merge layer -> the variadic (or chained binary) ONNX op. */
const MERGE: Record<string, { op: string; variadic: boolean; arity?: number }> = {
  Add: { op: 'Add', variadic: false },
  Multiply: { op: 'Mul', variadic: false },
  Subtract: { op: 'Sub', variadic: false, arity: 2 },
  Average: { op: 'Mean', variadic: true },
  Maximum: { op: 'Max', variadic: true },
  Minimum: { op: 'Min', variadic: true },
};

const SUPPORTED_LAYERS =
  'InputLayer, Dense, Conv2D, DepthwiseConv2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, ' +
  'BatchNormalization, Flatten, Reshape, Permute, Activation, ReLU, LeakyReLU, ELU, PReLU, Softmax, Dropout (and the other noise layers), ' +
  'LSTM, GRU, SimpleRNN, Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate';

const SUPPORTED_ACTIVATIONS =
  'linear, relu, relu6, sigmoid, tanh, softmax, log_softmax, elu, selu, softplus, softsign, gelu, gelu_new, swish, silu, mish, ' +
  'hard_sigmoid, hard_swish, hard_silu, leaky_relu, exponential';

/** Keras's SELU constants to double precision (more digits than ONNX's float32 defaults). */
const SELU_ALPHA = 1.6732632423543772;
const SELU_SCALE = 1.0507009873554805;

/** tfjs writes some activation names in camelCase (hardSigmoid, logSoftmax); Keras in snake_case. */
const snake = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

class TfjsTranslator {
  private readonly nodes: Node[] = [];
  private readonly constants = new Map<string, Tensor>();
  /** dtype and shape of every value so far (graph input and node outputs), from the ops' own shape rules. */
  private readonly shapes = new Map<string, TypeShape>();
  /** Keras layer name -> the IR value holding its output. */
  private readonly valueOf = new Map<string, string>();
  private readonly used = new Set<string>();
  private layer!: GraphLayer;

  constructor(
    private readonly lg: LayerGraph,
    private readonly weights: Map<string, Float32Array>,
    private readonly keras3: boolean,
  ) {}

  run(name: string, metadata: ModelMetadata = {}): Graph {
    const first = this.lg.layers[0];
    // A Sequential model's input is named as Keras names it (after its first layer), or by its InputLayer.
    const inputName = this.lg.input !== SEQUENTIAL_INPUT ? this.lg.input : first?.className === 'InputLayer' ? first.name : `${first?.name ?? 'model'}_input`;
    const encoding = metadata.inputEncoding?.[0];
    if (metadata.inputEncoding && metadata.inputEncoding.length !== 1)
      fail('BAD_MODEL', `${name}: zkinfer.inputEncoding has ${metadata.inputEncoding.length} entries, the model has 1 input`);
    const input: ValueInfo = {
      name: inputName,
      dtype: encoding ? 'int' : 'float',
      shape: [1, ...this.lg.inputShape],
      batch: true,
      ...(encoding ? { bits: encoding.bits, signed: encoding.signed } : {}),
    };
    this.used.add(inputName);
    this.shapes.set(inputName, { dtype: input.dtype, shape: input.shape });
    this.valueOf.set(this.lg.input, encoding ? this.decodeInput(inputName, encoding.scale) : inputName);
    for (const l of this.lg.layers) {
      this.layer = l;
      const start = this.nodes.length;
      const out = this.translate(l);
      this.valueOf.set(l.name, this.nameOutput(out, start));
    }
    const outName = this.valueOf.get(this.lg.output)!;
    const out = this.shapes.get(outName)!;
    return {
      name,
      inputs: [input],
      outputs: [{ name: outName, dtype: out.dtype, shape: [...out.shape] }],
      nodes: this.nodes,
      constants: this.constants,
      notes: [],
      opset: OPSET,
      ...(metadata.classLabels ? { labels: metadata.classLabels } : {}),
    };
  }

  /** An integer-encoded input's real value: Cast to float, then Mul by its scale (both exact and free). */
  private decodeInput(input: string, scale: number): string {
    this.layer = { name: input, className: 'InputLayer', config: {}, inputs: [] };
    const real = this.op('Cast', [input], { to: 1 });
    return this.op('Mul', [real, this.floats('scale', [], [scale])]);
  }

  /** The value of a layer made by this layer's last node is renamed to the layer's name (nothing reads it yet). */
  private nameOutput(value: string, start: number): string {
    const last = this.nodes[this.nodes.length - 1];
    if (this.nodes.length === start || last.outputs[0] !== value || this.used.has(this.layer.name)) return value;
    const shape = this.shapes.get(value)!;
    this.shapes.delete(value);
    this.used.delete(value);
    last.outputs[0] = this.layer.name;
    this.used.add(this.layer.name);
    this.shapes.set(this.layer.name, shape);
    return this.layer.name;
  }

  // --- building blocks -------------------------------------------------------------------------------

  private where(): string {
    return `layer ${this.layer.name} (${this.layer.className})`;
  }

  refuse(what: string): never {
    return fail('UNSUPPORTED_LAYER', `${this.where()}: ${what}`);
  }

  private unique(base: string): string {
    let n = base;
    for (let k = 1; this.used.has(n); k++) n = `${base}_${k}`;
    this.used.add(n);
    return n;
  }

  private constant(role: string, t: Tensor): string {
    const n = this.unique(`${this.layer.name}/${role}`);
    this.constants.set(n, t);
    return n;
  }

  floats(role: string, shape: number[], data: ArrayLike<number>): string {
    return this.constant(role, tensor('float', shape, data));
  }

  ints(role: string, data: number[]): string {
    return this.constant(role, tensor('int', [data.length], data));
  }

  /**
   * Append one ONNX node of the current layer; its output's shape comes from the op's own rule (ops/).
   * A node with several outputs (`outputs`) gives the one at index `k`; the others are left unnamed.
   */
  op(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, k = 0, outputs = 1): string {
    const nodeName = this.unique(`${this.layer.name}/${op}`);
    const output = this.unique(`${this.layer.name}/${op.toLowerCase()}`);
    const node: Node = { name: nodeName, op, inputs, outputs: Array.from({ length: outputs }, (_, i) => (i === k ? output : '')), attrs };
    const def = OPS.get(op);
    if (!def) throw new Error(`internal error: the tfjs importer emits ${op}, which has no OpDef`);
    const ins: Array<OpInput | undefined> = inputs.map((i) => {
      if (i === '') return undefined;
      const c = this.constants.get(i);
      return c ? { dtype: c.dtype, shape: c.shape, value: c } : { ...this.shapes.get(i)! };
    });
    const out = def.infer({ node, attrs: new NodeAttrs(node), opset: OPSET }, ins)[k];
    this.shapes.set(output, out);
    this.nodes.push(node);
    return output;
  }

  shapeOf(value: string): number[] {
    return this.shapes.get(value)!.shape;
  }

  /** The one input of a single-input layer. */
  source(): string {
    const l = this.layer;
    if (l.inputs.length !== 1) this.refuse(`reads ${l.inputs.length} tensors (${l.inputs.join(', ')}); only merge layers combine tensors`);
    return this.valueOf.get(l.inputs[0])!;
  }

  /** The input of a 2-D layer, checked to be [1, H, W, C] channels-last. */
  private image(): { x: string; H: number; W: number; C: number } {
    const x = this.source();
    const s = this.shapeOf(x);
    if (s.length !== 4) this.refuse(`needs a [height, width, channels] input, got [${s.slice(1).join(', ')}]`);
    this.channelsLast();
    return { x, H: s[1], W: s[2], C: s[3] };
  }

  cfg(key: string): unknown {
    return this.layer.config[key];
  }

  private channelsLast(): void {
    const f = this.cfg('data_format') ?? 'channels_last';
    if (f !== 'channels_last') this.refuse(`data_format '${String(f)}' is not supported (channels_last only)`);
  }

  private pair(key: string, fallback: number | [number, number]): [number, number] {
    const raw = this.cfg(key) ?? fallback;
    const arr = Array.isArray(raw) ? raw : [raw, raw];
    const v = arr.map(Number);
    if (v.length !== 2 || !v.every((d) => Number.isInteger(d) && d > 0)) fail('BAD_MODEL', `${this.where()}: bad ${key} ${JSON.stringify(raw)}`);
    return [v[0], v[1]];
  }

  private padding(): 'valid' | 'same' {
    const p = String(this.cfg('padding') ?? 'valid').toLowerCase();
    if (p !== 'valid' && p !== 'same') this.refuse(`padding '${p}' is not supported (valid, same)`);
    return p;
  }

  /** ONNX pads [top, left, bottom, right] for Keras padding: TensorFlow's SAME puts the odd row/column at the end. */
  private pads(padding: 'valid' | 'same', inSize: [number, number], kernel: [number, number], strides: [number, number], dilation: [number, number] = [1, 1]): number[] {
    if (padding === 'valid') return [0, 0, 0, 0];
    const [before, after] = [0, 1].map((d) => {
      const eff = (kernel[d] - 1) * dilation[d] + 1;
      const out = Math.ceil(inSize[d] / strides[d]);
      const total = Math.max((out - 1) * strides[d] + eff - inSize[d], 0);
      return [Math.floor(total / 2), total - Math.floor(total / 2)];
    });
    return [before[0], after[0], before[1], after[1]];
  }

  cellWeight(role: string, length: number, what: string): Float32Array {
    const cell = ['lstm_cell', 'gru_cell', 'simple_rnn_cell'].find((c) => findWeight(this.weights, this.layer.name, `${c}/${role}`));
    return this.weight(cell ? `${cell}/${role}` : role, length, what);
  }

  private weight(role: string, length: number, what: string): Float32Array {
    const w = findWeight(this.weights, this.layer.name, role);
    if (!w) fail('BAD_MODEL', `${this.where()}: weight ${this.layer.name}/${role} is missing from the weights`);
    if (w.length !== length) fail('BAD_MODEL', `${this.where()}: weight ${this.layer.name}/${role} has ${w.length} values, expected ${what} = ${length}`);
    return w;
  }

  private bias(n: number): string | undefined {
    if (this.cfg('use_bias') === false) return undefined;
    return this.floats('bias', [n], this.weight('bias', n, `[${n}]`));
  }

  /** An integer axis option, as Keras counts it (the batch is axis 0), made non-negative for a tensor of `rank`. */
  private axis(key: string, fallback: number, rank: number): number {
    let raw = this.cfg(key) ?? fallback;
    if (Array.isArray(raw)) {
      if (raw.length !== 1) this.refuse(`${key} ${JSON.stringify(raw)} is not supported (one axis)`);
      raw = raw[0];
    }
    const a = Number(raw);
    if (!Number.isInteger(a) || a < -rank || a >= rank) fail('BAD_MODEL', `${this.where()}: ${key} ${JSON.stringify(raw)} is not an axis of a rank-${rank} tensor`);
    const pos = a < 0 ? a + rank : a;
    if (pos === 0) this.refuse(`${key} ${a} is the batch axis, which is not supported`);
    return pos;
  }

  private num(key: string, fallback: number): number {
    const raw = this.cfg(key);
    const v = raw === undefined || raw === null ? fallback : Number(raw);
    if (!Number.isFinite(v)) fail('BAD_MODEL', `${this.where()}: ${key} ${JSON.stringify(raw)} is not a number`);
    return v;
  }

  /**
   * A Keras activation (by name) applied to x; `axis` is where softmax normalizes (the channels: -1 in
   * channels-last, 1 when applied before a Conv's transpose back).
   */
  private activation(x: string, value: unknown, axis = -1): string {
    if (value === undefined || value === null) return x;
    if (typeof value !== 'string') this.refuse(`activation ${JSON.stringify(value)} is not supported (a named activation: ${SUPPORTED_ACTIVATIONS})`);
    const scalar = (role: string, v: number) => this.floats(role, [], [v]);
    switch (snake(value)) {
      case 'linear':
        return x;
      case 'relu':
        return this.op('Relu', [x]);
      case 'relu6':
        return this.op('Clip', [x, scalar('clip_min', 0), scalar('clip_max', 6)]);
      case 'sigmoid':
        return this.op('Sigmoid', [x]);
      case 'tanh':
        return this.op('Tanh', [x]);
      case 'softmax':
        return this.op('Softmax', [x], { axis });
      case 'log_softmax':
        return this.op('LogSoftmax', [x], { axis });
      case 'elu':
        return this.op('Elu', [x], { alpha: 1 });
      case 'selu':
        return this.op('Selu', [x], { alpha: SELU_ALPHA, gamma: SELU_SCALE });
      case 'softplus':
        return this.op('Softplus', [x]);
      case 'softsign':
        return this.op('Softsign', [x]);
      case 'gelu':
        return this.op('Gelu', [x], { approximate: 'none' });
      case 'gelu_new':
        return this.op('Gelu', [x], { approximate: 'tanh' });
      case 'swish':
      case 'silu':
        return this.op('Mul', [x, this.op('Sigmoid', [x])]);
      case 'mish':
        return this.op('Mul', [x, this.op('Tanh', [this.op('Softplus', [x])])]);
      case 'hard_sigmoid':
        // tfjs and Keras 2: clip(0.2 x + 0.5, 0, 1); Keras 3: relu6(x + 3) / 6.
        return this.op('HardSigmoid', [x], { alpha: this.keras3 ? 1 / 6 : 0.2, beta: 0.5 });
      case 'hard_swish':
      case 'hard_silu':
        return this.op('HardSwish', [x]);
      case 'leaky_relu':
        return this.op('LeakyRelu', [x], { alpha: 0.2 });
      case 'exponential':
        return this.op('Exp', [x]);
      default:
        return this.refuse(`activation '${value}' is not supported (${SUPPORTED_ACTIVATIONS})`);
    }
  }

  // --- layers ----------------------------------------------------------------------------------------

  private translate(l: GraphLayer): string {
    if (PASS_THROUGH.has(l.className)) return this.source();
    const merge = MERGE[l.className];
    if (merge) return this.merge(merge);
    switch (l.className) {
      case 'Dense':
        return this.dense();
      case 'Conv2D':
      case 'Convolution2D':
        return this.conv2d(false);
      case 'DepthwiseConv2D':
        return this.conv2d(true);
      case 'MaxPooling2D':
      case 'MaxPool2D':
      case 'AveragePooling2D':
      case 'AvgPool2D':
        return this.pool(l.className.startsWith('Max') ? 'MaxPool' : 'AveragePool');
      case 'GlobalAveragePooling2D':
      case 'GlobalAvgPool2D':
      case 'GlobalMaxPooling2D':
      case 'GlobalMaxPool2D':
        return this.globalPool(l.className.startsWith('GlobalMax') ? 'GlobalMaxPool' : 'GlobalAveragePool');
      case 'BatchNormalization':
        return this.batchNorm();
      case 'Flatten': {
        this.channelsLast();
        return this.op('Reshape', [this.source(), this.ints('shape', [1, -1])]);
      }
      case 'Reshape':
        return this.reshape();
      case 'Permute':
        return this.permute();
      case 'Concatenate':
        return this.concat();
      case 'Activation':
        return this.activation(this.source(), this.cfg('activation'));
      case 'ReLU':
        return this.relu();
      case 'LeakyReLU':
        return this.op('LeakyRelu', [this.source()], { alpha: this.num(this.cfg('negative_slope') !== undefined ? 'negative_slope' : 'alpha', 0.3) });
      case 'ELU':
        return this.op('Elu', [this.source()], { alpha: this.num('alpha', 1) });
      case 'PReLU':
        return this.prelu();
      case 'LSTM':
        return recurrentLayer(this, 'LSTM');
      case 'GRU':
        return recurrentLayer(this, 'GRU');
      case 'SimpleRNN':
        return recurrentLayer(this, 'RNN');
      case 'Softmax':
        return this.op('Softmax', [this.source()], { axis: this.axis('axis', -1, this.shapeOf(this.source()).length) });
      default:
        return fail('UNSUPPORTED_LAYER', `layer ${l.name} (${l.className}): layer type ${l.className} is not supported (supported: ${SUPPORTED_LAYERS})`);
    }
  }

  /** Dense on the last axis: Gemm for a [1, n] input, MatMul + Add for higher ranks. */
  private dense(): string {
    const x = this.source();
    const s = this.shapeOf(x);
    const units = Number(this.cfg('units'));
    if (!Number.isInteger(units) || units <= 0) fail('BAD_MODEL', `${this.where()}: units ${JSON.stringify(this.cfg('units'))} is not a positive integer`);
    if (s.length < 2) this.refuse(`needs an input with at least one feature axis, got [${s.join(', ')}]`);
    const n = s[s.length - 1];
    const kernel = this.floats('kernel', [n, units], this.weight('kernel', n * units, `${n} x ${units}`));
    const bias = this.bias(units);
    let y: string;
    if (s.length === 2) y = this.op('Gemm', bias ? [x, kernel, bias] : [x, kernel]);
    else {
      y = this.op('MatMul', [x, kernel]);
      if (bias) y = this.op('Add', [y, bias]);
    }
    return this.activation(y, this.cfg('activation'));
  }

  /** Conv2D (groups allowed) and DepthwiseConv2D (group = C, depth_multiplier outputs per channel). */
  private conv2d(depthwise: boolean): string {
    const { x, H, W, C } = this.image();
    const [kh, kw] = this.pair('kernel_size', 1);
    const strides = this.pair('strides', 1);
    const dilation = this.pair('dilation_rate', 1);
    const padding = this.padding();
    let group: number;
    let F: number;
    let oihw: Float64Array;
    if (depthwise) {
      const M = this.num('depth_multiplier', 1);
      if (!Number.isInteger(M) || M <= 0) fail('BAD_MODEL', `${this.where()}: depth_multiplier ${M} is not a positive integer`);
      group = C;
      F = C * M;
      const k = this.weight('depthwise_kernel', kh * kw * C * M, `${kh} x ${kw} x ${C} x ${M}`);
      oihw = new Float64Array(F * kh * kw);
      // Output channel c*M + m reads input channel c (TensorFlow's depthwise order), which is ONNX group c.
      for (let c = 0; c < C; c++)
        for (let m = 0; m < M; m++)
          for (let i = 0; i < kh; i++)
            for (let j = 0; j < kw; j++) {
              oihw[((c * M + m) * kh + i) * kw + j] = k[((i * kw + j) * C + c) * M + m];
            }
    } else {
      group = this.num('groups', 1);
      F = Number(this.cfg('filters'));
      if (!Number.isInteger(F) || F <= 0) fail('BAD_MODEL', `${this.where()}: filters ${JSON.stringify(this.cfg('filters'))} is not a positive integer`);
      if (!Number.isInteger(group) || group <= 0 || C % group !== 0 || F % group !== 0) this.refuse(`groups ${group} does not divide ${C} input channels and ${F} filters`);
      const Cg = C / group;
      const k = this.weight('kernel', kh * kw * Cg * F, `${kh} x ${kw} x ${Cg} x ${F}`);
      oihw = new Float64Array(F * Cg * kh * kw);
      for (let o = 0; o < F; o++)
        for (let c = 0; c < Cg; c++)
          for (let i = 0; i < kh; i++)
            for (let j = 0; j < kw; j++) {
              oihw[((o * Cg + c) * kh + i) * kw + j] = k[((i * kw + j) * Cg + c) * F + o];
            }
    }
    const weight = this.floats('kernel', [F, depthwise ? 1 : C / group, kh, kw], oihw);
    const bias = this.bias(F);
    const nchw = this.op('Transpose', [x], { perm: NHWC_TO_NCHW });
    const attrs = { kernel_shape: [kh, kw], strides, dilations: dilation, pads: this.pads(padding, [H, W], [kh, kw], strides, dilation), group };
    const conv = this.op('Conv', bias ? [nchw, weight, bias] : [nchw, weight], attrs);
    // Activations are element-wise (softmax over the channels, axis 1 here), so applying it before the
    // transpose back is the same and leaves Conv -> Relu adjacent for the fusion pass.
    return this.op('Transpose', [this.activation(conv, this.cfg('activation'), 1)], { perm: NCHW_TO_NHWC });
  }

  private pool(op: 'MaxPool' | 'AveragePool'): string {
    const { x, H, W } = this.image();
    const kernel = this.pair('pool_size', 2);
    const strides = this.cfg('strides') == null ? kernel : this.pair('strides', kernel);
    const pads = this.pads(this.padding(), [H, W], kernel, strides);
    const nchw = this.op('Transpose', [x], { perm: NHWC_TO_NCHW });
    // Keras's average pool divides by the positions inside the input (count_include_pad 0).
    const attrs: Record<string, AttrValue> = { kernel_shape: kernel, strides, pads, ...(op === 'AveragePool' ? { count_include_pad: 0 } : {}) };
    return this.op('Transpose', [this.op(op, [nchw], attrs)], { perm: NCHW_TO_NHWC });
  }

  private globalPool(op: 'GlobalAveragePool' | 'GlobalMaxPool'): string {
    const { x } = this.image();
    const pooled = this.op(op, [this.op('Transpose', [x], { perm: NHWC_TO_NCHW })]);
    if (this.cfg('keepdims') === true) return this.op('Transpose', [pooled], { perm: NCHW_TO_NHWC });
    return this.op('Reshape', [pooled, this.ints('shape', [1, -1])]);
  }

  /** BatchNormalization normalizes axis 1 in ONNX: the Keras axis is moved there and back (no-op for [1, C]). */
  private batchNorm(): string {
    const x = this.source();
    const rank = this.shapeOf(x).length;
    const axis = this.axis('axis', -1, rank);
    const C = this.shapeOf(x)[axis];
    const param = (role: string, on: boolean, fill: number) => this.floats(role, [C], on ? this.weight(role, C, `[${C}]`) : new Float32Array(C).fill(fill));
    const gamma = param('gamma', this.cfg('scale') !== false, 1);
    const beta = param('beta', this.cfg('center') !== false, 0);
    const mean = param('moving_mean', true, 0);
    const variance = param('moving_variance', true, 1);
    const epsilon = this.num('epsilon', 1e-3);
    if (axis === 1) return this.op('BatchNormalization', [x, gamma, beta, mean, variance], { epsilon });
    const perm = [0, axis, ...Array.from({ length: rank }, (_, i) => i).filter((i) => i !== 0 && i !== axis)];
    const back = perm.map((_, i) => perm.indexOf(i));
    const bn = this.op('BatchNormalization', [this.op('Transpose', [x], { perm }), gamma, beta, mean, variance], { epsilon });
    return this.op('Transpose', [bn], { perm: back });
  }

  private reshape(): string {
    const target = this.cfg('target_shape');
    if (!Array.isArray(target) || !target.every((d) => d === null || (Number.isInteger(d) && (d > 0 || d === -1)))) {
      fail('BAD_MODEL', `${this.where()}: target_shape ${JSON.stringify(target)} is not a list of sizes`);
    }
    return this.op('Reshape', [this.source(), this.ints('shape', [1, ...(target as Array<number | null>).map((d) => (d === null ? -1 : d))])]);
  }

  private permute(): string {
    const x = this.source();
    const dims = this.cfg('dims');
    const rank = this.shapeOf(x).length;
    const ok = Array.isArray(dims) && dims.length === rank - 1 && [...dims].sort().every((d, i) => d === i + 1);
    if (!ok) fail('BAD_MODEL', `${this.where()}: dims ${JSON.stringify(dims)} is not a permutation of 1..${rank - 1}`);
    return this.op('Transpose', [x], { perm: [0, ...(dims as number[])] });
  }

  private merge(m: { op: string; variadic: boolean; arity?: number }): string {
    const ins = this.layer.inputs.map((i) => this.valueOf.get(i)!);
    if (ins.length < 2) this.refuse(`merges ${ins.length} tensor(s); at least two are needed`);
    if (m.arity !== undefined && ins.length !== m.arity) this.refuse(`merges ${ins.length} tensors; ${this.layer.className} takes exactly ${m.arity}`);
    if (m.variadic) return this.op(m.op, ins);
    return ins.slice(1).reduce((acc, v) => this.op(m.op, [acc, v]), ins[0]);
  }

  private concat(): string {
    const ins = this.layer.inputs.map((i) => this.valueOf.get(i)!);
    if (ins.length < 2) this.refuse(`concatenates ${ins.length} tensor(s); at least two are needed`);
    return this.op('Concat', ins, { axis: this.axis('axis', -1, this.shapeOf(ins[0]).length) });
  }

  /** Keras ReLU(max_value, negative_slope, threshold): Relu, Clip, LeakyRelu, or LeakyRelu then Clip. */
  private relu(): string {
    const x = this.source();
    const max = this.cfg('max_value');
    const slope = this.num('negative_slope', 0);
    if (this.num('threshold', 0) !== 0) this.refuse(`threshold ${String(this.cfg('threshold'))} is not supported (0 only)`);
    const hasMax = max !== undefined && max !== null;
    const maxV = hasMax ? this.num('max_value', 0) : Infinity;
    if (slope === 0) return hasMax ? this.op('Clip', [x, this.floats('clip_min', [], [0]), this.floats('clip_max', [], [maxV])]) : this.op('Relu', [x]);
    const leaky = this.op('LeakyRelu', [x], { alpha: slope });
    return hasMax ? this.op('Clip', [leaky, '', this.floats('clip_max', [], [maxV])]) : leaky;
  }

  /** PReLU: one learned slope per position, shared along shared_axes (broadcast as ONNX PRelu does). */
  private prelu(): string {
    const x = this.source();
    const shape = this.shapeOf(x).slice(1);
    const shared = this.cfg('shared_axes');
    const axes = shared === undefined || shared === null ? [] : Array.isArray(shared) ? shared.map(Number) : [Number(shared)];
    if (!axes.every((a) => Number.isInteger(a) && a >= 1 && a <= shape.length))
      fail('BAD_MODEL', `${this.where()}: shared_axes ${JSON.stringify(shared)} are not axes of the input`);
    const slopeShape = shape.map((d, i) => (axes.includes(i + 1) ? 1 : d));
    const alpha = this.floats('alpha', slopeShape, this.weight('alpha', product(slopeShape), `[${slopeShape.join(' x ')}]`));
    return this.op('PRelu', [x, alpha]);
  }
}
