/**
 * The part of the ONNX protobuf schema (onnx/onnx.proto, IR version 7+) that zkinfer reads and its tests
 * write, decoded with protobufjs. Field numbers and types are copied from onnx.proto; fields left out
 * (training info, functions, quantization annotations, ...) are skipped by the decoder as unknown fields,
 * so files from newer ONNX versions still decode. Vendoring the schema keeps the dependency to protobufjs
 * itself (maintained, pure JS) instead of a generated package pinned to an old protobufjs major.
 */
import protobuf from 'protobufjs';

const SCHEMA = `
syntax = "proto2";
package onnx;

message AttributeProto {
  optional string name = 1;
  optional int32 type = 20;
  optional float f = 2;
  optional int64 i = 3;
  optional bytes s = 4;
  optional TensorProto t = 5;
  optional GraphProto g = 6;
  repeated float floats = 7;
  repeated int64 ints = 8;
  repeated bytes strings = 9;
  repeated TensorProto tensors = 10;
  repeated GraphProto graphs = 11;
}

message ValueInfoProto {
  optional string name = 1;
  optional TypeProto type = 2;
  optional string doc_string = 3;
}

message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  optional string name = 3;
  optional string op_type = 4;
  optional string domain = 7;
  repeated AttributeProto attribute = 5;
  optional string doc_string = 6;
}

message ModelProto {
  optional int64 ir_version = 1;
  repeated OperatorSetIdProto opset_import = 8;
  optional string producer_name = 2;
  optional string producer_version = 3;
  optional string domain = 4;
  optional int64 model_version = 5;
  optional string doc_string = 6;
  optional GraphProto graph = 7;
  repeated StringStringEntryProto metadata_props = 14;
}

message StringStringEntryProto {
  optional string key = 1;
  optional string value = 2;
}

message GraphProto {
  repeated NodeProto node = 1;
  optional string name = 2;
  repeated TensorProto initializer = 5;
  // SparseTensorProto in onnx.proto: read as opaque bytes, only to reject it by name.
  repeated bytes sparse_initializer = 15;
  optional string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
  repeated ValueInfoProto value_info = 13;
}

message TensorProto {
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  repeated float float_data = 4 [packed = true];
  repeated int32 int32_data = 5 [packed = true];
  repeated int64 int64_data = 7 [packed = true];
  optional string name = 8;
  optional bytes raw_data = 9;
  repeated StringStringEntryProto external_data = 13;
  optional int32 data_location = 14;
  repeated double double_data = 10 [packed = true];
}

message TensorShapeProto {
  message Dimension {
    oneof value {
      int64 dim_value = 1;
      string dim_param = 2;
    }
    optional string denotation = 3;
  }
  repeated Dimension dim = 1;
}

message TypeProto {
  message Tensor {
    optional int32 elem_type = 1;
    optional TensorShapeProto shape = 2;
  }
  oneof value {
    Tensor tensor_type = 1;
  }
  optional string denotation = 6;
}

message OperatorSetIdProto {
  optional string domain = 1;
  optional int64 version = 2;
}
`;

/** TensorProto.DataType values (onnx.proto). */
export const ONNX_DTYPE = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
} as const;

export function dtypeName(code: number | undefined): string {
  const hit = Object.entries(ONNX_DTYPE).find(([, v]) => v === code);
  return hit ? hit[0] : `data type ${String(code)}`;
}

/** AttributeProto.AttributeType values (onnx.proto). */
export const ONNX_ATTR = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;

// Plain-object views of the messages, as produced by toObject({ longs: Number, arrays: true }).
export interface OnnxTensor {
  name?: string;
  dims: number[];
  data_type?: number;
  float_data: number[];
  int32_data: number[];
  int64_data: number[];
  double_data: number[];
  raw_data?: Uint8Array;
  external_data: Array<{ key?: string; value?: string }>;
  data_location?: number;
}

export interface OnnxAttribute {
  name?: string;
  type?: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: OnnxTensor;
  /** A subgraph (If/Loop/Scan bodies): only checked for presence, to refuse it. */
  g?: unknown;
  floats: number[];
  ints: number[];
  strings: Uint8Array[];
  tensors: OnnxTensor[];
  graphs: unknown[];
}

export interface OnnxNode {
  input: string[];
  output: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  attribute: OnnxAttribute[];
}

export interface OnnxValueInfo {
  name?: string;
  type?: {
    tensor_type?: {
      elem_type?: number;
      shape?: { dim: Array<{ dim_value?: number; dim_param?: string }> };
    };
  };
}

export interface OnnxGraph {
  node: OnnxNode[];
  name?: string;
  initializer: OnnxTensor[];
  sparse_initializer: Uint8Array[];
  input: OnnxValueInfo[];
  output: OnnxValueInfo[];
}

export interface OnnxModelProto {
  ir_version?: number;
  opset_import: Array<{ domain?: string; version?: number }>;
  producer_name?: string;
  graph?: OnnxGraph;
  metadata_props?: Array<{ key?: string; value?: string }>;
}

let modelType: protobuf.Type | undefined;

/** The protobufjs type of onnx.ModelProto (parsed once). */
export function onnxModelType(): protobuf.Type {
  if (!modelType) modelType = protobuf.parse(SCHEMA, { keepCase: true }).root.lookupType('onnx.ModelProto');
  return modelType;
}

/** Decode a .onnx file's bytes. int64 fields become numbers (exact up to 2^53, far above any shape). */
export function decodeOnnxModel(bytes: Uint8Array): OnnxModelProto {
  const type = onnxModelType();
  return type.toObject(type.decode(bytes), { longs: Number, arrays: true }) as OnnxModelProto;
}

/** Encode a ModelProto given as a plain object with the schema's snake_case field names. */
export function encodeOnnxModel(model: Record<string, unknown>): Uint8Array {
  const type = onnxModelType();
  const err = type.verify(model);
  if (err) throw new Error(`invalid ONNX ModelProto: ${err}`);
  return type.encode(type.fromObject(model)).finish();
}
