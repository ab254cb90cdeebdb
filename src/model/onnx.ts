import { readOnnxFile } from '../graph/onnx.js';
import { fail, ZkinferError } from '../util/errors.js';
import { decodeOnnxModel, dtypeName, ONNX_DTYPE, type OnnxGraph, type OnnxModelProto, type OnnxNode, type OnnxTensor } from './onnxProto.js';
import { convLayer, denseLayer, flatten, mapShape, optionalVector, poolLayer, type Shape } from './onnxLayers.js';
import { rewriteViewFlatten } from './onnxPatterns.js';
import { Attrs, floatValues, initializerInput, nodeLabel, type NodeCtx } from './onnxValues.js';
import type { FloatActivation, FloatAdd, FloatConv2D, FloatDense, FloatLayer, FloatModel } from './types.js';

/**
 * Import an ONNX model (a graph of supported ops, batch 1) as a FloatModel.
 *
 * ONNX is channels-first (NCHW) and the IR channels-last (HWC, flat): conv kernels go from OIHW to HWIO,
 * and a dense layer that reads a flattened [C, H, W] map gets its input rows reordered from CHW to HWC, so
 * `runFloat` on the channels-last input computes what the ONNX graph computes on the NCHW one.
 * BatchNormalization, bias Adds and activations are folded into the preceding Conv/Gemm/MatMul (an
 * activation also into a residual Add). Each ONNX value maps to an IR tensor; an Add of two computed values
 * is a residual connection. A fold changes its target's output for every reader, so it is only valid when
 * nothing else reads the value between the target and the folded node.
 */

/** Where an ONNX value lives in the IR, and what a fold into it would change. */
interface Value {
  tensor: number;
  shape: Shape;
  /** The IR layer whose output this is, if BatchNorm, a bias or an activation may fold into it. */
  tail: FloatLayer | undefined;
  /** For a MaxPool tail, the layer it pools: a monotone activation after the pool can move before it. */
  pooled: FloatLayer | undefined;
}

/** How a value was made: by `label` from data input `input`; `layer` if that node made an IR layer. */
interface Origin {
  label: string;
  input: string | undefined;
  layer: FloatLayer | undefined;
}

const GRAPH_OUTPUT = 'the graph output';

const SUPPORTED =
  'Conv, Gemm, MatMul(+Add), Add (bias, or residual of two computed values), BatchNormalization, Relu, Clip(0, 6), MaxPool, AveragePool, GlobalAveragePool, ' +
  'Flatten, Reshape (flatten), Identity, Dropout, final Softmax/LogSoftmax';

export async function loadOnnxModel(file: string): Promise<FloatModel> {
  const { bytes, name } = await readOnnxFile(file);
  return importOnnxModel(bytes, name);
}

export function importOnnxModel(bytes: Uint8Array, fallbackName = 'onnx'): FloatModel {
  let model: OnnxModelProto;
  try {
    model = decodeOnnxModel(bytes);
  } catch (err) {
    throw new ZkinferError('BAD_MODEL', `not an ONNX model (protobuf decoding failed: ${(err as Error).message})`);
  }
  const graph = model.graph;
  if (!graph || graph.node.length === 0) fail('BAD_MODEL', 'the ONNX model has no graph nodes');
  if (graph.sparse_initializer.length > 0) fail('UNSUPPORTED_LAYER', 'sparse initializers are not supported');
  return new Importer(graph).run(graph.name || fallbackName);
}

/** Constant nodes are initializers written as nodes (common in exports); take them out of the graph. */
function collectConstants(graph: OnnxGraph, initializers: Map<string, OnnxTensor>): Array<[OnnxNode, number]> {
  const rest: Array<[OnnxNode, number]> = [];
  graph.node.forEach((node, index) => {
    if (node.op_type !== 'Constant' || (node.domain ?? '') !== '') return void rest.push([node, index]);
    const ctx: NodeCtx = { node, label: nodeLabel(node, index), initializers };
    const t = new Attrs(ctx, ['value']).tensor('value');
    if (!t || node.output.length !== 1) fail('UNSUPPORTED_LAYER', `${ctx.label}: only a tensor 'value' attribute is supported`);
    initializers.set(node.output[0], { ...t, name: node.output[0] });
  });
  return rest;
}

