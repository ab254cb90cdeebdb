import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fail, ZkinferError } from '../util/errors.js';
import { decodeOnnxModel, dtypeName, ONNX_DTYPE, type OnnxGraph, type OnnxModelProto, type OnnxNode, type OnnxTensor } from './onnxProto.js';
import { Attrs, floatValues, initializerInput, int64Values, nodeLabel, readPads, readStrides, type NodeCtx } from './onnxValues.js';
import type { FloatActivation, FloatConv2D, FloatDense, FloatLayer, FloatModel } from './types.js';

/**
 * Import an ONNX model (a single chain of supported ops, batch 1) as a FloatModel.
 *
 * ONNX is channels-first (NCHW) and the IR channels-last (HWC, flat): conv kernels go from OIHW to HWIO,
 * and a dense layer that reads a flattened [C, H, W] map gets its input rows reordered from CHW to HWC, so
 * `runFloat` on the channels-last input computes what the ONNX graph computes on the NCHW one.
 * BatchNormalization, bias Adds and activations are folded into the preceding Conv/Gemm/MatMul.
 */

/** The current value's shape without the batch dimension. `chw`: a flattened map, still in CHW order. */
type Shape = { kind: 'map'; c: number; h: number; w: number } | { kind: 'vec'; n: number; chw?: [number, number, number] };

const SUPPORTED =
  'Conv, Gemm, MatMul(+Add), Add (bias), BatchNormalization, Relu, Clip(0, 6), MaxPool, AveragePool, GlobalAveragePool, ' +
  'Flatten, Reshape (flatten), Identity, Dropout, final Softmax/LogSoftmax';

export async function loadOnnxModel(file: string): Promise<FloatModel> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ZkinferError(code === 'ENOENT' ? 'NOT_FOUND' : 'BAD_MODEL', `cannot read ONNX model ${file}: ${(err as Error).message}`);
  }
  return importOnnxModel(bytes, path.basename(file, path.extname(file)));
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

