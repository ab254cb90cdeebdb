/**
 * Index helpers shared by the op families: axis normalisation, broadcasting, and "move plans" for ops
 * that only move data. A MovePlan says, for every output element, which input element it is (or that it
 * is a fill value, as Pad's constant): evalFloat and lower both read it, so the float meaning and the
 * circuit version are the same map by construction, and lowering is exact and free (it picks forms).
 */
import { fail } from '../../util/errors.js';
import { nodeLabel, size, strides, type Node, type Tensor } from '../ir.js';
import type { Form, QTensor } from '../quant/qtensor.js';

/** An axis in [-rank, rank) as [0, rank); anything else is an error naming node and attribute. */
export function normAxis(node: Node, axis: number, rank: number, what = 'axis'): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    fail('UNSUPPORTED_LAYER', `${nodeLabel(node)}: ${what} ${axis} is out of range for rank ${rank} (valid: ${-rank}..${rank - 1})`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** Normalise a list of axes; repeated axes are an error. */
export function normAxes(node: Node, axes: readonly number[], rank: number, what = 'axes'): number[] {
  const out = axes.map((a) => normAxis(node, a, rank, what));
  if (new Set(out).size !== out.length) fail('UNSUPPORTED_LAYER', `${nodeLabel(node)}: ${what} ${JSON.stringify(axes)} repeat an axis`);
  return out;
}

/** Numpy/ONNX multidirectional broadcast of shapes, or an error naming the node. */
export function broadcastShapes(node: Node, shapes: ReadonlyArray<readonly number[]>): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const k = rank - s.length + i;
      const d = s[i];
      if (d === out[k] || d === 1) continue;
      if (out[k] === 1) out[k] = d;
      else fail('UNSUPPORTED_LAYER', `${nodeLabel(node)}: shapes ${shapes.map((x) => `[${x.join(', ')}]`).join(' and ')} do not broadcast (dimension ${k})`);
    }
  }
  return out;
}

/** For each element of `outShape`, the flat index of the element of `inShape` it broadcasts from. */
export function broadcastIndex(inShape: readonly number[], outShape: readonly number[]): Int32Array {
  const n = size(outShape);
  const out = new Int32Array(n);
  const offset = outShape.length - inShape.length;
  const inStr = strides(inShape);
  // Stride of each output axis in the input (0 where the input broadcasts or lacks the axis).
  const s = outShape.map((_, k) => (k < offset || inShape[k - offset] === 1 ? 0 : inStr[k - offset]));
  const idx = new Array<number>(outShape.length).fill(0);
  let at = 0;
  for (let j = 0; j < n; j++) {
    out[j] = at;
    for (let k = outShape.length - 1; k >= 0; k--) {
      idx[k]++;
      at += s[k];
      if (idx[k] < outShape[k]) break;
      at -= s[k] * idx[k];
      idx[k] = 0;
    }
  }
  return out;
}

/**
 * Visit every multi-index of `shape` in row-major order; `f` gets the index (reused array: copy it to
 * keep it) and the flat position.
 */
export function forEachIndex(shape: readonly number[], f: (idx: number[], flat: number) => void): void {
  const n = size(shape);
  const idx = new Array<number>(shape.length).fill(0);
  for (let j = 0; j < n; j++) {
    f(idx, j);
    for (let k = shape.length - 1; k >= 0; k--) {
      if (++idx[k] < shape[k]) break;
      idx[k] = 0;
    }
  }
}

/**
 * Output element j is element `at[j]` of input `from[j]` (input 0 if `from` is absent), or the fill value
 * when `at[j]` is -1.
 */
export interface MovePlan {
  shape: number[];
  at: Int32Array;
  from?: Uint16Array;
  /** The real value of filled elements (Pad's constant_value). */
  fill?: number;
}

/** The identity plan of a shape (Reshape, Squeeze, Identity: same elements, new shape). */
export function samePlan(shape: number[]): MovePlan {
  return { shape, at: Int32Array.from({ length: size(shape) }, (_, i) => i) };
}

/** Plan from a function of the output multi-index giving the input multi-index (or null for fill). */
export function mapPlan(inShape: readonly number[], outShape: number[], src: (idx: number[]) => number[] | null, fill?: number): MovePlan {
  const st = strides(inShape);
  const at = new Int32Array(size(outShape));
  forEachIndex(outShape, (idx, j) => {
    const s = src(idx);
    if (s === null) at[j] = -1;
    else {
      let f = 0;
      for (let k = 0; k < s.length; k++) f += s[k] * st[k];
      at[j] = f;
    }
  });
  return { shape: outShape, at, fill };
}

export function applyPlanFloat(plan: MovePlan, dtype: Tensor['dtype'], inputs: ReadonlyArray<Tensor | undefined>): Tensor {
  const data = new Float64Array(plan.at.length);
  for (let j = 0; j < data.length; j++) {
    const a = plan.at[j];
    data[j] = a < 0 ? (plan.fill ?? 0) : inputs[plan.from ? plan.from[j] : 0]!.data[a];
  }
  return { dtype, shape: [...plan.shape], data };
}

/** Multiply a form by an integer (exact: a finer scale for the same real value). */
function scaleForm(f: Form, k: number): Form {
  return k === 1 ? f : { bias: f.bias * k, terms: f.terms.map(([s, w]) => [s, w * k]) };
}

/**
 * Lower a plan: output forms are the input forms themselves. Inputs of different scales (Concat) are
 * brought to the finest one when the ratios are integers (exact), otherwise `node` is refused.
 */
export function applyPlanQ(node: Node, plan: MovePlan, dtype: QTensor['dtype'], inputs: ReadonlyArray<QTensor | undefined>): QTensor {
  const used = plan.from ? [...new Set(plan.from)] : [0];
  // Integer and boolean tensors are exact (scale 1), whatever their inputs' scales.
  const scale = dtype === 'float' ? Math.min(...used.map((i) => inputs[i]!.scale)) : 1;
  const factor = inputs.map((q, i) => {
    // Only the inputs elements come from (not parameters such as Gather's int indices).
    if (!q || !used.includes(i)) return 1;
    const r = q.scale / scale;
    if (Math.abs(r - Math.round(r)) > 1e-9 * r) {
      fail('UNSUPPORTED_LAYER', `${nodeLabel(node)}: inputs have scales ${inputs.map((x) => x?.scale).join(', ')} whose ratios are not integers, so they cannot share one without rounding`);
    }
    return Math.round(r);
  });
  const fillForm: Form = { bias: Math.round((plan.fill ?? 0) / scale), terms: [] };
  const elems = new Array<Form>(plan.at.length);
  for (let j = 0; j < elems.length; j++) {
    const a = plan.at[j];
    if (a < 0) elems[j] = fillForm;
    else {
      const i = plan.from ? plan.from[j] : 0;
      elems[j] = scaleForm(inputs[i]!.elems[a], factor[i]);
    }
  }
  return { dtype, shape: [...plan.shape], scale, elems };
}