class Importer {
  private readonly initializers = new Map<string, OnnxTensor>();
  private readonly layers: FloatLayer[] = [];
  private readonly notes: string[] = [];
  private readonly values = new Map<string, Value>();
  private readonly origins = new Map<string, Origin>();
  /** Who reads each value: node labels, and GRAPH_OUTPUT. */
  private readonly readers = new Map<string, string[]>();
  /** The value the current node reads (its data input) and what it makes of it. */
  private input = '';
  private tensor = 0;
  private shape!: Shape;
  private tail: FloatLayer | undefined;
  private pooled: FloatLayer | undefined;

  constructor(private readonly graph: OnnxGraph) {
    for (const t of graph.initializer) if (t.name) this.initializers.set(t.name, t);
  }

  run(name: string): FloatModel {
    const inputShape = this.readInput();
    const outputs = this.graph.output.filter((o) => !this.initializers.has(o.name ?? ''));
    if (outputs.length !== 1) fail('UNSUPPORTED_LAYER', `the graph has ${outputs.length} outputs; exactly one is supported`);
    const output = outputs[0].name ?? '';
    const rewritten = rewriteViewFlatten(collectConstants(this.graph, this.initializers), this.initializers);
    this.notes.push(...rewritten.notes);
    const nodes = this.needed(rewritten.nodes, output);
    for (const [node, index] of nodes) for (const i of node.input) this.readers.set(i, [...(this.readers.get(i) ?? []), nodeLabel(node, index)]);
    this.readers.set(output, [...(this.readers.get(output) ?? []), GRAPH_OUTPUT]);

    for (const [node, index] of nodes) {
      const label = nodeLabel(node, index);
      const ctx: NodeCtx = { node, label, initializers: this.initializers };
      if ((node.domain ?? '') !== '' && node.domain !== 'ai.onnx') fail('UNSUPPORTED_LAYER', `${label}: operator domain '${node.domain}' is not supported`);
      const data = node.input.filter((i) => i !== '' && !this.initializers.has(i));
      for (const d of data) if (!this.values.has(d)) fail('BAD_MODEL', `${label} reads '${d}', which is neither the graph input, an initializer nor an earlier node's output`);
      const outs = node.output.filter((o) => o !== '');
      const extra = node.op_type === 'Dropout' ? outs.slice(1).filter((o) => this.readers.has(o)) : outs.slice(1);
      if (outs.length === 0 || extra.length > 0) fail('UNSUPPORTED_LAYER', `${label}: only the first output may be used (extra outputs such as MaxPool indices are not supported)`);
      const before = this.layers.length;
      if (node.op_type === 'Add' && data.length === 2) {
        this.residualAdd(ctx, data as [string, string]);
      } else {
        if (data.length !== 1) {
          const what =
            data.length === 0
              ? 'no computed value (constant folding is not supported)'
              : `${data.length} computed values (${data.map((d) => `'${d}'`).join(', ')}); only Add combines two, other inputs must be initializers`;
          fail('UNSUPPORTED_LAYER', `${label} reads ${what}`);
        }
        if (node.input[0] !== data[0] && node.op_type !== 'Add') fail('UNSUPPORTED_LAYER', `${label}: its computed input '${data[0]}' must be input 0`);
        this.load(data[0]);
        this.apply(ctx, outs[0] === output);
      }
      this.origins.set(outs[0], { label, input: data[0], layer: this.layers.length > before ? this.layers[this.layers.length - 1] : undefined });
      this.values.set(outs[0], { tensor: this.tensor, shape: this.shape, tail: this.tail, pooled: this.pooled });
    }
    const result = this.values.get(output);
    if (!result) fail('UNSUPPORTED_LAYER', `the graph output '${output}' is not computed by any node`);
    this.load(output);
    const producer = this.origins.get(output)?.label ?? `input '${output}'`;
    if (this.layers.length > 0 && result.tensor !== this.layers.length) {
      fail('UNSUPPORTED_LAYER', `the graph output '${output}' (of ${producer}) is not the output of the last layer ${this.layers[this.layers.length - 1].name}`);
    }
    this.checkOutput(producer);
    return { name, inputShape, layers: this.layers, notes: this.notes };
  }

  /** The nodes the output depends on; the others are dropped with a note (they cannot change the output). */
  private needed(nodes: Array<[OnnxNode, number]>, output: string): Array<[OnnxNode, number]> {
    const wanted = new Set([output]);
    const keep = new Set<OnnxNode>();
    for (const [node] of [...nodes].reverse()) {
      if (!node.output.some((o) => wanted.has(o))) continue;
      keep.add(node);
      for (const i of node.input) wanted.add(i);
    }
    for (const [node, index] of nodes) if (!keep.has(node)) this.notes.push(`${nodeLabel(node, index)} does not lead to the graph output and is ignored`);
    return nodes.filter(([node]) => keep.has(node));
  }

