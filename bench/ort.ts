/**
 * onnxruntime as the float reference, for tests and the conformance runner: run an .onnx file on inputs
 * given as plain numbers, converted to whatever element types the model declares, and get every output
 * back as float64 (int64 -> number, bool -> 0/1). Dev tooling only: onnxruntime-node is a devDependency,
 * so nothing under src/ may import this file.
 *
 * onnxInputInfo reads a file's declared inputs without onnxruntime, by decoding it with the importer's
 * own protobuf schema.
 */
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import type { DType } from '../src/graph/ir.js';
import { decodeOnnxModel, dtypeName, ONNX_DTYPE } from '../src/model/onnxProto.js';
import { halfToFloat } from '../src/graph/onnxValues.js';
import { raiseOpset10, widenNarrowMatMul } from './ortCompat.js';

export interface OrtInput {
  /** What the values mean; informational: conversion follows the type the model declares. */
  dtype?: DType;
  shape: readonly number[];
  data: ArrayLike<number | boolean>;
}

export interface OrtOutput {
  dtype: DType;
  shape: number[];
  data: Float64Array;
}

export interface OnnxInputInfo {
  name: string;
  /** TensorProto.DataType code. */
  elemType: number;
  /** 'FLOAT', 'INT64', ... (dtypeName of elemType). */
  typeName: string;
  /** The IR dtype the values have, or undefined for strings and other non-numeric types. */
  dtype: DType | undefined;
  /** Sizes, symbolic names ('batch_size'), or null for a dimension with neither; null if the rank is unknown. */
  dims: Array<number | string | null> | null;
}

/** The IR dtype of a TensorProto.DataType code (undefined for strings, complex numbers, unknown codes). */
export function onnxDType(elemType: number): DType | undefined {
  const { FLOAT, FLOAT16, BFLOAT16, DOUBLE, BOOL, INT8, INT16, INT32, INT64, UINT8, UINT16, UINT32, UINT64 } = ONNX_DTYPE;
  if (([FLOAT, FLOAT16, BFLOAT16, DOUBLE] as number[]).includes(elemType)) return 'float';
  if (elemType === BOOL) return 'bool';
  if (([INT8, INT16, INT32, INT64, UINT8, UINT16, UINT32, UINT64] as number[]).includes(elemType)) return 'int';
  return undefined;
}

function modelBytes(model: Uint8Array | string): Uint8Array {
  return typeof model === 'string' ? new Uint8Array(readFileSync(model)) : model;
}

/** The graph inputs a caller must feed, in file order: initializers listed as inputs are skipped. */
export function onnxInputInfo(model: string | Uint8Array): OnnxInputInfo[] {
  const graph = decodeOnnxModel(modelBytes(model)).graph;
  if (!graph) throw new Error(`${typeof model === 'string' ? model : 'model'}: no graph`);
  const constant = new Set(graph.initializer.map((t) => t.name));
  return graph.input
    .filter((v) => !constant.has(v.name))
    .map((v) => {
      const tt = v.type?.tensor_type;
      const elemType = tt?.elem_type ?? 0;
      const dims = tt?.shape ? tt.shape.dim.map((d) => d.dim_param || (d.dim_value ?? null)) : null;
      return { name: v.name ?? '', elemType, typeName: dtypeName(elemType), dtype: onnxDType(elemType), dims };
    });
}

type IntArrayCtor = Int8ArrayConstructor | Uint8ArrayConstructor | Int16ArrayConstructor | Uint16ArrayConstructor | Int32ArrayConstructor | Uint32ArrayConstructor;
const INT_ARRAYS: Record<string, IntArrayCtor> = { int8: Int8Array, uint8: Uint8Array, int16: Int16Array, uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array };

