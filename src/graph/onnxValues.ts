/**
 * Decoding ONNX values for the graph importer (onnx.ts): element types to IR dtypes, TensorProtos
 * (initializers, tensor attributes) to IR Tensors, and AttributeProtos to AttrValues. `where` starts every
 * error ("initializer 'w'", "node 'c' (Constant): attribute 'value'") so the user sees what to fix.
 */
import { fail } from '../util/errors.js';
import { dtypeName, ONNX_ATTR, ONNX_DTYPE, type OnnxAttribute, type OnnxTensor } from '../model/onnxProto.js';
import { size, type AttrValue, type DType, type Tensor } from './ir.js';

const D = ONNX_DTYPE;

/** The IR dtype of an ONNX element type, or undefined (strings, complex numbers, unknown codes). */
export function elemDType(code: number | undefined): DType | undefined {
  switch (code) {
    case D.FLOAT:
    case D.DOUBLE:
    case D.FLOAT16:
      return 'float';
    case D.INT8:
    case D.INT16:
    case D.INT32:
    case D.INT64:
    case D.UINT8:
    case D.UINT16:
    case D.UINT32:
    case D.UINT64:
      return 'int';
    case D.BOOL:
      return 'bool';
    default:
      return undefined;
  }
}

/** Bytes per element in raw_data, and the typed field the element type uses otherwise. */
const LAYOUT: Record<number, { width: number; field: 'float_data' | 'double_data' | 'int32_data' | 'int64_data' }> = {
  [D.FLOAT]: { width: 4, field: 'float_data' },
  [D.DOUBLE]: { width: 8, field: 'double_data' },
  [D.FLOAT16]: { width: 2, field: 'int32_data' },
  [D.INT64]: { width: 8, field: 'int64_data' },
  [D.INT32]: { width: 4, field: 'int32_data' },
  [D.INT16]: { width: 2, field: 'int32_data' },
  [D.UINT16]: { width: 2, field: 'int32_data' },
  [D.INT8]: { width: 1, field: 'int32_data' },
  [D.UINT8]: { width: 1, field: 'int32_data' },
  [D.BOOL]: { width: 1, field: 'int32_data' },
};

const SUPPORTED_TYPES = 'FLOAT, DOUBLE, FLOAT16, INT64, INT32, INT16, UINT16, INT8, UINT8, BOOL';

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function readRaw(view: DataView, code: number, i: number): number {
  switch (code) {
    case D.FLOAT:
      return view.getFloat32(4 * i, true);
    case D.DOUBLE:
      return view.getFloat64(8 * i, true);
    case D.FLOAT16:
      return halfToFloat(view.getUint16(2 * i, true));
    case D.INT64:
      return Number(view.getBigInt64(8 * i, true));
    case D.INT32:
      return view.getInt32(4 * i, true);
    case D.INT16:
      return view.getInt16(2 * i, true);
    case D.UINT16:
      return view.getUint16(2 * i, true);
    case D.INT8:
      return view.getInt8(i);
    case D.UINT8:
      return view.getUint8(i);
    default: // BOOL
      return view.getUint8(i) !== 0 ? 1 : 0;
  }
}

/** An ONNX TensorProto as an IR Tensor (float64 values; dtype from the element type). */
export function decodeTensor(t: OnnxTensor, where: string): Tensor {
  if (t.data_location === 1 || t.external_data.length > 0) {
    fail('UNSUPPORTED_LAYER', `${where} uses external data files, which are not supported (save the model with the weights inside the .onnx file)`);
  }
  const code = t.data_type ?? 0;
  const dtype = elemDType(code);
  const layout = LAYOUT[code];
  if (!dtype || !layout) fail('UNSUPPORTED_LAYER', `${where} has data type ${dtypeName(code)}, which is not supported (supported: ${SUPPORTED_TYPES})`);
  const shape = t.dims.map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) fail('BAD_MODEL', `${where} has invalid dims ${JSON.stringify(shape)}`);
  const n = size(shape);
  const data = new Float64Array(n);
  if (t.raw_data && t.raw_data.length > 0) {
    if (t.raw_data.length !== n * layout.width) {
      fail('BAD_MODEL', `${where} has ${t.raw_data.length} bytes of raw_data, its dims ${JSON.stringify(shape)} and type ${dtypeName(code)} say ${n * layout.width}`);
    }
    const view = new DataView(t.raw_data.buffer, t.raw_data.byteOffset, t.raw_data.byteLength);
    for (let i = 0; i < n; i++) data[i] = readRaw(view, code, i);
  } else {
    const values = t[layout.field];
    if (values.length !== n) fail('BAD_MODEL', `${where} holds ${values.length} values in ${layout.field}, its dims ${JSON.stringify(shape)} say ${n}`);
    for (let i = 0; i < n; i++) {
      const v = Number(values[i]);
      data[i] = code === D.FLOAT16 ? halfToFloat(v) : code === D.BOOL ? (v !== 0 ? 1 : 0) : code === D.FLOAT ? Math.fround(v) : v;
    }
  }
  return { dtype, shape, data };
}

const utf8 = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

/** The attribute's type: the declared one, or (IR < 2 files omit it) the field in use. */
function attrType(a: OnnxAttribute): number | undefined {
  if (a.type) return a.type;
  if (a.t) return ONNX_ATTR.TENSOR;
  if (a.g) return ONNX_ATTR.GRAPH;
  if (a.s) return ONNX_ATTR.STRING;
  if (a.ints.length) return ONNX_ATTR.INTS;
  if (a.floats.length) return ONNX_ATTR.FLOATS;
  if (a.strings.length) return ONNX_ATTR.STRINGS;
  if (a.graphs.length) return ONNX_ATTR.GRAPH;
  if (a.i !== undefined) return ONNX_ATTR.INT;
  if (a.f !== undefined) return ONNX_ATTR.FLOAT;
  return undefined;
}

/** One attribute as an AttrValue; `where` is "node 'x' (Op)". Subgraphs and tensor lists are refused. */
export function decodeAttr(a: OnnxAttribute, where: string): AttrValue {
  const name = a.name ?? '';
  const type = attrType(a);
  switch (type) {
    case ONNX_ATTR.FLOAT:
      return Math.fround(a.f ?? 0);
    case ONNX_ATTR.INT:
      return Number(a.i ?? 0);
    case ONNX_ATTR.STRING:
      return a.s ? utf8(a.s) : '';
    case ONNX_ATTR.TENSOR:
      if (!a.t) fail('BAD_MODEL', `${where}: attribute '${name}' is a tensor attribute without a tensor`);
      return decodeTensor(a.t, `${where}: attribute '${name}'`);
    case ONNX_ATTR.FLOATS:
      return a.floats.map((x) => Math.fround(x));
    case ONNX_ATTR.INTS:
      return a.ints.map(Number);
    case ONNX_ATTR.STRINGS:
      return a.strings.map(utf8);
    case ONNX_ATTR.GRAPH:
    case 10: // GRAPHS
      return fail('UNSUPPORTED_LAYER', `${where}: attribute '${name}' is a subgraph; control flow (If, Loop, Scan) is not supported`);
    default:
      return fail(
        'UNSUPPORTED_LAYER',
        `${where}: attribute '${name}' has attribute type ${String(type)}, which is not supported (float, int, string, tensor, floats, ints, strings)`,
      );
  }
}
