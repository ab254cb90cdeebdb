/**
 * Building one IR layer from one ONNX node (Conv, Gemm/MatMul, pools, flatten) given the shape of the value
 * it reads; the graph walk and the folds are in src/model/onnx.ts.
 */
import { fail } from '../util/errors.js';
import { Attrs, floatValues, initializerInput, int64Values, readPads, readStrides, type NodeCtx } from './onnxValues.js';
import type { FloatConv2D, FloatDense, FloatLayer } from './types.js';

/** A value's shape without the batch dimension. `chw`: a flattened map, still in CHW order. */
export type Shape = { kind: 'map'; c: number; h: number; w: number } | { kind: 'vec'; n: number; chw?: [number, number, number] };

function product(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

export function mapShape(ctx: NodeCtx, shape: Shape): { c: number; h: number; w: number } {
  if (shape.kind !== 'map') fail('UNSUPPORTED_LAYER', `${ctx.label}: expects a [1, C, H, W] feature map, but its input is a [1, ${shape.n}] vector`);
  return shape;
}

/** A per-channel vector input (bias, BatchNorm parameters): [n], or broadcastable [1, n] / [n, 1, 1] / one value. */
export function optionalVector(ctx: NodeCtx, index: number, n: number, role: string): Float32Array {
  const t = initializerInput(ctx, index);
  if (!t) return new Float32Array(n);
  const v = floatValues(ctx, t, role);
  if (v.length === 1) return new Float32Array(n).fill(v[0]);
  if (v.length !== n) fail('BAD_MODEL', `${ctx.label}: ${role} '${t.name}' has ${v.length} values, expected ${n}`);
  return v;
}

export function convLayer(ctx: NodeCtx, name: string, shape: Shape): [FloatConv2D, Shape] {
  const a = new Attrs(ctx, ['auto_pad', 'dilations', 'group', 'kernel_shape', 'pads', 'strides']);
  const { c, h, w } = mapShape(ctx, shape);
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
  const bias = optionalVector(ctx, 2, m, 'bias');
  const layer: FloatConv2D = {
    kind: 'conv2d',
    name,
    inShape: [h, w, c],
    outShape: [oh, ow, m],
    kernelSize: [kH, kW],
    strides,
    pads,
    depthwise,
    kernel,
    bias,
    activation: 'linear',
  };
  return [layer, { kind: 'map', c: m, h: oh, w: ow }];
}

export function poolLayer(ctx: NodeCtx, name: string, op: 'MaxPool' | 'AveragePool', shape: Shape): [FloatLayer, Shape] {
  const known = op === 'MaxPool' ? ['dilations', 'storage_order'] : ['count_include_pad'];
  const a = new Attrs(ctx, ['auto_pad', 'ceil_mode', 'kernel_shape', 'pads', 'strides', ...known]);
  const { c, h, w } = mapShape(ctx, shape);
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
  return [
    { kind, name, inShape: [h, w, c], outShape: [oh, ow, c], poolSize: [k[0], k[1]], strides },
    { kind: 'map', c, h: oh, w: ow },
  ];
}

export function flatten(ctx: NodeCtx, op: 'Flatten' | 'Reshape', shape: Shape): Shape {
  const s = shape;
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
  return s.kind !== 'map' ? s : { kind: 'vec', n: total, chw: s.h * s.w > 1 && s.c > 1 ? [s.c, s.h, s.w] : undefined };
}

export function denseLayer(ctx: NodeCtx, name: string, op: 'Gemm' | 'MatMul', shape: Shape): [FloatDense, Shape] {
  const a = new Attrs(ctx, op === 'Gemm' ? ['alpha', 'beta', 'transA', 'transB'] : []);
  const s = shape;
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
  const bias = op === 'Gemm' ? optionalVector(ctx, 2, n, 'bias C') : new Float32Array(n);
  return [
    { kind: 'dense', name, inputSize: k, outputSize: n, kernel, bias, activation: 'linear' },
    { kind: 'vec', n },
  ];
}
