/**
 * A general ONNX graph builder for tests: any number of typed inputs and outputs (symbolic dims allowed),
 * initializers of any common dtype, Constant nodes, and nodes with attributes given as plain values.
 * Tensors are encoded with onnxWriter's helpers and the model with its writeOnnx, so files from both
 * builders go through the one protobufjs schema the importer decodes with.
 *
 *   const g = new OnnxGraphBuilder('mlp', { opset: 17 });
 *   g.input('x', 'float', ['batch_size', 4]);
 *   const w = g.initializer('w', 'float', [3, 4], weights);
 *   const [h] = g.node('Gemm', ['x', w], undefined, { transB: 1, alpha: f(1) });
 *   g.output(g.node('Relu', [h], ['y'])[0], 'float');
 *   const bytes = g.encode();
 *
 * Attribute values: an integer number is INT and any other number FLOAT (`f(1)` forces FLOAT); an array
 * of integers is INTS, of other numbers FLOATS (`f([1, 2])` forces FLOATS), of strings STRINGS; a string
 * is STRING; a tensor (`tensorValue(...)` or any onnxWriter TensorSpec) is TENSOR.
 */
import { ONNX_ATTR, ONNX_DTYPE } from '../../src/model/onnxProto.js';
import { boolTensor, doubleTensor, float16Tensor, floatTensor, int32Tensor, int64Tensor, writeOnnx, type AttrSpec, type NodeSpec, type TensorSpec } from './onnxWriter.js';

export type OnnxDType = 'float' | 'double' | 'float16' | 'int64' | 'int32' | 'int8' | 'bool';
/** A dimension: its size, or a symbolic name such as 'batch_size'. */
export type Dim = number | string;

export const ELEM_TYPE: Record<OnnxDType, number> = {
  float: ONNX_DTYPE.FLOAT,
  double: ONNX_DTYPE.DOUBLE,
  float16: ONNX_DTYPE.FLOAT16,
  int64: ONNX_DTYPE.INT64,
  int32: ONNX_DTYPE.INT32,
  int8: ONNX_DTYPE.INT8,
  bool: ONNX_DTYPE.BOOL,
};

/** An attribute value forced to FLOAT or FLOATS even when its numbers are integers. */
export interface FloatAttr {
  readonly forceFloat: number | number[];
}

export function f(value: number | number[]): FloatAttr {
  return { forceFloat: value };
}

export type AttrValueSpec = number | number[] | string | string[] | FloatAttr | TensorSpec;

/** A named tensor of `dtype` (raw little-endian data, as exporters write it). */
export function encodeTensor(name: string, dtype: OnnxDType, dims: number[], values: ArrayLike<number | boolean>): TensorSpec {
  const count = dims.reduce((a, b) => a * b, 1);
  if (values.length !== count) throw new Error(`tensor ${name || '(attribute)'}: ${values.length} values for dims ${JSON.stringify(dims)}`);
  if (dtype === 'bool') return boolTensor(name, dims, values);
  const nums = Array.from(values, Number);
  switch (dtype) {
    case 'float':
      return floatTensor(name, dims, nums);
    case 'double':
      return doubleTensor(name, dims, nums);
    case 'float16':
      return float16Tensor(name, dims, nums);
    case 'int64':
      return int64Tensor(name, dims, nums);
    case 'int32':
      return int32Tensor(name, dims, nums);
    case 'int8':
      return { name, dims, data_type: ONNX_DTYPE.INT8, raw_data: new Uint8Array(Int8Array.from(nums).buffer) };
  }
}

/** A tensor for an attribute value (Constant's `value`, ConstantOfShape's `value`). */
export function tensorValue(dtype: OnnxDType, dims: number[], values: ArrayLike<number | boolean>): TensorSpec {
  return encodeTensor('', dtype, dims, values);
}

function isTensorSpec(v: unknown): v is TensorSpec {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && 'data_type' in v && 'dims' in v;
}

/** One attribute from a plain value (see the module comment for the rules). */
export function toAttr(name: string, v: AttrValueSpec): AttrSpec {
  if (typeof v === 'number') return Number.isInteger(v) ? { name, type: ONNX_ATTR.INT, i: v } : { name, type: ONNX_ATTR.FLOAT, f: v };
  if (typeof v === 'string') return { name, type: ONNX_ATTR.STRING, s: Buffer.from(v, 'utf8') };
  if (Array.isArray(v)) {
    if (v.length > 0 && v.every((x) => typeof x === 'string')) return { name, type: ONNX_ATTR.STRINGS, strings: (v as string[]).map((s) => Buffer.from(s, 'utf8')) };
    if (!v.every((x) => typeof x === 'number')) throw new Error(`attribute ${name}: mixed array ${JSON.stringify(v)}`);
    const nums = v as number[];
    return nums.every(Number.isInteger) ? { name, type: ONNX_ATTR.INTS, ints: nums } : { name, type: ONNX_ATTR.FLOATS, floats: nums };
  }
  if (isTensorSpec(v)) return { name, type: ONNX_ATTR.TENSOR, t: v };
  if (typeof v === 'object' && v !== null && 'forceFloat' in v) {
    const x = v.forceFloat;
    return Array.isArray(x) ? { name, type: ONNX_ATTR.FLOATS, floats: x } : { name, type: ONNX_ATTR.FLOAT, f: x };
  }
  throw new Error(`attribute ${name}: cannot encode ${JSON.stringify(v)}`);
}

