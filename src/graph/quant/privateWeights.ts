/**
 * Private weights on the integer program: a weight (or bias) tensor's integers are signals the prover
 * supplies, not constants of the circuit. Each tensor is quantized once (symmetric, one scale per tensor);
 * its signals get the bounds of every integer of its width, so the static bounds (and the gadget widths)
 * hold for ANY weights of that width, and the circuit has an honest witness for every such weight set.
 * The circuit range-checks each weight signal to its width and publishes a salted Poseidon commitment to
 * all of them (instances.ts; the chain rule is src/weights/commitment.ts's, shared with the layer pipeline).
 *
 * What stays public (part of the circuit, hashed into the commitment's architecture tag): shapes, the
 * weight and bias widths, the per-tensor scales and the requantization multipliers derived from them and
 * from the calibration. Only the weight integers are hidden.
 */
import { fail } from '../../util/errors.js';
import { sha256Hex } from '../../util/fs.js';
import type { Tensor } from '../ir.js';
import type { QBuilder } from './builder.js';
import type { Prim } from './prims.js';
import type { Form, QTensor } from './qtensor.js';
import type { QProgram } from './lower.js';

/** One private parameter tensor: signals first..first + values.length - 1, integers in [lo, lo + 2^bits). */
export interface QWeightTensor {
  /** The node that reads it and the constant's name. */
  node: string;
  name: string;
  kind: 'weights' | 'bias';
  /** Real value of one integer unit (public: part of the circuit). */
  scale: number;
  first: number;
  lo: number;
  bits: number;
  /** The model's integers (the default witness). */
  values: number[];
}

/** A weight tensor as private signals: symmetric per-tensor scale, integers in [-2^(bits-1), 2^(bits-1)). */
export function privateWeightTensor(b: QBuilder, name: string, t: Tensor): QTensor {
  const bits = b.options.weightBits;
  const top = 2 ** (bits - 1) - 1;
  const absMax = t.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const scale = absMax > 0 ? absMax / top : 1;
  return register(
    b,
    name,
    'weights',
    t,
    scale,
    bits,
    Array.from(t.data, (v) => Math.round(v / scale)),
  );
}

/**
 * A bias as private signals at the accumulator's scale. Its width is the accumulator's (`accBits`, from
 * the products' bounds over all admissible weights), or the model's own bias width when that is larger:
 * the width is then fixed by the architecture, not by these weights.
 */
export function privateBiasTensor(b: QBuilder, name: string, t: Tensor, scale: number, accBits: number): QTensor {
  const values = Array.from(t.data, (v) => Math.round(v / scale));
  let bits = accBits;
  for (const v of values) while (v < -(2 ** (bits - 1)) || v > 2 ** (bits - 1) - 1) bits++;
  return register(b, name, 'bias', t, scale, bits, values);
}

function register(b: QBuilder, name: string, kind: QWeightTensor['kind'], t: Tensor, scale: number, bits: number, values: number[]): QTensor {
  const lo = -(2 ** (bits - 1));
  const first = b.signals.length;
  const elems: Form[] = values.map(() => ({ bias: 0, terms: [[b.signal({ lo, hi: lo + 2 ** bits - 1 }), 1]] }));
  b.weights.push({ node: b.node, name, kind, scale, first, lo, bits, values });
  return { dtype: 'float', shape: t.shape, scale, elems };
}

/**
 * Renumber a program's signals as inputs, weights, primitives (weights are made while lowering, between
 * primitives): the circuit then declares them as one private array w[] between x[] and v[].
 */
export function placeWeightsFirst(program: QProgram): QProgram {
  const weights = program.weights ?? [];
  if (!weights.length) return program;
  const nIn = program.inputs.reduce((a, i) => a + i.shape.reduce((x, y) => x * y, 1), 0);
  const to = new Int32Array(program.signals.length).fill(-1);
  for (let s = 0; s < nIn; s++) to[s] = s;
  let next = nIn;
  for (const w of weights) for (let k = 0; k < w.values.length; k++) to[w.first + k] = next++;
  for (const p of program.prims) to[p.out] = next++;
  if (next !== program.signals.length) throw new Error('internal error: a signal is neither an input, a weight nor a primitive');
  const form = (f: Form): Form => ({ bias: f.bias, terms: f.terms.map(([s, w]) => [to[s], w]) });
  const prim = (p: Prim): Prim => {
    const out = to[p.out];
    switch (p.kind) {
      case 'requant':
      case 'lookup':
        return { ...p, out, in: form(p.in) };
      case 'mul':
      case 'less':
      case 'equal':
        return { ...p, out, a: form(p.a), b: form(p.b) };
      case 'div':
        return { ...p, out, num: form(p.num), den: form(p.den) };
      case 'max':
      case 'argmax':
        return { ...p, out, in: p.in.map(form) };
    }
  };
  const signals = new Array<QProgram['signals'][number]>(program.signals.length);
  program.signals.forEach((b, s) => (signals[to[s]] = b));
  return {
    ...program,
    signals,
    prims: program.prims.map(prim),
    outputs: program.outputs.map((o) => ({ ...o, elems: o.elems.map(form) })),
    weights: weights.map((w) => ({ ...w, first: to[w.first] })),
  };
}

/** Number of private weight signals. */
export const weightCount = (program: Pick<QProgram, 'weights'>) => (program.weights ?? []).reduce((a, w) => a + w.values.length, 0);

/**
 * The commitment chain's groups, in program order: each tensor's integers offset into [0, 2^bits) (which
 * the circuit's range checks enforce, so packing is injective). `values` replaces the model's integers
 * (another weight set for the same circuit), one array per tensor.
 */
export function weightGroups(program: Pick<QProgram, 'weights'>, values?: number[][]): Array<{ values: number[]; bits: number }> {
  return (program.weights ?? []).map((w, t) => ({ values: (values?.[t] ?? w.values).map((v) => v - w.lo), bits: w.bits }));
}

/**
 * The chain's tag: 31 bytes of the SHA-256 of everything public about the program (its structure, scales,
 * multipliers, widths) with the weight integers left out, so the same integers under another circuit (another
 * function) get another model id.
 */
export function programTag(program: QProgram): bigint {
  // The function is the inputs, signals' bounds, primitives and outputs; the options (and whatever else
  // callers pass with them) only say how it was made.
  const { inputs, signals, prims, outputs, weights } = program;
  const canonical = { inputs, signals, prims, outputs, weights: (weights ?? []).map(({ values, name: _n, node: _d, ...w }) => ({ ...w, count: values.length })) };
  return BigInt(`0x${sha256Hex(JSON.stringify(canonical)).slice(0, 62)}`);
}

/**
 * Another model's weights for a private-weights program (same architecture: the same weight tensors by
 * name and size, after the passes): quantized at the program's public scales, one array per tensor. Range
 * errors are the prover's (graphWeightsWitness names the weight and the width).
 */
export function weightsFromConstants(program: Pick<QProgram, 'weights'>, constants: ReadonlyMap<string, Tensor>, what: string): number[][] {
  return (program.weights ?? []).map((w) => {
    const t = constants.get(w.name);
    if (!t) fail('BAD_INPUT', `${what} has no weight tensor '${w.name}' (node ${w.node}): it is not the circuit's architecture`);
    if (t.data.length !== w.values.length) fail('BAD_INPUT', `${what}: weight tensor '${w.name}' has ${t.data.length} values, the circuit's has ${w.values.length}`);
    return Array.from(t.data, (v) => Math.round(v / w.scale));
  });
}