function toOrtTensor(name: string, type: string, input: OrtInput): ort.Tensor {
  const dims = [...input.shape];
  const count = dims.reduce((a, b) => a * b, 1);
  if (input.data.length !== count) throw new Error(`input '${name}': ${input.data.length} values for shape [${dims.join(',')}] (${count})`);
  const nums = Array.from(input.data, Number);
  const integers = () => {
    const k = nums.findIndex((v) => !Number.isSafeInteger(v));
    if (k >= 0) throw new Error(`input '${name}' is ${type}, but value [${k}] = ${nums[k]} is not an integer`);
    return nums;
  };
  switch (type) {
    case 'float32':
      return new ort.Tensor('float32', Float32Array.from(nums), dims);
    case 'float64':
      return new ort.Tensor('float64', Float64Array.from(nums), dims);
    case 'int64':
      return new ort.Tensor('int64', BigInt64Array.from(integers(), BigInt), dims);
    case 'uint64':
      return new ort.Tensor('uint64', BigUint64Array.from(integers(), BigInt), dims);
    case 'bool':
      return new ort.Tensor(
        'bool',
        Uint8Array.from(nums, (v) => (v !== 0 ? 1 : 0)),
        dims,
      );
  }
  const ctor = INT_ARRAYS[type];
  if (!ctor) throw new Error(`input '${name}' has element type ${type}, which runOnnx cannot feed`);
  return new ort.Tensor(type as 'int32', ctor.from(integers()) as Int32Array, dims);
}

function fromOrtTensor(name: string, t: ort.Tensor): OrtOutput {
  const shape = t.dims.map(Number);
  const d = t.data;
  let data: Float64Array;
  if (t.type === 'string') throw new Error(`output '${name}' is a string tensor`);
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) data = Float64Array.from(d, Number);
  else if (t.type === 'float16' && d instanceof Uint16Array) data = Float64Array.from(d, halfToFloat);
  else data = Float64Array.from(d as ArrayLike<number>);
  const dtype: DType = t.type === 'bool' ? 'bool' : t.type.startsWith('float') ? 'float' : 'int';
  return { dtype, shape, data };
}

export interface OnnxRunner {
  /** The inputs onnxruntime accepts (initializers listed as graph inputs are not among them). */
  inputNames: readonly string[];
  outputNames: readonly string[];
  /** Set when onnxruntime refused the file and runs a spec-valid widened copy (ortCompat.ts). */
  note?: string;
  run(inputs: Record<string, OrtInput>): Promise<Record<string, OrtOutput>>;
  release(): Promise<void>;
}

/** One onnxruntime session for many runs (the conformance runner feeds each model several inputs). */
export async function openOnnx(model: Uint8Array | string): Promise<OnnxRunner> {
  const bytes = modelBytes(model);
  const required = onnxInputInfo(bytes).map((i) => i.name);
  // Warnings (e.g. an initializer listed as an input) are about the file, not the run: errors only.
  let session: ort.InferenceSession;
  let note: string | undefined;
  try {
    session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  } catch (err) {
    // Files that break only the letter of their opset's type lists: a spec-valid copy (ortCompat.ts).
    const int8 = /tensor\(u?int8\)/.test(String(err)) ? widenNarrowMatMul(bytes) : null;
    const opset11 = int8 ? null : /of operator \((Equal|Less|Greater)\)/.test(String(err)) ? raiseOpset10(bytes) : null;
    const copy = int8 ?? opset11;
    if (!copy) throw err;
    session = await ort.InferenceSession.create(copy, { logSeverityLevel: 3 });
    note = int8 ? 'reference: int8 MatMul operands widened to int32' : 'reference: read at opset 11 (float Equal/Less/Greater)';
  }
  const types = new Map<string, string>();
  for (const m of session.inputMetadata) if (m.isTensor) types.set(m.name, m.type);
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    note,
    async run(inputs) {
      for (const name of Object.keys(inputs)) {
        if (!session.inputNames.includes(name)) throw new Error(`no input '${name}' in the model (its inputs: ${session.inputNames.join(', ')})`);
      }
      const missing = required.filter((n) => !(n in inputs));
      if (missing.length) throw new Error(`missing input${missing.length > 1 ? 's' : ''} ${missing.map((n) => `'${n}'`).join(', ')}`);
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, input] of Object.entries(inputs)) {
        const type = types.get(name);
        if (!type) throw new Error(`input '${name}' is not a tensor`);
        feeds[name] = toOrtTensor(name, type, input);
      }
      const out = await session.run(feeds);
      const result: Record<string, OrtOutput> = {};
      for (const name of session.outputNames) result[name] = fromOrtTensor(name, out[name] as ort.Tensor);
      return result;
    },
    release: () => session.release(),
  };
}

/** Run a model once: open, run, release. */
export async function runOnnx(model: Uint8Array | string, inputs: Record<string, OrtInput>): Promise<Record<string, OrtOutput>> {
  const runner = await openOnnx(model);
  try {
    return await runner.run(inputs);
  } finally {
    await runner.release();
  }
}
