/**
 * Lowering: a (passed) graph and calibration samples in, the integer program out. The float graph is run
 * on every calibration sample first (each op's evalFloat), giving per-value statistics that choose the
 * scales; then each node's OpDef.lower builds its integer version in order.
 */
import { fail, ZkinferError } from '../../util/errors.js';
import { NodeAttrs, nodeLabel, size, type Graph, type Tensor, type ValueInfo } from '../ir.js';
import { evalNode, OPS } from '../ops/index.js';
import type { OpCtx } from '../ops/types.js';
import { DEFAULT_QUANT, QBuilder, type QuantOptions } from './builder.js';
import { signedBits, unsignedBits, type Prim } from './prims.js';
import type { Form, LowerCtx, QTensor, Stats } from './qtensor.js';
import { placeWeightsFirst, type QWeightTensor } from './privateWeights.js';

export type Sample = Map<string, Float64Array>;

/** How one graph input enters the circuit: integers in [lo, hi], real value = integer * scale. */
export interface QInput {
  name: string;
  dtype: 'float' | 'int' | 'bool';
  shape: number[];
  scale: number;
  lo: number;
  hi: number;
  /** Signals first..first + size - 1. */
  first: number;
}

export interface QOutput {
  name: string;
  dtype: 'float' | 'int' | 'bool';
  shape: number[];
  scale: number;
  elems: Form[];
}

/** The integer program of a graph: what the reference runs and the emitter writes. */
export interface QProgram {
  name: string;
  inputs: QInput[];
  outputs: QOutput[];
  /** Bounds of every signal (inputs first). */
  signals: Array<{ lo: number; hi: number }>;
  prims: Prim[];
  options: QuantOptions;
  notes: string[];
  /** Class labels the model declares (Graph.labels). */
  labels?: string[];
  /** Private weights: the weight tensors whose integers are private signals (after the inputs). */
  weights?: QWeightTensor[];
}

/** Bounds of a form over a program's signal bounds. */
export function formBounds(program: Pick<QProgram, 'signals'>): (f: Form) => { lo: number; hi: number } {
  return (f) => {
    let lo = f.bias;
    let hi = f.bias;
    for (const [s, w] of f.terms) {
      const b = program.signals[s];
      lo += w > 0 ? w * b.lo : w * b.hi;
      hi += w > 0 ? w * b.hi : w * b.lo;
    }
    return { lo, hi };
  };
}

export interface InputSpec {
  /** Float inputs: the real value of one unit (default: calibrated range x headroom over bits). */
  scale?: number;
  /** Width of the input's integers (float: signed, default 12; int: default from calibration). */
  bits?: number;
}

/** Widths that one node's lowering uses instead of the model's. */
export type TensorWidths = Partial<Pick<QuantOptions, 'activationBits' | 'lookupBits'>>;

export interface LowerOptions extends Partial<QuantOptions> {
  inputs?: Record<string, InputSpec>;
  /**
   * Per-tensor widths, keyed by the name of a node or of a tensor a node makes: that node is lowered with
   * these activation / lookup widths (e.g. 12 bits for one sensitive layer, 8 everywhere else).
   */
  tensors?: Record<string, TensorWidths>;
  /** Calibrated input ranges are widened by this factor so nearby inputs still fit (default 1.25). */
  inputHeadroom?: number;
  /** Weights and biases of linear ops become private signals behind a commitment (privateWeights.ts). */
  privateWeights?: boolean;
}

export const DEFAULT_INPUT_BITS = 12;

function opCtx(graph: Graph & { opset?: number }, node: Graph['nodes'][number]): OpCtx {
  return { node, attrs: new NodeAttrs(node), opset: graph.opset ?? 13 };
}

/** Float evaluation of the whole graph on one sample: every value by name (constants included). */
export function runFloat(graph: Graph & { opset?: number }, sample: Sample): Map<string, Tensor> {
  const values = new Map<string, Tensor>(graph.constants);
  for (const input of graph.inputs) {
    const data = sample.get(input.name);
    if (!data) fail('BAD_INPUT', `no value for graph input '${input.name}'`);
    values.set(input.name, { dtype: input.dtype, shape: input.shape, data });
  }
  for (const node of graph.nodes) {
    const def = OPS.get(node.op);
    if (!def) fail('UNSUPPORTED_LAYER', `${nodeLabel(node)}: op ${node.op} is not supported`);
    const outs = evalNode(
      def,
      opCtx(graph, node),
      node.inputs.map((n) => (n === '' ? undefined : values.get(n))),
    );
    node.outputs.forEach((name, k) => name !== '' && outs[k] && values.set(name, outs[k]));
  }
  return values;
}

