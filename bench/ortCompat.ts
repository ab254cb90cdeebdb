/**
 * A spec-valid copy of a model that onnxruntime refuses only because of element types outside an op's
 * ONNX type list, for use as the float reference. Today one rule: MatMul and Gemm are defined on
 * float16/32/64, bfloat16 and 32/64-bit integers, not int8/uint8 (that is MatMulInteger), yet converters
 * (hummingbird's tree ensembles) emit int8 MatMul on 0/1 decision vectors, and compare the results with
 * Equal (int32/int64/bool only before opset 11). Widening every int8/uint8 tensor the graph makes (initializers, Constant
 * nodes, Casts) to int32 is valid for both and exact, so the copy computes the values the file means, as
 * long as no int8 arithmetic would wrap (a tree's path counts never do). It is only used when onnxruntime
 * refuses the file over an int8 type. zkinfer itself needs no such copy: its importer
 * treats every integer tensor as exact integers.
 */
import { decodeOnnxModel, encodeOnnxModel, ONNX_DTYPE, type OnnxTensor } from '../src/model/onnxProto.js';

/**
 * Ops whose opset-11 definition means the same as opset 10's for every valid opset-10 node (11 only added
 * types, negative axes or indices, or optional inputs): a graph of only these may be read at opset 11.
 * Equal, Less and Greater gained float types at 11, and exporters write float Equal into opset-10 files
 * (an attention mask compared with 0), which onnxruntime refuses by the letter of opset 10.
 */
const SAME_AT_11 = new Set([
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Pow',
  'Sqrt',
  'Neg',
  'Abs',
  'Exp',
  'Log',
  'Tanh',
  'Sigmoid',
  'Relu',
  'Erf',
  'MatMul',
  'Gemm',
  'Transpose',
  'Reshape',
  'Flatten',
  'Squeeze',
  'Unsqueeze',
  'Concat',
  'Split',
  'Slice',
  'Gather',
  'Shape',
  'Cast',
  'Identity',
  'Constant',
  'ConstantOfShape',
  'Expand',
  'Where',
  'Equal',
  'Less',
  'Greater',
  'Not',
  'And',
  'Or',
  'Softmax',
  'LogSoftmax',
  'ReduceMean',
  'ReduceSum',
  'ReduceMax',
  'ReduceMin',
]);

/** The model read at opset 11, when it is an opset-10 model made only of ops that mean the same there; else null. */
export function raiseOpset10(bytes: Uint8Array): Uint8Array | null {
  const model = decodeOnnxModel(bytes);
  const main = model.opset_import.find((o) => !o.domain || o.domain === 'ai.onnx');
  if (!main || main.version !== 10 || !model.graph?.node.every((n) => SAME_AT_11.has(n.op_type ?? ''))) return null;
  main.version = 11;
  return encodeOnnxModel(model as unknown as Record<string, unknown>);
}

const NARROW = new Set<number>([ONNX_DTYPE.INT8, ONNX_DTYPE.UINT8]);
const LINEAR = new Set(['MatMul', 'Gemm']);

function tensorValues(t: OnnxTensor): number[] {
  if (t.raw_data && t.raw_data.length) {
    const bytes = t.raw_data;
    return t.data_type === ONNX_DTYPE.INT8 ? Array.from(new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length)) : Array.from(bytes);
  }
  return t.int32_data;
}

function widened(t: OnnxTensor): OnnxTensor {
  const raw = new Uint8Array(Int32Array.from(tensorValues(t)).buffer);
  return { ...t, data_type: ONNX_DTYPE.INT32, raw_data: raw, int32_data: [] };
}

/**
 * The model with every int8/uint8 tensor it makes widened to int32 (initializers, Constant nodes, Casts),
 * or null when it has no int8/uint8 MatMul or Gemm operand (then there is nothing this copy would fix).
 */
export function widenNarrowMatMul(bytes: Uint8Array): Uint8Array | null {
  const model = decodeOnnxModel(bytes);
  const graph = model.graph;
  if (!graph) return null;
  const narrow = new Set([
    ...graph.initializer.filter((t) => NARROW.has(t.data_type ?? 0)).map((t) => t.name),
    ...graph.node
      .filter((n) => n.attribute.some((a) => (n.op_type === 'Cast' && a.name === 'to' && NARROW.has(a.i ?? 0)) || (n.op_type === 'Constant' && NARROW.has(a.t?.data_type ?? 0))))
      .flatMap((n) => n.output),
  ]);
  if (!graph.node.some((n) => LINEAR.has(n.op_type ?? '') && n.input.some((i) => narrow.has(i)))) return null;
  let changed = false;
  graph.initializer = graph.initializer.map((t) => {
    if (!NARROW.has(t.data_type ?? 0)) return t;
    changed = true;
    return widened(t);
  });
  for (const node of graph.node) {
    for (const a of node.attribute) {
      if (node.op_type === 'Cast' && a.name === 'to' && NARROW.has(a.i ?? 0)) {
        a.i = ONNX_DTYPE.INT32;
        changed = true;
      }
      if (node.op_type === 'Constant' && a.name === 'value' && a.t && NARROW.has(a.t.data_type ?? 0)) {
        a.t = widened(a.t);
        changed = true;
      }
    }
  }
  // Declared intermediate types would contradict the widened ones: drop them (onnxruntime re-infers).
  const declared = graph as unknown as { value_info?: unknown[] };
  if (changed && declared.value_info) declared.value_info = [];
  return changed ? encodeOnnxModel(model as unknown as Record<string, unknown>) : null;
}
