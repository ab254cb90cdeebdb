/**
 * One operator = one OpDef: its shape rule, its float semantics and its lowering to integer primitives.
 * Adding an operator means adding one OpDef (in the file of its family) and its tests; nothing else.
 *
 * - `infer` gives output dtypes and shapes from the inputs' (constant inputs' values are there too: a
 *   Reshape's target shape, a Slice's starts). It refuses anything unsupported with an UNSUPPORTED_LAYER
 *   error naming the node, the attribute and the value, before anything is compiled.
 * - `evalFloat` is the op's meaning, as onnxruntime computes it (float64). Constant folding and the
 *   calibration run use it, so it must handle every case `infer` accepts.
 * - `lower` (absent for ops that only ever fold, such as Shape) builds the op's integer version from the
 *   quantized inputs with the primitives of quant/builder.ts. Its precision and constraint cost are the
 *   primitives' (stated in their circuits/ headers); the lowering chooses scales from calibration.
 */
import type { DType, Node, NodeAttrs, Tensor } from '../ir.js';
import type { LowerCtx, QTensor } from '../quant/qtensor.js';

export interface TypeShape {
  dtype: DType;
  shape: number[];
}

export interface OpInput extends TypeShape {
  /** The value, when it is a constant (initializer, Constant node or folded). */
  value?: Tensor;
}

export interface OpCtx {
  node: Node;
  attrs: NodeAttrs;
  /** ONNX opset of the default domain (attributes moved to inputs between opsets: Slice, Pad, Reduce*). */
  opset: number;
}

export interface OpDef {
  op: string;
  /** Absent optional inputs ('' in the node) are undefined. */
  infer(ctx: OpCtx, inputs: Array<OpInput | undefined>): TypeShape[];
  evalFloat(ctx: OpCtx, inputs: Array<Tensor | undefined>): Tensor[];
  /** Inputs that are constants arrive as QTensors of constants too, and their float values in ctx.constant(i). */
  lower?(ctx: LowerCtx, inputs: Array<QTensor | undefined>): QTensor[];
  /**
   * The outputs depend only on the input shapes (Shape, Size): constant folding evaluates the op as soon
   * as they are known, passing evalFloat tensors whose `data` is empty.
   */
  foldsOnShape?: boolean;
  /**
   * The op is made of other ops (recurrent layers, unrolled): shape inference replaces the node by these
   * nodes and constants (its outputs among theirs), so only they are lowered. evalFloat must agree.
   */
  expand?(ctx: OpCtx, inputs: Array<OpInput | undefined>): { nodes: Node[]; constants: Array<[string, Tensor]> };
}