  private load(value: string): void {
    const v = this.values.get(value)!;
    this.input = value;
    this.tensor = v.tensor;
    this.shape = v.shape;
    this.tail = v.tail;
    this.pooled = v.pooled;
  }

  private readInput(): number[] {
    const inputs = this.graph.input.filter((v) => !this.initializers.has(v.name ?? ''));
    if (inputs.length !== 1) fail('UNSUPPORTED_LAYER', `the graph has ${inputs.length} inputs (${inputs.map((v) => v.name).join(', ')}); exactly one is supported`);
    const t = inputs[0].type?.tensor_type;
    if (!t || t.elem_type !== ONNX_DTYPE.FLOAT) fail('BAD_MODEL', `input '${inputs[0].name}' must be a float32 tensor, got ${dtypeName(t?.elem_type)}`);
    const dims = (t.shape?.dim ?? []).map((d) => (d.dim_value !== undefined ? Number(d.dim_value) : d.dim_param !== undefined ? -1 : 0));
    const shown = JSON.stringify(t.shape?.dim.map((d) => d.dim_value ?? d.dim_param ?? '?') ?? []);
    const ok = (dims.length === 2 || dims.length === 4) && (dims[0] === 1 || dims[0] === -1) && dims.slice(1).every((d) => Number.isInteger(d) && d > 0);
    if (!ok) fail('BAD_MODEL', `input '${inputs[0].name}' has shape ${shown}; expected [1, C, H, W] or [1, N] (batch 1 or symbolic)`);
    const [shape, irShape]: [Shape, number[]] =
      dims.length === 2 ? [{ kind: 'vec', n: dims[1] }, [dims[1]]] : [{ kind: 'map', c: dims[1], h: dims[2], w: dims[3] }, [dims[2], dims[3], dims[1]]];
    this.values.set(inputs[0].name ?? '', { tensor: 0, shape, tail: undefined, pooled: undefined });
    return irShape;
  }

  private push(layer: FloatLayer, shape: Shape, pooled?: FloatLayer): void {
    const l = this.layers.length;
    if (layer.kind !== 'add' && this.tensor !== l) layer.from = this.tensor;
    this.layers.push(layer);
    this.tensor = l + 1;
    this.shape = shape;
    this.tail = layer;
    this.pooled = pooled;
  }

  /** An Add of two computed values: a residual connection. Both must have the same shape and layout. */
  private residualAdd(ctx: NodeCtx, [a, b]: [string, string]): void {
    new Attrs(ctx, []);
    const [va, vb] = [this.values.get(a)!, this.values.get(b)!];
    const show = (s: Shape) => (s.kind === 'map' ? `[1, ${s.c}, ${s.h}, ${s.w}]` : `[1, ${s.n}]${s.chw ? ' (a flattened map)' : ''}`);
    if (JSON.stringify(va.shape) !== JSON.stringify(vb.shape)) {
      fail('UNSUPPORTED_LAYER', `${ctx.label}: its inputs '${a}' ${show(va.shape)} and '${b}' ${show(vb.shape)} have different shapes (broadcasting is not supported)`);
    }
    const s = va.shape;
    const size = s.kind === 'map' ? s.c * s.h * s.w : s.n;
    const layer: FloatAdd = { kind: 'add', name: ctx.node.name || `add${this.layers.length}`, inputs: [va.tensor, vb.tensor], size, activation: 'linear' };
    this.push(layer, s);
  }

