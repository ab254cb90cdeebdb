/**
 * A small ONNX writer for tests: builds a ModelProto node by node (a chain, or a graph by setting
 * `current`) from explicit weights and encodes it with the same protobufjs schema the importer decodes
 * with. onnxruntime loading these files is what shows the schema and the encoding are right
 * (test/onnx.test.ts).
 */
import { encodeOnnxModel, ONNX_ATTR, ONNX_DTYPE } from '../../src/model/onnxProto.js';

export interface TensorSpec {
  name: string;
  dims: number[];
  data_type: number;
  raw_data?: Uint8Array;
  float_data?: number[];
  int64_data?: number[];
  data_location?: number;
  external_data?: Array<{ key: string; value: string }>;
}

export interface AttrSpec {
  name: string;
  type: number;
  i?: number;
  f?: number;
  s?: Uint8Array;
  t?: TensorSpec;
  ints?: number[];
  floats?: number[];
  strings?: Uint8Array[];
}

export interface NodeSpec {
  op_type: string;
  name?: string;
  domain?: string;
  input: string[];
  output: string[];
  attribute: AttrSpec[];
}

export const attr = {
  int: (name: string, i: number): AttrSpec => ({ name, type: ONNX_ATTR.INT, i }),
  ints: (name: string, ints: number[]): AttrSpec => ({ name, type: ONNX_ATTR.INTS, ints }),
  float: (name: string, f: number): AttrSpec => ({ name, type: ONNX_ATTR.FLOAT, f }),
  str: (name: string, s: string): AttrSpec => ({ name, type: ONNX_ATTR.STRING, s: Buffer.from(s, 'utf8') }),
  tensor: (name: string, t: TensorSpec): AttrSpec => ({ name, type: ONNX_ATTR.TENSOR, t }),
};

/** A float32 tensor, stored as little-endian raw_data (what exporters write) or as float_data. */
export function floatTensor(name: string, dims: number[], values: ArrayLike<number>, as: 'raw' | 'float_data' = 'raw'): TensorSpec {
  const count = dims.reduce((a, b) => a * b, 1);
  if (values.length !== count) throw new Error(`floatTensor ${name}: ${values.length} values for dims ${JSON.stringify(dims)}`);
  const f32 = Float32Array.from(values);
  if (as === 'float_data') return { name, dims, data_type: ONNX_DTYPE.FLOAT, float_data: Array.from(f32) };
  return { name, dims, data_type: ONNX_DTYPE.FLOAT, raw_data: new Uint8Array(f32.buffer) };
}

export function int64Tensor(name: string, dims: number[], values: number[]): TensorSpec {
  const buf = Buffer.alloc(8 * values.length);
  values.forEach((v, i) => buf.writeBigInt64LE(BigInt(v), 8 * i));
  return { name, dims, data_type: ONNX_DTYPE.INT64, raw_data: new Uint8Array(buf) };
}

export function int32Tensor(name: string, dims: number[], values: ArrayLike<number>): TensorSpec {
  return { name, dims, data_type: ONNX_DTYPE.INT32, raw_data: new Uint8Array(Int32Array.from(values).buffer) };
}

export function doubleTensor(name: string, dims: number[], values: ArrayLike<number>): TensorSpec {
  return { name, dims, data_type: ONNX_DTYPE.DOUBLE, raw_data: new Uint8Array(Float64Array.from(values).buffer) };
}

/** One byte per value, 0 or 1 (nonzero values are true). */
export function boolTensor(name: string, dims: number[], values: ArrayLike<number | boolean>): TensorSpec {
  return { name, dims, data_type: ONNX_DTYPE.BOOL, raw_data: Uint8Array.from(Array.from(values, (v) => (v ? 1 : 0))) };
}

/** IEEE half-precision bits of a float (round to nearest; enough for test weights in the normal range). */
function toHalf(v: number): number {
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  if (v === 0 || exp <= 0) return sign;
  return sign | (exp << 10) | Math.round((u & 0x7fffff) / 0x2000);
}

export function float16Tensor(name: string, dims: number[], values: ArrayLike<number>): TensorSpec {
  const buf = Buffer.alloc(2 * values.length);
  for (let i = 0; i < values.length; i++) buf.writeUInt16LE(toHalf(values[i]), 2 * i);
  return { name, dims, data_type: ONNX_DTYPE.FLOAT16, raw_data: new Uint8Array(buf) };
}

/**
 * Builds a graph node by node. `op` feeds the chain's current value as input 0 (or wherever `inputs` puts
 * the `CURRENT` marker) and makes the node's output the new current value.
 */
export const CURRENT = '<current>';

export class OnnxChain {
  readonly nodes: NodeSpec[] = [];
  readonly initializers: TensorSpec[] = [];
  current: string;
  private counter = 0;

  constructor(
    readonly inputName: string,
    readonly inputDims: Array<number | string>,
  ) {
    this.current = inputName;
  }

  /** Add an initializer; returns its name. */
  init(t: TensorSpec): string {
    this.initializers.push(t);
    return t.name;
  }

  op(opType: string, extra: string[] = [], attributes: AttrSpec[] = [], name?: string, outputs = 1): this {
    const nodeName = name ?? `${opType.toLowerCase()}_${this.counter++}`;
    const input = extra.includes(CURRENT) ? extra.map((i) => (i === CURRENT ? this.current : i)) : [this.current, ...extra];
    const output = Array.from({ length: outputs }, (_, k) => (k === 0 ? `${nodeName}_out` : `${nodeName}_out${k}`));
    this.nodes.push({ op_type: opType, name: nodeName, input, output, attribute: attributes });
    this.current = output[0];
    return this;
  }

  /** Encode as a .onnx file. `extraInputs`/`outputs` override the graph's single input and output. */
  build(opts: { opset?: number; irVersion?: number; outputs?: string[]; extraInputs?: Array<{ name: string; dims: number[] }> } = {}): Uint8Array {
    const valueInfo = (name: string, dims: Array<number | string>) => ({
      name,
      type: { tensor_type: { elem_type: ONNX_DTYPE.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } },
    });
    return writeOnnx({
      opset: opts.opset ?? 13,
      irVersion: opts.irVersion ?? 8,
      graph: {
        name: 'test_graph',
        node: this.nodes,
        initializer: this.initializers,
        input: [valueInfo(this.inputName, this.inputDims), ...(opts.extraInputs ?? []).map((i) => valueInfo(i.name, i.dims))],
        // Output shapes are left unspecified: onnxruntime infers them, the importer does not read them.
        output: (opts.outputs ?? [this.current]).map((name) => ({ name, type: { tensor_type: { elem_type: ONNX_DTYPE.FLOAT } } })),
      },
    });
  }
}

export function writeOnnx(spec: {
  opset: number;
  irVersion: number;
  graph: Record<string, unknown>;
  extraImports?: Array<{ domain: string; version: number }>;
  metadata?: Array<{ key: string; value: string }>;
}): Uint8Array {
  return encodeOnnxModel({
    ir_version: spec.irVersion,
    producer_name: 'zkinfer-test',
    opset_import: [{ domain: '', version: spec.opset }, ...(spec.extraImports ?? [])],
    graph: spec.graph,
    ...(spec.metadata ? { metadata_props: spec.metadata } : {}),
  });
}
