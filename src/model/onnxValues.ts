/**
 * Reading ONNX initializers and node attributes for the importer (src/model/onnx.ts). Every problem is
 * reported with the node that uses the value ("node 'conv1' (Conv): ..."), so the user knows what to fix.
 */
import { fail } from '../util/errors.js';
import { dtypeName, ONNX_ATTR, ONNX_DTYPE, type OnnxAttribute, type OnnxNode, type OnnxTensor } from './onnxProto.js';

/** "node 'conv1' (Conv)", or "node #3 (Conv)" for an unnamed node. */
export function nodeLabel(node: OnnxNode, index: number): string {
  return `node ${node.name ? `'${node.name}'` : `#${index}`} (${node.op_type ?? '?'})`;
}

export interface NodeCtx {
  node: OnnxNode;
  label: string;
  initializers: Map<string, OnnxTensor>;
}

function count(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function tensorBytes(ctx: NodeCtx, t: OnnxTensor, width: number): DataView | undefined {
  if (t.data_location === 1 || t.external_data.length > 0) {
    fail('UNSUPPORTED_LAYER', `${ctx.label}: initializer '${t.name}' uses external data files, which are not supported (save the model with the weights inside the .onnx file)`);
  }
  if (!t.raw_data || t.raw_data.length === 0) return undefined;
  const n = count(t.dims);
  if (t.raw_data.length !== n * width) {
    fail('BAD_MODEL', `${ctx.label}: initializer '${t.name}' has ${t.raw_data.length} bytes of raw_data, expected ${n} x ${width}`);
  }
  return new DataView(t.raw_data.buffer, t.raw_data.byteOffset, t.raw_data.byteLength);
}

/** The initializer named by input `index` of the node, or undefined if that input is absent. */
export function initializerInput(ctx: NodeCtx, index: number): OnnxTensor | undefined {
  const name = ctx.node.input[index];
  if (name === undefined || name === '') return undefined;
  const t = ctx.initializers.get(name);
  if (!t) fail('UNSUPPORTED_LAYER', `${ctx.label}: input ${index} ('${name}') must be a constant initializer, but it is computed by the graph`);
  return t;
}

/** A float32 initializer's values (raw_data or float_data); any other data type is an error naming the node. */
export function floatValues(ctx: NodeCtx, t: OnnxTensor, role: string): Float32Array {
  if (t.data_type !== ONNX_DTYPE.FLOAT) {
    fail('UNSUPPORTED_LAYER', `${ctx.label}: ${role} initializer '${t.name}' has data type ${dtypeName(t.data_type)}; only FLOAT (float32) initializers are supported`);
  }
  const n = count(t.dims);
  const view = tensorBytes(ctx, t, 4);
  let out: Float32Array;
  if (view) {
    out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
  } else {
    if (t.float_data.length !== n) fail('BAD_MODEL', `${ctx.label}: initializer '${t.name}' holds ${t.float_data.length} floats, its dims ${JSON.stringify(t.dims)} say ${n}`);
    out = Float32Array.from(t.float_data);
  }
  for (const v of out) if (!Number.isFinite(v)) fail('BAD_MODEL', `${ctx.label}: initializer '${t.name}' contains a non-finite value`);
  return out;
}

/** An INT64 initializer's values (Reshape's target shape). */
export function int64Values(ctx: NodeCtx, t: OnnxTensor, role: string): number[] {
  if (t.data_type !== ONNX_DTYPE.INT64) {
    fail('UNSUPPORTED_LAYER', `${ctx.label}: ${role} initializer '${t.name}' has data type ${dtypeName(t.data_type)}; expected INT64`);
  }
  const n = count(t.dims);
  const view = tensorBytes(ctx, t, 8);
  if (!view) {
    if (t.int64_data.length !== n) fail('BAD_MODEL', `${ctx.label}: initializer '${t.name}' holds ${t.int64_data.length} values, its dims say ${n}`);
    return t.int64_data.map(Number);
  }
  return Array.from({ length: n }, (_, i) => Number(view.getBigInt64(8 * i, true)));
}

/** Attribute accessor that rejects attributes the importer does not know, so none is silently ignored. */
export class Attrs {
  private readonly byName = new Map<string, OnnxAttribute>();
  constructor(
    private readonly ctx: NodeCtx,
    known: string[],
  ) {
    for (const a of ctx.node.attribute) {
      const name = a.name ?? '';
      if (!known.includes(name)) {
        fail('UNSUPPORTED_LAYER', `${ctx.label}: attribute '${name}' is not supported (known: ${known.join(', ') || 'none'})`);
      }
      this.byName.set(name, a);
    }
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  private get(name: string, type: number): OnnxAttribute | undefined {
    const a = this.byName.get(name);
    // IR < 2 files may omit the type discriminator; trust the field in use then.
    if (a && a.type !== undefined && a.type !== type) fail('BAD_MODEL', `${this.ctx.label}: attribute '${name}' has the wrong type`);
    return a;
  }

  int(name: string, dflt: number): number {
    return Number(this.get(name, ONNX_ATTR.INT)?.i ?? dflt);
  }

  float(name: string): number | undefined {
    const a = this.get(name, ONNX_ATTR.FLOAT);
    return a ? (a.f ?? 0) : undefined;
  }

  ints(name: string): number[] | undefined {
    const a = this.get(name, ONNX_ATTR.INTS);
    return a ? a.ints.map(Number) : undefined;
  }

  string(name: string, dflt: string): string {
    const a = this.get(name, ONNX_ATTR.STRING);
    return a?.s ? Buffer.from(a.s).toString('utf8') : dflt;
  }

  tensor(name: string): OnnxTensor | undefined {
    return this.get(name, ONNX_ATTR.TENSOR)?.t;
  }
}

export function readStrides(ctx: NodeCtx, a: Attrs): [number, number] {
  const s = a.ints('strides') ?? [1, 1];
  if (s.length !== 2 || s.some((v) => !Number.isInteger(v) || v < 1))
    fail('UNSUPPORTED_LAYER', `${ctx.label}: strides ${JSON.stringify(s)} are not supported (two positive integers)`);
  return [s[0], s[1]];
}

/** [top, left, bottom, right] from pads / auto_pad. ONNX pads are [y_begin, x_begin, y_end, x_end]: the same order. */
export function readPads(ctx: NodeCtx, a: Attrs, hw: number[], k: number[], s: number[], allowPadding: boolean): [number, number, number, number] {
  const auto = a.string('auto_pad', 'NOTSET');
  const p = a.ints('pads') ?? [0, 0, 0, 0];
  if (auto === 'SAME_UPPER' && allowPadding) {
    const total = [0, 1].map((d) => Math.max(0, (Math.ceil(hw[d] / s[d]) - 1) * s[d] + k[d] - hw[d]));
    return [Math.floor(total[0] / 2), Math.floor(total[1] / 2), total[0] - Math.floor(total[0] / 2), total[1] - Math.floor(total[1] / 2)];
  }
  if (auto !== 'NOTSET' && auto !== 'VALID') {
    fail('UNSUPPORTED_LAYER', `${ctx.label}: auto_pad ${auto} is not supported (${allowPadding ? 'NOTSET, VALID, SAME_UPPER' : 'NOTSET, VALID: no padding'})`);
  }
  if (p.length !== 4 || p.some((v) => !Number.isInteger(v) || v < 0)) fail('UNSUPPORTED_LAYER', `${ctx.label}: pads ${JSON.stringify(p)} are not supported`);
  if (!allowPadding && p.some((v) => v !== 0)) fail('UNSUPPORTED_LAYER', `${ctx.label}: pads ${JSON.stringify(p)} are not supported (pooling without padding only)`);
  return auto === 'VALID' ? [0, 0, 0, 0] : [p[0], p[1], p[2], p[3]];
}