  private apply(ctx: NodeCtx, isLast: boolean): void {
    const op = ctx.node.op_type ?? '';
    const lname = ctx.node.name || `${op.toLowerCase()}${this.layers.length}`;
    switch (op) {
      case 'Conv':
        return this.push(...convLayer(ctx, lname, this.shape));
      case 'Gemm':
      case 'MatMul':
        return this.push(...denseLayer(ctx, lname, op, this.shape));
      case 'MaxPool':
      case 'AveragePool':
        return this.push(...poolLayer(ctx, lname, op, this.shape), op === 'MaxPool' ? this.tail : undefined);
      case 'GlobalAveragePool': {
        new Attrs(ctx, []);
        const { c, h, w } = mapShape(ctx, this.shape);
        return this.push({ kind: 'globalavgpool', name: lname, inShape: [h, w, c] }, { kind: 'map', c, h: 1, w: 1 });
      }
      case 'Flatten':
      case 'Reshape':
        this.shape = flatten(ctx, op, this.shape);
        this.tail = undefined; // a vector's features are no longer channels to fold BatchNorm/bias into
        return;
      case 'Add':
        return this.addBias(ctx);
      case 'BatchNormalization':
        return this.batchNorm(ctx);
      case 'Relu':
        new Attrs(ctx, []);
        return this.activate(ctx, 'relu');
      case 'Clip':
        return this.activate(ctx, this.clip(ctx));
      case 'Softmax':
      case 'LogSoftmax': {
        const axis = new Attrs(ctx, ['axis']).int('axis', -1);
        if (!isLast) fail('UNSUPPORTED_LAYER', `${ctx.label}: only a final ${op} is supported`);
        if (this.shape.kind !== 'vec' || (axis !== 1 && axis !== -1))
          fail('UNSUPPORTED_LAYER', `${ctx.label}: only ${op} over the class axis of a [1, N] output is supported (axis ${axis})`);
        this.notes.push(`${op} ${ctx.label} replaced by argmax over logits (same predicted class)`);
        return;
      }
      case 'Identity':
        new Attrs(ctx, []);
        return;
      case 'Dropout': {
        new Attrs(ctx, ['ratio', 'seed', 'is_test']);
        const mode = ctx.node.input[2] ? initializerInput(ctx, 2) : undefined;
        const on = mode && ((mode.raw_data && mode.raw_data.some((b) => b !== 0)) || mode.int32_data.some((v) => v !== 0));
        if (on) fail('UNSUPPORTED_LAYER', `${ctx.label}: training_mode true is not supported (inference only)`);
        return; // inference: identity
      }
      default:
        fail('UNSUPPORTED_LAYER', `${ctx.label}: op type ${op} is not supported (supported: ${SUPPORTED})`);
    }
  }

  /**
   * Folding the current node into `target` changes target's output for every reader: walk back from the
   * node's input to target, checking that each value on the way is read by that chain alone.
   */
  private checkSoleReader(ctx: NodeCtx, target: FloatLayer, what: string): void {
    let reader = ctx.label;
    let value = this.input;
    for (;;) {
      const others = (this.readers.get(value) ?? []).filter((r) => r !== reader);
      if (others.length > 0) {
        fail(
          'UNSUPPORTED_LAYER',
          `${ctx.label}: cannot fold the ${what} into ${target.name}: value '${value}' is also read by ${others.join(', ')}, which needs it without the ${what}`,
        );
      }
      const origin = this.origins.get(value);
      if (!origin || origin.layer === target || origin.input === undefined) return;
      reader = origin.label;
      value = origin.input;
    }
  }

  /** The conv/dense layer that a bias, BatchNorm or activation folds into (before its activation). */
  private foldTarget(ctx: NodeCtx, what: string, short: string): FloatConv2D | FloatDense {
    const t = this.tail;
    if (!t || (t.kind !== 'conv2d' && t.kind !== 'dense') || t.activation !== 'linear') {
      fail('UNSUPPORTED_LAYER', `${ctx.label}: ${what} is only supported right after a Conv, Gemm or MatMul (before any activation)`);
    }
    this.checkSoleReader(ctx, t, short);
    return t;
  }

  private addBias(ctx: NodeCtx): void {
    new Attrs(ctx, []);
    const target = this.foldTarget(ctx, 'Add of a constant bias', 'bias');
    const n = target.kind === 'dense' ? target.outputSize : target.outShape[2];
    const idx = this.initializers.has(ctx.node.input[0]) ? 0 : 1;
    const t = initializerInput(ctx, idx)!;
    // Broadcasting against [1, N] or [1, C, H, W]: leading 1s do not matter; a map needs [C, 1, 1].
    const dims = t.dims.map(Number);
    while (dims.length > 0 && dims[0] === 1) dims.shift();
    const want = target.kind === 'dense' ? [n] : [n, 1, 1];
    if (dims.length > 0 && JSON.stringify(dims) !== JSON.stringify(want)) {
      fail('UNSUPPORTED_LAYER', `${ctx.label}: only adding a per-channel bias is supported; '${t.name}' has dims ${JSON.stringify(t.dims)}`);
    }
    const b = optionalVector(ctx, idx, n, 'bias');
    for (let j = 0; j < n; j++) target.bias[j] += b[j];
  }