export interface OnnxGraphOptions {
  /** Version of the default ('' = ai.onnx) opset; 17 unless given. */
  opset?: number;
  /** ModelProto.ir_version; 8 unless given (onnxruntime accepts 3..10). */
  irVersion?: number;
  /** Further opset imports by domain, e.g. { 'com.microsoft': 1 }. */
  imports?: Record<string, number>;
}

interface ValueInfoSpec {
  name: string;
  type: { tensor_type: { elem_type: number; shape?: { dim: Array<{ dim_value: number } | { dim_param: string }> } } };
}

function valueInfo(name: string, dtype: OnnxDType, dims?: Dim[]): ValueInfoSpec {
  const tensorType: ValueInfoSpec['type']['tensor_type'] = { elem_type: ELEM_TYPE[dtype] };
  if (dims) tensorType.shape = { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) };
  return { name, type: { tensor_type: tensorType } };
}

export class OnnxGraphBuilder {
  readonly inputs: ValueInfoSpec[] = [];
  readonly outputs: ValueInfoSpec[] = [];
  readonly nodes: NodeSpec[] = [];
  readonly initializers: TensorSpec[] = [];
  private readonly names = new Set<string>();
  private counter = 0;

  constructor(
    readonly name: string,
    readonly options: OnnxGraphOptions = {},
  ) {}

  private claim(name: string): string {
    if (!name) throw new Error('value names must be non-empty');
    if (this.names.has(name)) throw new Error(`value '${name}' is defined twice`);
    this.names.add(name);
    return name;
  }

  /** A graph input; returns its name. */
  input(name: string, dtype: OnnxDType, dims: Dim[]): string {
    this.inputs.push(valueInfo(this.claim(name), dtype, dims));
    return name;
  }

  /**
   * An initializer; returns its name. `asInput` also lists it among the graph inputs, as files from
   * IR version 3 exporters do (importers must treat it as a constant, not an input to feed).
   */
  initializer(name: string, dtype: OnnxDType, dims: number[], values: ArrayLike<number | boolean>, opts: { asInput?: boolean } = {}): string {
    this.initializers.push(encodeTensor(this.claim(name), dtype, dims, values));
    if (opts.asInput) this.inputs.push(valueInfo(name, dtype, dims));
    return name;
  }

  /** A Constant node holding a tensor; returns its output name. */
  constant(dtype: OnnxDType, dims: number[], values: ArrayLike<number | boolean>, output?: string): string {
    return this.node('Constant', [], output === undefined ? undefined : [output], { value: tensorValue(dtype, dims, values) })[0];
  }

  /**
   * A node; returns its output names. `outputs` are names, or how many to name automatically (1 if
   * omitted). Inputs may be '' for an absent optional input.
   */
  node(op: string, inputs: string[], outputs?: string[] | number, attrs: Record<string, AttrValueSpec | undefined> = {}, opts: { name?: string; domain?: string } = {}): string[] {
    const nodeName = opts.name ?? `${op.toLowerCase()}_${this.counter++}`;
    const count = typeof outputs === 'number' ? outputs : (outputs?.length ?? 1);
    const names = Array.isArray(outputs) ? outputs : Array.from({ length: count }, (_, k) => (count === 1 ? `${nodeName}_out` : `${nodeName}_out${k}`));
    names.forEach((n) => this.claim(n));
    const attribute = Object.entries(attrs)
      .filter((e): e is [string, AttrValueSpec] => e[1] !== undefined)
      .map(([k, v]) => toAttr(k, v));
    this.nodes.push({ op_type: op, name: nodeName, input: inputs, output: names, attribute, ...(opts.domain ? { domain: opts.domain } : {}) });
    return names;
  }

  /** Declare a graph output (its value must exist); dims omitted leaves the shape to onnxruntime. */
  output(name: string, dtype: OnnxDType, dims?: Dim[]): this {
    if (!this.names.has(name)) throw new Error(`output '${name}' is not a value of the graph`);
    this.outputs.push(valueInfo(name, dtype, dims));
    return this;
  }

  /** The model bytes; `metadata` becomes ModelProto.metadata_props (values JSON-encoded), e.g. {zkinfer: {...}}. */
  encode(metadata?: Record<string, unknown>): Uint8Array {
    if (this.outputs.length === 0) throw new Error(`graph ${this.name} has no outputs`);
    const extra = Object.entries(this.options.imports ?? {}).map(([domain, version]) => ({ domain, version }));
    return writeOnnx({
      opset: this.options.opset ?? 17,
      irVersion: this.options.irVersion ?? 8,
      extraImports: extra,
      ...(metadata ? { metadata: Object.entries(metadata).map(([key, v]) => ({ key, value: JSON.stringify(v) })) } : {}),
      graph: { name: this.name, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
    });
  }
}
