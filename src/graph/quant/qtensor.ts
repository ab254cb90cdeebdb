/**
 * Quantized tensors and the context an op's lowering gets. A QTensor's element i is an affine form over
 * circuit signals (bias + sum of weight * signal): data movement (Reshape, Transpose, Slice, Concat, Pad,
 * Gather with constant indices) only rearranges forms and costs nothing, and a linear op composes forms.
 * Only the primitives of builder.ts make new signals (and constraints). Real value = integer * scale.
 */
import type { Tensor } from '../ir.js';
import type { OpCtx } from '../ops/types.js';
import type { QBuilder } from './builder.js';

/** [signal index, integer weight]. */
export type Term = [number, number];

/** bias + sum of weight * signal, all integers (|value| < 2^53 for every valid input, by the bounds). */
export interface Form {
  bias: number;
  terms: Term[];
}

export interface QTensor {
  dtype: 'float' | 'int' | 'bool';
  shape: number[];
  /** Real value of one integer unit (1 for int and bool tensors, which are exact). */
  scale: number;
  elems: Form[];
}

/** Float statistics of a value over the calibration samples. */
export interface Stats {
  min: number;
  max: number;
  absMax: number;
}

export interface LowerCtx extends OpCtx {
  b: QBuilder;
  /** Statistics of output k of this node (after a fused activation, if any). */
  outStats(k?: number): Stats;
  /** Statistics of input i of this node. */
  inStats(i: number): Stats;
  /** Input i's float value when it is a constant (weights), else undefined. */
  constant(i: number): Tensor | undefined;
  /** True when output k is a graph output that no node reads: a lowering may keep exact accumulators. */
  graphOutputOnly(k?: number): boolean;
}