  private batchNorm(ctx: NodeCtx): void {
    const a = new Attrs(ctx, ['epsilon', 'momentum', 'spatial', 'training_mode']);
    if (a.int('training_mode', 0) !== 0) fail('UNSUPPORTED_LAYER', `${ctx.label}: training_mode 1 is not supported`);
    if (a.int('spatial', 1) !== 1) fail('UNSUPPORTED_LAYER', `${ctx.label}: spatial 0 is not supported`);
    const target = this.foldTarget(ctx, 'BatchNormalization (folded into the preceding layer)', 'BatchNormalization');
    const n = target.kind === 'dense' ? target.outputSize : target.outShape[2];
    const [scale, shift, mean, variance] = [1, 2, 3, 4].map((i) => {
      if (!ctx.node.input[i]) fail('BAD_MODEL', `${ctx.label}: input ${i} is missing`);
      return optionalVector(ctx, i, n, ['scale', 'B', 'mean', 'var'][i - 1]);
    });
    const eps = a.float('epsilon') ?? 1e-5;
    // y = (x - mean) * scale / sqrt(var + eps) + B, per output channel: scale the weights, shift the bias.
    const mult = Array.from({ length: n }, (_, j) => scale[j] / Math.sqrt(variance[j] + eps));
    // The output channel is the fastest-varying index of HWIO, depthwise [kH][kW][C] and dense kernels alike.
    for (let i = 0; i < target.kernel.length; i++) target.kernel[i] *= mult[i % n];
    for (let j = 0; j < n; j++) target.bias[j] = (target.bias[j] - mean[j]) * mult[j] + shift[j];
  }

  private clip(ctx: NodeCtx): FloatActivation {
    const a = new Attrs(ctx, ['min', 'max']);
    const bound = (i: number, attr: string): number | undefined => {
      const t = initializerInput(ctx, i);
      if (t) {
        const v = floatValues(ctx, t, attr);
        if (v.length !== 1) fail('UNSUPPORTED_LAYER', `${ctx.label}: ${attr} must be a scalar`);
        return v[0];
      }
      return a.float(attr);
    };
    const min = bound(1, 'min');
    const max = bound(2, 'max');
    if (min === 0 && max === undefined) return 'relu';
    if (min === 0 && max === 6) return 'relu6';
    return fail('UNSUPPORTED_LAYER', `${ctx.label}: Clip(min=${min ?? '-inf'}, max=${max ?? '+inf'}) is not supported (only min 0 with max 6 (relu6) or no max (relu))`);
  }

  private activate(ctx: NodeCtx, act: FloatActivation): void {
    // relu/relu6 are monotone, so they commute with a max-pool: fold one after a pool into the pooled layer.
    const t = this.tail?.kind === 'maxpool' && this.pooled ? this.pooled : this.tail;
    if (!t || (t.kind !== 'conv2d' && t.kind !== 'dense' && t.kind !== 'add')) {
      fail(
        'UNSUPPORTED_LAYER',
        `${ctx.label}: an activation is only supported after a Conv, Gemm, MatMul or residual Add (optionally with BatchNormalization, a bias Add or a MaxPool in between)`,
      );
    }
    this.checkSoleReader(ctx, t, 'activation');
    // relu(relu6(x)) = relu6(relu(x)) = relu6(x); relu(relu(x)) = relu(x).
    t.activation = t.activation === 'relu6' || act === 'relu6' ? 'relu6' : 'relu';
  }

  private checkOutput(lastLabel: string): void {
    const s = this.shape;
    if ((s.kind === 'map' && s.h * s.w > 1) || (s.kind === 'vec' && s.chw)) {
      fail('UNSUPPORTED_LAYER', `the model output (of ${lastLabel}) is a feature map or its flattening: end the model with Gemm/MatMul or GlobalAveragePool`);
    }
    if (this.layers.length === 0) fail('BAD_MODEL', 'the model has no Conv, Gemm or MatMul layer');
    const last = this.layers[this.layers.length - 1];
    if ((last.kind === 'dense' || last.kind === 'conv2d') && last.activation !== 'linear' && this.tail === last) {
      fail('UNSUPPORTED_LAYER', `last layer ${last.name}: activation ${last.activation} on the logits is not supported`);
    }
  }
}