function product(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Constant nodes are initializers written as nodes (common in exports); take them out of the chain. */
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
  private shape!: Shape;
  /** The IR layer whose output is the current value, if any: BatchNorm, bias and activations fold into it. */
  private tail: FloatLayer | undefined;
  /** For a MaxPool tail, the layer it pools: a monotone activation after the pool can move before it. */
  private pooled: FloatLayer | undefined;

  constructor(private readonly graph: OnnxGraph) {
    for (const t of graph.initializer) if (t.name) this.initializers.set(t.name, t);
  }

  run(name: string): FloatModel {
    const nodes = collectConstants(this.graph, this.initializers);
    const inputShape = this.readInput();
    const consumers = new Map<string, string[]>();
    for (const [node, index] of nodes) for (const i of node.input) consumers.set(i, [...(consumers.get(i) ?? []), nodeLabel(node, index)]);
    const outputs = this.graph.output.filter((o) => !this.initializers.has(o.name ?? ''));
    if (outputs.length !== 1) fail('UNSUPPORTED_LAYER', `the graph has ${outputs.length} outputs; exactly one is supported`);

    let current = this.graph.input.find((v) => !this.initializers.has(v.name ?? ''))!.name as string;
    nodes.forEach(([node, index], position) => {
      const label = nodeLabel(node, index);
      const ctx: NodeCtx = { node, label, initializers: this.initializers };
      if ((node.domain ?? '') !== '' && node.domain !== 'ai.onnx') fail('UNSUPPORTED_LAYER', `${label}: operator domain '${node.domain}' is not supported`);
      // Single chain: the node reads the previous value, and nothing else reads it.
      const data = node.input.filter((i) => i !== '' && !this.initializers.has(i));
      if (!data.includes(current)) {
        fail('UNSUPPORTED_LAYER', `${label} does not take the previous node's output '${current}' as input: only single-chain graphs are supported`);
      }
      const other = data.find((i) => i !== current);
      if (other !== undefined || data.length > 1) {
        fail('UNSUPPORTED_LAYER', `${label} combines '${current}' with the computed value '${other ?? current}': branches and residual connections are not supported`);
      }
      const readers = consumers.get(current) ?? [];
      if (readers.length > 1) fail('UNSUPPORTED_LAYER', `value '${current}' feeds ${readers.join(' and ')}: branches are not supported`);
      if (node.input[0] !== current && node.op_type !== 'Add') fail('UNSUPPORTED_LAYER', `${label}: the previous node's output must be input 0`);
      const outs = node.output.filter((o) => o !== '');
      const extra = node.op_type === 'Dropout' ? outs.slice(1).filter((o) => consumers.has(o) || o === outputs[0].name) : outs.slice(1);
      if (outs.length === 0 || extra.length > 0) fail('UNSUPPORTED_LAYER', `${label}: only the first output may be used (extra outputs such as MaxPool indices are not supported)`);
      this.apply(ctx, position === nodes.length - 1);
      current = outs[0];
    });
    if (current !== outputs[0].name) fail('UNSUPPORTED_LAYER', `the graph output '${outputs[0].name}' is not the last node's output '${current}'`);
    this.checkOutput(nodeLabel(...nodes[nodes.length - 1]));
    return { name, inputShape, layers: this.layers, notes: this.notes };
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
    if (dims.length === 2) {
      this.shape = { kind: 'vec', n: dims[1] };
      return [dims[1]];
    }
    const [, c, h, w] = dims;
    this.shape = { kind: 'map', c, h, w };
    return [h, w, c];
  }

  private push(layer: FloatLayer, shape: Shape, pooled?: FloatLayer): void {
    this.layers.push(layer);
    this.shape = shape;
    this.tail = layer;
    this.pooled = pooled;
  }

  private map(ctx: NodeCtx): { c: number; h: number; w: number } {
    if (this.shape.kind !== 'map') fail('UNSUPPORTED_LAYER', `${ctx.label}: expects a [1, C, H, W] feature map, but its input is a [1, ${this.shape.n}] vector`);
    return this.shape;
  }

  private apply(ctx: NodeCtx, isLast: boolean): void {
    const op = ctx.node.op_type ?? '';
    const lname = ctx.node.name || `${op.toLowerCase()}${this.layers.length}`;
    switch (op) {
      case 'Conv':
        return this.push(...this.conv(ctx, lname));
      case 'Gemm':
      case 'MatMul':
        return this.push(...this.dense(ctx, lname, op));
      case 'MaxPool':
      case 'AveragePool':
        return this.push(...this.pool(ctx, lname, op), op === 'MaxPool' ? this.tail : undefined);
      case 'GlobalAveragePool': {
        new Attrs(ctx, []);
        const { c, h, w } = this.map(ctx);
        return this.push({ kind: 'globalavgpool', name: lname, inShape: [h, w, c] }, { kind: 'map', c, h: 1, w: 1 });
      }
      case 'Flatten':
      case 'Reshape':
        this.flatten(ctx, op);
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
        if (this.shape.kind !== 'vec' || (axis !== 1 && axis !== -1)) fail('UNSUPPORTED_LAYER', `${ctx.label}: only ${op} over the class axis of a [1, N] output is supported (axis ${axis})`);
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

  private conv(ctx: NodeCtx, name: string): [FloatConv2D, Shape] {
    const a = new Attrs(ctx, ['auto_pad', 'dilations', 'group', 'kernel_shape', 'pads', 'strides']);
    const { c, h, w } = this.map(ctx);
    const wt = initializerInput(ctx, 1);
    if (!wt || wt.dims.length !== 4) fail('UNSUPPORTED_LAYER', `${ctx.label}: the weight must be a 4-D [M, C, kH, kW] initializer (2-D convolution only)`);
    const [m, cg, kH, kW] = wt.dims.map(Number);
    const dil = a.ints('dilations') ?? [1, 1];
    if (dil.some((d) => d !== 1)) fail('UNSUPPORTED_LAYER', `${ctx.label}: dilations ${JSON.stringify(dil)} are not supported (only 1)`);
    const group = a.int('group', 1);
    const depthwise = group !== 1;
    if (depthwise && !(group === c && m === c && cg === 1)) {
      fail('UNSUPPORTED_LAYER', `${ctx.label}: group ${group} with ${m} filters is not supported (group 1, or depthwise: group = channels = ${c} with one filter per channel)`);
    }
    if (!depthwise && cg !== c) fail('BAD_MODEL', `${ctx.label}: the weight expects ${cg} input channels, the input has ${c}`);
    const ks = a.ints('kernel_shape');
    if (ks && (ks[0] !== kH || ks[1] !== kW)) fail('BAD_MODEL', `${ctx.label}: kernel_shape ${JSON.stringify(ks)} does not match the weight's ${kH}x${kW}`);
    const strides = readStrides(ctx, a);
    const pads = readPads(ctx, a, [h, w], [kH, kW], strides, true);
    const oh = Math.floor((h + pads[0] + pads[2] - kH) / strides[0]) + 1;
    const ow = Math.floor((w + pads[1] + pads[3] - kW) / strides[1]) + 1;
    if (oh < 1 || ow < 1) fail('BAD_MODEL', `${ctx.label}: a ${kH}x${kW} kernel does not fit the ${h}x${w} input`);
    const src = floatValues(ctx, wt, 'weight');
    const kernel = new Float32Array(src.length);
    for (let co = 0; co < m; co++) {
      for (let ci = 0; ci < cg; ci++) {
        for (let ky = 0; ky < kH; ky++) {
          for (let kx = 0; kx < kW; kx++) {
            const from = ((co * cg + ci) * kH + ky) * kW + kx; // OIHW
            kernel[depthwise ? (ky * kW + kx) * c + co : ((ky * kW + kx) * c + ci) * m + co] = src[from]; // HWIO / [kH][kW][C]
          }
        }
      }
    }
    const bias = this.optionalVector(ctx, 2, m, 'bias');
    const layer: FloatConv2D = { kind: 'conv2d', name, inShape: [h, w, c], outShape: [oh, ow, m], kernelSize: [kH, kW], strides, pads, depthwise, kernel, bias, activation: 'linear' };
    return [layer, { kind: 'map', c: m, h: oh, w: ow }];
  }

  private pool(ctx: NodeCtx, name: string, op: 'MaxPool' | 'AveragePool'): [FloatLayer, Shape] {
    const known = op === 'MaxPool' ? ['dilations', 'storage_order'] : ['count_include_pad'];
    const a = new Attrs(ctx, ['auto_pad', 'ceil_mode', 'kernel_shape', 'pads', 'strides', ...known]);
    const { c, h, w } = this.map(ctx);
    const k = a.ints('kernel_shape');
    if (!k || k.length !== 2) fail('UNSUPPORTED_LAYER', `${ctx.label}: kernel_shape must give a 2-D window`);
    if (a.int('ceil_mode', 0) !== 0) fail('UNSUPPORTED_LAYER', `${ctx.label}: ceil_mode 1 is not supported (only 0)`);
    const dil = a.ints('dilations') ?? [1, 1];
    if (dil.some((d) => d !== 1)) fail('UNSUPPORTED_LAYER', `${ctx.label}: dilations ${JSON.stringify(dil)} are not supported (only 1)`);
    const strides = readStrides(ctx, a);
    readPads(ctx, a, [h, w], k, strides, false);
    const oh = Math.floor((h - k[0]) / strides[0]) + 1;
    const ow = Math.floor((w - k[1]) / strides[1]) + 1;
    if (oh < 1 || ow < 1) fail('BAD_MODEL', `${ctx.label}: a ${k[0]}x${k[1]} window does not fit the ${h}x${w} input`);
    const kind = op === 'MaxPool' ? 'maxpool' : 'avgpool';
    return [{ kind, name, inShape: [h, w, c], outShape: [oh, ow, c], poolSize: [k[0], k[1]], strides }, { kind: 'map', c, h: oh, w: ow }];
  }

  private flatten(ctx: NodeCtx, op: 'Flatten' | 'Reshape'): void {
    const s = this.shape;
    const total = s.kind === 'map' ? s.c * s.h * s.w : s.n;
    if (op === 'Flatten') {
      const axis = new Attrs(ctx, ['axis']).int('axis', 1);
      if (axis !== 1) fail('UNSUPPORTED_LAYER', `${ctx.label}: axis ${axis} is not supported (only 1: [1, ...] -> [1, N])`);
    } else {
      const allowzero = new Attrs(ctx, ['allowzero']).int('allowzero', 0);
      const target = int64Values(ctx, initializerInput(ctx, 1) ?? fail('BAD_MODEL', `${ctx.label}: shape input missing`), 'shape');
      const inDims = s.kind === 'map' ? [1, s.c, s.h, s.w] : [1, s.n];
      // 0 copies the input's dimension (unless allowzero), -1 is inferred.
      const copied = target.map((d, i) => (d === 0 && !allowzero ? (inDims[i] ?? 0) : d));
      const known = copied.filter((d) => d !== -1);
      const resolved = copied.map((d) => (d === -1 ? total / Math.max(1, product(known)) : d));
      if (resolved.length !== 2 || resolved[0] !== 1 || resolved[1] !== total || copied.filter((d) => d === -1).length > 1) {
        fail('UNSUPPORTED_LAYER', `${ctx.label}: reshape to ${JSON.stringify(target)} is not supported (only flattening to [1, ${total}], e.g. [1, -1])`);
      }
    }
    // A map flattened here is in CHW order; the IR keeps HWC, so the next dense layer reorders its rows.
    if (s.kind === 'map') this.shape = { kind: 'vec', n: total, chw: s.h * s.w > 1 && s.c > 1 ? [s.c, s.h, s.w] : undefined };
  }

  private dense(ctx: NodeCtx, name: string, op: 'Gemm' | 'MatMul'): [FloatDense, Shape] {
    const a = new Attrs(ctx, op === 'Gemm' ? ['alpha', 'beta', 'transA', 'transB'] : []);
    const s = this.shape;
    if (s.kind !== 'vec') fail('UNSUPPORTED_LAYER', `${ctx.label}: input is a [1, ${s.c}, ${s.h}, ${s.w}] map; a Flatten must come first`);
    if (a.int('transA', 0) !== 0) fail('UNSUPPORTED_LAYER', `${ctx.label}: transA 1 is not supported`);
    for (const k of ['alpha', 'beta']) if ((a.float(k) ?? 1) !== 1) fail('UNSUPPORTED_LAYER', `${ctx.label}: ${k} ${a.float(k)} is not supported (only 1)`);
    const transB = a.int('transB', 0);
    const wt = initializerInput(ctx, 1);
    if (!wt || wt.dims.length !== 2) fail('UNSUPPORTED_LAYER', `${ctx.label}: the weight must be a 2-D initializer`);
    const [k, n] = transB ? [Number(wt.dims[1]), Number(wt.dims[0])] : [Number(wt.dims[0]), Number(wt.dims[1])];
    if (k !== s.n) fail('BAD_MODEL', `${ctx.label}: the weight expects ${k} inputs, the previous layer gives ${s.n}`);
    const src = floatValues(ctx, wt, 'weight');
    const kernel = new Float32Array(k * n);
    for (let q = 0; q < k; q++) {
      // q indexes the IR (HWC) input; p the ONNX one (CHW if the input is a flattened map).
      let p = q;
      if (s.chw) {
        const [c, h, w] = s.chw;
        const ch = q % c;
        const hw = (q - ch) / c;
        p = ch * h * w + hw;
      }
      for (let j = 0; j < n; j++) kernel[q * n + j] = transB ? src[j * k + p] : src[p * n + j];
    }
    const bias = op === 'Gemm' ? this.optionalVector(ctx, 2, n, 'bias C') : new Float32Array(n);
    return [{ kind: 'dense', name, inputSize: k, outputSize: n, kernel, bias, activation: 'linear' }, { kind: 'vec', n }];
  }

  /** A per-channel vector input (bias, BatchNorm parameters): [n], or broadcastable [1, n] / [n, 1, 1] / one value. */
  private optionalVector(ctx: NodeCtx, index: number, n: number, role: string): Float32Array {
    const t = initializerInput(ctx, index);
    if (!t) return new Float32Array(n);
    const v = floatValues(ctx, t, role);
    if (v.length === 1) return new Float32Array(n).fill(v[0]);
    if (v.length !== n) fail('BAD_MODEL', `${ctx.label}: ${role} '${t.name}' has ${v.length} values, expected ${n}`);
    return v;
  }

  /** The conv/dense layer that a bias, BatchNorm or activation folds into (before its activation). */
  private foldTarget(ctx: NodeCtx, what: string): FloatConv2D | FloatDense {
    const t = this.tail;
    if (!t || (t.kind !== 'conv2d' && t.kind !== 'dense') || t.activation !== 'linear') {
      fail('UNSUPPORTED_LAYER', `${ctx.label}: ${what} is only supported right after a Conv, Gemm or MatMul (before any activation)`);
    }
    return t;
  }

  private addBias(ctx: NodeCtx): void {
    new Attrs(ctx, []);
    const target = this.foldTarget(ctx, 'Add of a constant bias');
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
    const b = this.optionalVector(ctx, idx, n, 'bias');
    for (let j = 0; j < n; j++) target.bias[j] += b[j];
  }

  private batchNorm(ctx: NodeCtx): void {
    const a = new Attrs(ctx, ['epsilon', 'momentum', 'spatial', 'training_mode']);
    if (a.int('training_mode', 0) !== 0) fail('UNSUPPORTED_LAYER', `${ctx.label}: training_mode 1 is not supported`);
    if (a.int('spatial', 1) !== 1) fail('UNSUPPORTED_LAYER', `${ctx.label}: spatial 0 is not supported`);
    const target = this.foldTarget(ctx, 'BatchNormalization (folded into the preceding layer)');
    const n = target.kind === 'dense' ? target.outputSize : target.outShape[2];
    const [scale, shift, mean, variance] = [1, 2, 3, 4].map((i) => {
      if (!ctx.node.input[i]) fail('BAD_MODEL', `${ctx.label}: input ${i} is missing`);
      return this.optionalVector(ctx, i, n, ['scale', 'B', 'mean', 'var'][i - 1]);
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
    if (!t || (t.kind !== 'conv2d' && t.kind !== 'dense')) {
      fail('UNSUPPORTED_LAYER', `${ctx.label}: an activation is only supported after a Conv, Gemm or MatMul (optionally with BatchNormalization, a bias Add or a MaxPool in between)`);
    }
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
