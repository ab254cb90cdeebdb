/**
 * ONNX -> op graph. A translation only: one ONNX node becomes one IR Node with its attributes decoded,
 * initializers and Constant nodes become constants, graph inputs and outputs become ValueInfos. Nothing
 * is rewritten here (no folding, no batch handling, no shape inference): that is the passes' job
 * (passes/index.ts), shared by every importer. What cannot be represented is refused with one line naming
 * the node: operators of other domains, subgraphs (If/Loop/Scan), external data, sparse initializers.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fail, ZkinferError } from '../util/errors.js';
import { decodeOnnxModel, dtypeName, type OnnxGraph, type OnnxModelProto, type OnnxNode, type OnnxValueInfo } from '../model/onnxProto.js';
import { nodeLabel, tensor, type AttrValue, type Graph, type Node, type Tensor, type ValueInfo } from './ir.js';
import { decodeAttr, decodeTensor, elemDType } from './onnxValues.js';
import { parseModelMetadata } from './metadata.js';

/** An ONNX file's bytes and the name its file gives (both importers read files through this). */
export async function readOnnxFile(file: string): Promise<{ bytes: Uint8Array; name: string }> {
  try {
    return { bytes: await readFile(file), name: path.basename(file, path.extname(file)) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ZkinferError(code === 'ENOENT' ? 'NOT_FOUND' : 'BAD_MODEL', `cannot read ONNX model ${file}: ${(err as Error).message}`);
  }
}

export async function loadOnnxGraph(file: string): Promise<Graph> {
  const { bytes, name } = await readOnnxFile(file);
  return importOnnxGraph(bytes, name);
}

const isDefaultDomain = (d: string | undefined): boolean => !d || d === 'ai.onnx';

export function importOnnxGraph(bytes: Uint8Array, fallbackName = 'onnx'): Graph {
  let model: OnnxModelProto;
  try {
    model = decodeOnnxModel(bytes);
  } catch (err) {
    throw new ZkinferError('BAD_MODEL', `not an ONNX model (protobuf decoding failed: ${(err as Error).message})`);
  }
  const g = model.graph;
  if (!g) fail('BAD_MODEL', 'the ONNX model has no graph');
  if (g.sparse_initializer.length > 0) fail('UNSUPPORTED_LAYER', `the graph has ${g.sparse_initializer.length} sparse initializer(s), which are not supported`);
  const opset = model.opset_import.find((o) => isDefaultDomain(o.domain))?.version;
  if (opset === undefined) fail('BAD_MODEL', `the model imports no version of the default ONNX opset (opset_import: ${JSON.stringify(model.opset_import)})`);

  const constants = new Map<string, Tensor>();
  for (const t of g.initializer) {
    if (!t.name) fail('BAD_MODEL', 'an initializer has no name');
    constants.set(t.name, decodeTensor(t, `initializer '${t.name}'`));
  }
  const inputs = g.input.filter((v) => !constants.has(v.name ?? '')).map((v) => valueInfo(v, 'input'));
  const outputs = g.output.map((v) => valueInfo(v, 'output'));
  const declaredOutputShapes = g.output.map(declaredShape);
  const nodes = translateNodes(g, Number(opset), constants, inputs);
  for (const o of outputs) {
    if (!constants.has(o.name) && !inputs.some((i) => i.name === o.name) && !nodes.some((n) => n.outputs.includes(o.name))) {
      fail('BAD_MODEL', `graph output '${o.name}' is not computed by any node, nor an input or an initializer`);
    }
  }
  const labels = declaredMetadata(model, inputs);
  return { name: g.name || fallbackName, inputs, outputs, nodes, constants, notes: [], opset: Number(opset), declaredOutputShapes, ...(labels ? { labels } : {}) };
}

/**
 * zkinfer's metadata block (metadata.ts) in ModelProto.metadata_props under key "zkinfer" (JSON): class
 * labels, and the declared width of int inputs (inputEncoding's bits / signed; its scale must be 1, as
 * an ONNX graph does its own Cast and scaling). Returns the labels; sets the inputs' widths.
 */
function declaredMetadata(model: OnnxModelProto, inputs: ValueInfo[]): string[] | undefined {
  const entry = model.metadata_props?.find((e) => e.key === 'zkinfer');
  if (!entry) return undefined;
  let block: unknown;
  try {
    block = JSON.parse(entry.value ?? '');
  } catch {
    fail('BAD_MODEL', 'metadata_props "zkinfer" is not JSON');
  }
  const meta = parseModelMetadata(block, 'metadata_props "zkinfer"');
  meta.inputEncoding?.forEach((enc, i) => {
    if (!enc) return;
    const input = inputs[i];
    if (!input || input.dtype !== 'int' || enc.scale !== 1)
      fail('BAD_MODEL', `metadata_props "zkinfer": inputEncoding[${i}] must describe an int input at scale 1 (the graph casts and scales it itself)`);
    input.bits = enc.bits;
    input.signed = enc.signed;
  });
  return meta.classLabels;
}

/** Dims as declared: numbers, -1 for symbolic ('batch_size', '?', 'N') or missing dims; undefined if no shape. */
function declaredShape(v: OnnxValueInfo): number[] | undefined {
  const shape = v.type?.tensor_type?.shape;
  if (!shape) return undefined;
  return shape.dim.map((d) => (d.dim_param || d.dim_value === undefined ? -1 : Number(d.dim_value)));
}

function valueInfo(v: OnnxValueInfo, role: 'input' | 'output'): ValueInfo {
  const name = v.name ?? '';
  if (!name) fail('BAD_MODEL', `a graph ${role} has no name`);
  const tt = v.type?.tensor_type;
  if (!tt) fail('UNSUPPORTED_LAYER', `graph ${role} '${name}' is not a tensor (sequences, maps and optionals are not supported)`);
  const dtype = elemDType(tt.elem_type);
  if (!dtype) fail('UNSUPPORTED_LAYER', `graph ${role} '${name}' has element type ${dtypeName(tt.elem_type)}, which is not supported (float, double, float16, integers, bool)`);
  const shape = declaredShape(v);
  if (role === 'input' && !shape) fail('UNSUPPORTED_LAYER', `graph input '${name}' has no declared shape; its rank must be known`);
  return { name, dtype, shape: shape ?? [] };
}

/** The value of a Constant node, from whichever of its attributes is set. */
function constantValue(node: OnnxNode, label: string): Tensor {
  const attrs = node.attribute;
  if (attrs.length !== 1) fail('UNSUPPORTED_LAYER', `${label}: a Constant needs exactly one value attribute (got ${attrs.map((a) => `'${a.name}'`).join(', ') || 'none'})`);
  const a = attrs[0];
  const v = decodeAttr(a, label);
  switch (a.name) {
    case 'value':
      return v as Tensor;
    case 'value_float':
      return tensor('float', [], [v as number]);
    case 'value_int':
      return tensor('int', [], [v as number]);
    case 'value_floats':
      return tensor('float', [(v as number[]).length], v as number[]);
    case 'value_ints':
      return tensor('int', [(v as number[]).length], v as number[]);
    default:
      return fail('UNSUPPORTED_LAYER', `${label}: attribute '${a.name}' is not supported (value, value_float, value_floats, value_int, value_ints)`);
  }
}

function translateNodes(g: OnnxGraph, opset: number, constants: Map<string, Tensor>, inputs: ValueInfo[]): Node[] {
  const defined = new Set<string>([...constants.keys(), ...inputs.map((i) => i.name)]);
  const names = new Set<string>();
  const nodes: Node[] = [];
  g.node.forEach((n, index) => {
    const op = n.op_type ?? '';
    const name = n.name || `${op}_${index}`;
    if (names.has(name)) fail('BAD_MODEL', `two nodes are named '${name}'`);
    names.add(name);
    const label = nodeLabel({ name, op });
    if (!op) fail('BAD_MODEL', `${label} has no op_type`);
    if (!isDefaultDomain(n.domain)) fail('UNSUPPORTED_LAYER', `${label}: operator domain '${n.domain}' is not supported (only the default ONNX domain, opset ${opset})`);
    n.input.forEach((i, k) => {
      if (i !== '' && !defined.has(i))
        fail('BAD_MODEL', `${label}: input ${k} ('${i}') is not a graph input, an initializer or an earlier node's output (nodes must be in topological order)`);
    });
    for (const o of n.output) {
      if (o === '') continue;
      if (defined.has(o)) fail('BAD_MODEL', `${label}: output '${o}' is defined twice`);
      defined.add(o);
    }
    if (op === 'Constant') {
      if (n.output.length !== 1 || !n.output[0]) fail('BAD_MODEL', `${label}: a Constant has exactly one output`);
      constants.set(n.output[0], constantValue(n, label));
      return;
    }
    const attrs: Record<string, AttrValue> = {};
    for (const a of n.attribute) attrs[a.name ?? ''] = decodeAttr(a, label);
    nodes.push({ name, op, inputs: [...n.input], outputs: [...n.output], attrs });
  });
  return nodes;
}