function statsOf(runs: Array<Map<string, Tensor>>, name: string): Stats {
  let min = Infinity;
  let max = -Infinity;
  for (const run of runs) {
    const t = run.get(name);
    if (!t) continue;
    for (const v of t.data) {
      // Only finite values: a causal mask's -inf entries are exact constants (composite.softmax), not a range.
      if (!Number.isFinite(v)) continue;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  if (!Number.isFinite(min)) [min, max] = [0, 0];
  return { min, max, absMax: Math.max(Math.abs(min), Math.abs(max)) };
}

/**
 * Token inputs: an int input that is read only as the indices of Gathers of constant tables (embedding
 * lookups) takes exactly the values [0, vocab), vocab the smallest table's size along the Gather axis.
 * Its range check is then exact (instances.ts: a second check of vocab - 1 - x), so an index past the
 * table has no witness instead of selecting a wrong row. Negative (wrapping) token ids are refused.
 */
export function tokenVocab(graph: Graph, name: string): number | undefined {
  const readers = graph.nodes.filter((n) => n.inputs.includes(name));
  if (readers.length === 0) return undefined;
  let vocab = Infinity;
  for (const n of readers) {
    const table = graph.constants.get(n.inputs[0]);
    if (n.op !== 'Gather' || n.inputs[1] !== name || n.inputs[0] === name || !table) return undefined;
    const rank = table.shape.length;
    const axis = new NodeAttrs(n).int('axis', 0);
    vocab = Math.min(vocab, table.shape[axis < 0 ? axis + rank : axis]);
  }
  return vocab >= 1 ? vocab : undefined;
}

function quantInput(b: QBuilder, info: ValueInfo, stats: Stats, spec: InputSpec, headroom: number, vocab?: number): { input: QInput; tensor: QTensor } {
  // Ranges are whole powers of two: the circuit's range check accepts exactly [lo, lo + 2^bits), and the
  // bounds must hold for every input it accepts. Token inputs (tokenVocab) are the exception: [0, vocab).
  let scale = 1;
  let lo: number;
  let bits: number;
  if (info.dtype === 'int' && vocab !== undefined && info.bits === undefined && spec.bits === undefined) {
    const first = b.signals.length;
    const hi = vocab - 1;
    const elems: Form[] = Array.from({ length: size(info.shape) }, () => ({ bias: 0, terms: [[b.signal({ lo: 0, hi }), 1]] }));
    return { input: { name: info.name, dtype: info.dtype, shape: info.shape, scale, lo: 0, hi, first }, tensor: { dtype: info.dtype, shape: info.shape, scale, elems } };
  }
  if (info.dtype === 'bool') [lo, bits] = [0, 1];
  else if (info.dtype === 'int') {
    // A width the model declares (metadata.ts) is the input's domain, whatever the calibration shows.
    const signed = info.bits !== undefined ? info.signed === true : stats.min < 0;
    bits = spec.bits ?? info.bits ?? (signed ? signedBits(Math.floor(stats.min), Math.ceil(stats.max)) : unsignedBits(Math.ceil(stats.max)));
    lo = signed ? -(2 ** (bits - 1)) : 0;
  } else {
    // Float inputs: signed fixed point, or unsigned when no calibration value is negative (pixels).
    bits = spec.bits ?? DEFAULT_INPUT_BITS;
    const unsigned = stats.min >= 0;
    const top = unsigned ? 2 ** bits - 1 : 2 ** (bits - 1) - 1;
    scale = spec.scale ?? (stats.absMax > 0 ? (stats.absMax * headroom) / top : 1);
    lo = unsigned ? 0 : -(2 ** (bits - 1));
  }
  const hi = lo + 2 ** bits - 1;
  const first = b.signals.length;
  const elems: Form[] = Array.from({ length: size(info.shape) }, () => ({ bias: 0, terms: [[b.signal({ lo, hi }), 1]] }));
  return { input: { name: info.name, dtype: info.dtype, shape: info.shape, scale, lo, hi, first }, tensor: { dtype: info.dtype, shape: info.shape, scale, elems } };
}

/** The widths each node is lowered with; every override must name a node or a tensor a node makes. */
function nodeWidths(graph: Graph, quant: QuantOptions, tensors: Record<string, TensorWidths>): (node: Graph['nodes'][number]) => QuantOptions {
  for (const name of Object.keys(tensors)) {
    if (!graph.nodes.some((n) => n.name === name || n.outputs.includes(name)))
      fail('BAD_INPUT', `per-tensor widths name '${name}', which is no node or computed tensor of ${graph.name} (after constant folding)`);
  }
  return (node) => {
    const hit = tensors[node.name] ?? node.outputs.map((o) => tensors[o]).find((w) => w !== undefined);
    return hit ? { ...quant, ...hit } : quant;
  };
}

/** Lower a graph (after runPasses) to its integer program, calibrated on `calibration`. */
export function lowerGraph(graph: Graph & { opset?: number }, calibration: Sample[], options: LowerOptions = {}): QProgram {
  if (calibration.length === 0) fail('BAD_INPUT', 'quantization needs at least one calibration sample');
  const quant: QuantOptions = { ...DEFAULT_QUANT, ...options };
  const runs = calibration.map((s) => runFloat(graph, s));
  const b = new QBuilder(quant);
  b.privateWeights = options.privateWeights === true;
  const values = new Map<string, QTensor>();
  const readers = new Map<string, number>();
  for (const node of graph.nodes) for (const n of node.inputs) readers.set(n, (readers.get(n) ?? 0) + 1);
  const outputNames = new Set(graph.outputs.map((o) => o.name));
  const widthsOf = nodeWidths(graph, quant, options.tensors ?? {});

  const inputs = graph.inputs.map((info) => {
    const { input, tensor } = quantInput(b, info, statsOf(runs, info.name), options.inputs?.[info.name] ?? {}, options.inputHeadroom ?? 1.25, tokenVocab(graph, info.name));
    values.set(info.name, tensor);
    return input;
  });
  const get = (name: string): QTensor | undefined => {
    if (name === '') return undefined;
    const v = values.get(name);
    if (v) return v;
    const c = graph.constants.get(name);
    if (c) {
      const q = b.constant(c);
      values.set(name, q);
      return q;
    }
    throw new Error(`internal error: value '${name}' used before it is defined`);
  };

  for (const node of graph.nodes) {
    const def = OPS.get(node.op);
    if (!def) fail('UNSUPPORTED_LAYER', `${nodeLabel(node)}: op ${node.op} is not supported`);
    if (!def.lower) fail('UNSUPPORTED_LAYER', `${nodeLabel(node)}: ${node.op} is supported only on constant inputs (it is folded away), but an input here is computed`);
    b.node = node.name;
    b.options = widthsOf(node);
    const ctx: LowerCtx = {
      ...opCtx(graph, node),
      b,
      outStats: (k = 0) => statsOf(runs, node.outputs[k]),
      inStats: (i) => statsOf(runs, node.inputs[i]),
      constant: (i) => graph.constants.get(node.inputs[i]),
      graphOutputOnly: (k = 0) => outputNames.has(node.outputs[k]) && !readers.has(node.outputs[k]),
    };
    let outs;
    try {
      outs = def.lower(ctx, node.inputs.map(get));
    } catch (err) {
      throw withLargestConstant(err, graph, node.inputs);
    }
    node.outputs.forEach((name, k) => name !== '' && outs[k] && values.set(name, outs[k]));
  }
  b.options = quant;
  const outputs = graph.outputs.map((o) => {
    const t = get(o.name)!;
    return { name: o.name, dtype: t.dtype, shape: t.shape, scale: t.scale, elems: t.elems };
  });
  const program: QProgram = {
    name: graph.name,
    inputs,
    outputs,
    signals: b.signals,
    prims: b.prims,
    options: quant,
    notes: graph.notes,
    ...(graph.labels ? { labels: graph.labels } : {}),
  };
  if (!b.privateWeights) return program;
  if (!b.weights.length) fail('BAD_INPUT', `${graph.name} has no weights to keep private (no Gemm, MatMul, Conv or ConvTranspose with a constant operand)`);
  return placeWeightsFirst({ ...program, weights: b.weights });
}

/**
 * A node whose integers outgrow exact arithmetic usually has an extreme initializer (a weight of 1e29):
 * name the largest constant value it reads (when it is extreme, at least 1e6) so the user can find it.
 */
function withLargestConstant(err: unknown, graph: Graph, inputs: string[]): unknown {
  if (!(err instanceof ZkinferError) || !/beyond exact arithmetic/.test(err.message)) return err;
  let best: { name: string; index: number; value: number } | undefined;
  for (const name of inputs) {
    const data = graph.constants.get(name)?.data;
    if (!data) continue;
    for (let i = 0; i < data.length; i++) {
      const v = Number(data[i]);
      if (Number.isFinite(v) && Math.abs(v) > Math.abs(best?.value ?? 0)) best = { name, index: i, value: v };
    }
  }
  if (!best || Math.abs(best.value) < 1e6) return err;
  return new ZkinferError(err.code, `${err.message} (its largest constant input is ${best.name}[${best.index}] = ${best.value.toPrecision(3)})`);
}
