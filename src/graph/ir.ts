/**
 * The op-graph IR: a model is a graph of ONNX-style operators on tensors. Importers (ONNX, tfjs) translate
 * one node to one node and do no rewriting; the passes in passes/ (constant folding, dead-node removal,
 * batch-dimension dropping, shape inference) rewrite it once for every importer; quant/ lowers it to the
 * integer primitives that the reference and the circuit emitter share.
 *
 * Tensors are row-major in the layout their importer declares (ONNX: NCHW). Values are float64 whatever
 * the file stored; `dtype` keeps what the value means (a float, an integer, a boolean), because integer
 * and boolean tensors are exact in the circuit (scale 1) while float tensors are quantized.
 */
import { fail } from '../util/errors.js';

export type DType = 'float' | 'int' | 'bool';

export interface Tensor {
  dtype: DType;
  shape: number[];
  /** Row-major; length = product of shape (1 for a scalar, shape []). */
  data: Float64Array;
}

/** A named value: a graph input or output, or any node output once shapes are inferred. */
export interface ValueInfo {
  name: string;
  dtype: DType;
  /** -1 marks a dimension not known yet (a symbolic or missing dim, before the passes). */
  shape: number[];
  /**
   * The leading dimension is a batch of 1 that the IR keeps (so every op sees ONNX's own shapes) but
   * users do not see: input files and printed shapes use `userShape` (set by passes/dropBatch.ts).
   */
  batch?: boolean;
  /** An int input whose width the model declares (metadata.ts): integers of `bits` bits, signed or not. */
  bits?: number;
  signed?: boolean;
}

export type AttrValue = number | string | number[] | string[] | Tensor | Graph;

export interface Node {
  /** Unique within the graph (importers name unnamed nodes by position). */
  name: string;
  /** ONNX op_type (tfjs layers are translated to ONNX ops). */
  op: string;
  /** Value names; '' marks an absent optional input. */
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
}

export interface Graph {
  name: string;
  /** Non-constant graph inputs, in the file's order (the order EZKL's input.json lists them). */
  inputs: ValueInfo[];
  /** Graph outputs, in order; shapes are filled in by shape inference. */
  outputs: ValueInfo[];
  /** Topologically ordered. */
  nodes: Node[];
  /** Initializers and folded constants, by value name. */
  constants: Map<string, Tensor>;
  /** What import and the passes changed, for the user (dropped nodes, folded constants, a removed batch dim). */
  notes: string[];
  /** Version of the default (ai.onnx) opset; attributes moved to inputs between opsets (Slice, Pad, Squeeze, ...). */
  opset?: number;
  /** Every node output's dtype and shape, filled in by shape inference (passes/fold.ts). */
  values?: Map<string, ValueInfo>;
  /** Output shapes as the file declares them (-1 for symbolic dims), checked by shape inference; undefined if not declared. */
  declaredOutputShapes?: Array<number[] | undefined>;
  /** Class labels the model declares (metadata.ts): its one output is a classifier's logits, proved with their argmax. */
  labels?: string[];
}

/** The shape a user sees for an input or output: without the IR's leading batch dimension of 1. */
export function userShape(v: ValueInfo): number[] {
  return v.batch ? v.shape.slice(1) : v.shape;
}

export function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function tensor(dtype: DType, shape: number[], data: ArrayLike<number>): Tensor {
  if (data.length !== size(shape)) throw new Error(`internal error: tensor of shape [${shape}] given ${data.length} values`);
  return { dtype, shape: [...shape], data: Float64Array.from(data) };
}

export function scalar(value: number, dtype: DType = 'float'): Tensor {
  return tensor(dtype, [], [value]);
}

/** Row-major strides of a shape. */
export function strides(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    out[i] = s;
    s *= shape[i];
  }
  return out;
}

/** "node 'conv1' (Conv)": how every error about a node starts. */
export function nodeLabel(node: Pick<Node, 'name' | 'op'>): string {
  return `node '${node.name}' (${node.op})`;
}

/** Typed attribute access with errors naming the node and the attribute. */
export class NodeAttrs {
  constructor(private readonly node: Node) {}

  private bad(name: string, want: string): never {
    return fail('UNSUPPORTED_LAYER', `${nodeLabel(this.node)}: attribute '${name}' must be ${want} (got ${JSON.stringify(this.node.attrs[name])})`);
  }

  has(name: string): boolean {
    return this.node.attrs[name] !== undefined;
  }

  int(name: string, fallback?: number): number {
    const v = this.node.attrs[name];
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v)) return this.bad(name, 'an integer');
    return v;
  }

  float(name: string, fallback?: number): number {
    const v = this.node.attrs[name];
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'number') return this.bad(name, 'a number');
    return v;
  }

  ints(name: string, fallback?: number[]): number[] {
    const v = this.node.attrs[name];
    if (v === undefined && fallback !== undefined) return fallback;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isInteger(x))) return this.bad(name, 'a list of integers');
    return v as number[];
  }

  floats(name: string, fallback?: number[]): number[] {
    const v = this.node.attrs[name];
    if (v === undefined && fallback !== undefined) return fallback;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'number')) return this.bad(name, 'a list of numbers');
    return v as number[];
  }

  string(name: string, fallback?: string): string {
    const v = this.node.attrs[name];
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'string') return this.bad(name, 'a string');
    return v;
  }

  strings(name: string, fallback?: string[]): string[] {
    const v = this.node.attrs[name];
    if (v === undefined && fallback !== undefined) return fallback;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) return this.bad(name, 'a list of strings');
    return v as string[];
  }

  tensor(name: string): Tensor | undefined {
    const v = this.node.attrs[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'object' || Array.isArray(v) || !('data' in v)) return this.bad(name, 'a tensor');
    return v;
  }

  /** Refuse an attribute value the implementation does not support, naming node, attribute and value. */
  require(name: string, ok: boolean, what: string): void {
    if (!ok) fail('UNSUPPORTED_LAYER', `${nodeLabel(this.node)}: attribute '${name}' = ${JSON.stringify(this.node.attrs[name])} is not supported (${what})`);
  }
}
