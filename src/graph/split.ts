/**
 * Models split across provers: the whole graph is lowered once (so scales, multipliers and widths are the
 * whole model's), with the cut tensors as extra outputs; the integer program is then cut into chunks.
 * Chunk j computes cut j from cut j - 1 (the first from the model's inputs, the last the model's outputs),
 * so the chunks run one after another compute exactly the whole program's integers.
 *
 * A tensor can be a cut when each of its elements is one primitive's signal plus a constant (the output
 * of an activation, pooling, a reshape of those), and nothing after it reads a value from before it but
 * through it. A chunk's input signals keep the whole program's bounds, and its primitives are the whole
 * program's, renumbered: the same gadgets, the same widths. Its input is range-checked over the tensor's
 * range, as a model input is (and the producer range-checks the same values before committing them).
 */
import { fail } from '../util/errors.js';
import { gadgetOf } from './gadgets.js';
import { committedOutputs, inputCheckConstraints, outputRange } from './instances.js';
import { size, type Graph } from './ir.js';
import { formBounds, lowerGraph, type LowerOptions, type QInput, type QOutput, type QProgram, type Sample } from './quant/lower.js';
import { unsignedBits, type Prim } from './quant/prims.js';
import type { Form } from './quant/qtensor.js';
import { evalForm } from './quant/prims.js';
import { runSignals } from './quant/reference.js';

export interface SplitOptions {
  /** Cut tensors in graph order, or 'auto': cuts chosen so each chunk's estimated cost stays within chunkConstraints. */
  split: string[] | 'auto';
  chunkConstraints?: number;
}

export interface SplitProgram {
  /** The whole model's program (its own outputs only): the reference the chain must equal. */
  whole: QProgram;
  cuts: string[];
  chunks: QProgram[];
  /** Estimated constraints per chunk (cost.ts's gadget costs, range checks and commitments). */
  estimates: number[];
}

interface Cut {
  name: string;
  output: QOutput;
  /** Index of the last primitive the cut's values need. */
  boundary: number;
  /** Cut element i = signal signals[i] + biases[i]. */
  signals: number[];
  biases: number[];
}

/** Estimated PackedCommitment cost (commit.circom's measured counts: 240 per Poseidon call, ~21 per extra packed element). */
function commitmentCost(n: number, bits: number): number {
  const packed = Math.ceil(n / Math.floor(248 / bits));
  const calls = Math.ceil(packed / 15);
  return 240 * calls + 21 * (packed - calls);
}

/** The producer's side of a cut: range checks its gadgets do not already imply, and the commitment. */
function crossingCost(program: QProgram, o: QOutput): number {
  const { bits, elems } = committedOutputs({ ...program, outputs: [o] });
  return elems.filter((e) => e.check).length * bits + commitmentCost(o.elems.length, bits);
}

/** The consumer's side of a cut: every input value range-checked, and the commitment. */
function inputSideCost(program: QProgram, o: QOutput): number {
  const { lo, hi } = outputRange(program, o);
  return o.elems.length * inputCheckConstraints(lo, hi) + commitmentCost(o.elems.length, unsignedBits(hi - lo));
}

/** The tensors --split may name: every node output that is not a graph output (not all can be cuts). */
export const cutNames = (graph: Graph) => graph.nodes.flatMap((n) => n.outputs).filter((t) => t !== '' && !graph.outputs.some((o) => o.name === t));

export function splitGraph(graph: Graph & { opset?: number }, calibration: Sample[], options: LowerOptions & SplitOptions): SplitProgram {
  const available = cutNames(graph);
  const auto = options.split === 'auto';
  if (auto && !(Number.isInteger(options.chunkConstraints) && options.chunkConstraints! > 0)) fail('BAD_INPUT', '--split auto needs --chunk-constraints N (a positive integer)');
  const names = auto ? available : (options.split as string[]);
  if (!auto) {
    if (names.length === 0) fail('BAD_INPUT', '--split needs at least one tensor name');
    const seen = new Set<string>();
    for (const n of names) {
      if (seen.has(n)) fail('BAD_INPUT', `--split: tensor '${n}' is named twice`);
      seen.add(n);
      if (!available.includes(n)) {
        const why = graph.outputs.some((o) => o.name === n)
          ? 'is a graph output'
          : graph.inputs.some((i) => i.name === n)
            ? 'is a graph input'
            : 'is not a tensor of the graph (after the passes)';
        fail('BAD_INPUT', `--split: '${n}' ${why}; cut tensors: ${available.slice(0, 12).join(', ')}${available.length > 12 ? ', ...' : ''}`);
      }
    }
  }
  const nModelOut = graph.outputs.length;
  const extended = { ...graph, outputs: [...graph.outputs, ...names.map((name) => ({ name, dtype: 'float' as const, shape: [] }))] };
  const full = lowerGraph(extended, calibration, options);
  const whole: QProgram = { ...full, outputs: full.outputs.slice(0, nModelOut) };
  const nIn = full.inputs.reduce((a, i) => a + size(i.shape), 0);
  const primAt = new Map(full.prims.map((p, i) => [p.out, i]));
  const definedAt = (s: number) => (s < nIn ? -1 : primAt.get(s)!);

  // The last primitive reading each signal (a model output reads at prims.length).
  const lastUse = new Int32Array(full.signals.length).fill(-2);
  const use = (f: Form, at: number) => {
    for (const [s] of f.terms) lastUse[s] = Math.max(lastUse[s], at);
  };
  full.prims.forEach((p, i) => primForms(p).forEach((f) => use(f, i)));
  for (const o of whole.outputs) o.elems.forEach((f) => use(f, full.prims.length));

  /** The cut, or why the tensor cannot be one. */
  const cutOf = (name: string, output: QOutput): Cut | string => {
    const signals: number[] = [];
    const biases: number[] = [];
    for (const f of output.elems) {
      if (f.terms.length !== 1 || f.terms[0][1] !== 1) return 'its values are linear combinations of several signals (cut after an activation or pooling)';
      signals.push(f.terms[0][0]);
      biases.push(f.bias);
    }
    const boundary = Math.max(...signals.map(definedAt));
    if (boundary < 0) return 'it is the model input itself';
    const through = new Set(signals);
    for (let s = 0; s < full.signals.length; s++) {
      if (definedAt(s) <= boundary && lastUse[s] > boundary && !through.has(s))
        return `a later node reads a value from before it (signal of node ${s < nIn ? 'input' : full.prims[definedAt(s)].node})`;
    }
    return { name, output, boundary, signals, biases };
  };
  const candidates = names.map((name, k) => cutOf(name, full.outputs[nModelOut + k]));
  let cuts: Cut[];
  if (auto)
    cuts = chooseCuts(
      full,
      candidates.filter((c): c is Cut => typeof c !== 'string'),
      options.chunkConstraints!,
    );
  else {
    cuts = candidates.map((c, k) => (typeof c === 'string' ? fail('BAD_INPUT', `--split: tensor '${names[k]}' cannot be a cut: ${c}`) : c));
    cuts.forEach(
      (c, k) =>
        k > 0 &&
        c.boundary <= cuts[k - 1].boundary &&
        fail('BAD_INPUT', `--split: tensor '${c.name}' is not after '${cuts[k - 1].name}' (name cuts in graph order, each with work between them)`),
    );
  }

  const chunks: QProgram[] = [];
  for (let j = 0; j <= cuts.length; j++) {
    const from = j === 0 ? undefined : cuts[j - 1];
    const to = cuts[j];
    const prims = full.prims.slice(from ? from.boundary + 1 : 0, to ? to.boundary + 1 : full.prims.length);
    chunks.push(chunkProgram(full, `${full.name} [chunk ${j + 1}/${cuts.length + 1}]`, prims, from, to ? [to.output] : whole.outputs, j === cuts.length));
  }
  const estimates = chunks.map((c, j) => chunkEstimate(c, j > 0, j < cuts.length));
  return { whole, cuts: cuts.map((c) => c.name), chunks, estimates };
}

/** Every form a primitive reads. */
function primForms(p: Prim): Form[] {
  switch (p.kind) {
    case 'requant':
    case 'lookup':
      return [p.in];
    case 'mul':
    case 'less':
    case 'equal':
      return [p.a, p.b];
    case 'div':
      return [p.num, p.den];
    case 'max':
    case 'argmax':
      return p.in;
  }
}

/** The primitive with every form rewritten by `f` and its output signal renumbered. */
function mapPrim(p: Prim, f: (x: Form) => Form, out: number): Prim {
  switch (p.kind) {
    case 'requant':
    case 'lookup':
      return { ...p, out, in: f(p.in) };
    case 'mul':
    case 'less':
    case 'equal':
      return { ...p, out, a: f(p.a), b: f(p.b) };
    case 'div':
      return { ...p, out, num: f(p.num), den: f(p.den) };
    case 'max':
    case 'argmax':
      return { ...p, out, in: p.in.map(f) };
  }
}

function chunkProgram(full: QProgram, name: string, prims: Prim[], from: Cut | undefined, outputs: QOutput[], last: boolean): QProgram {
  // Old signal -> [new signal, constant added]: a cut element x_i = s + b gives s = x_i - b.
  const map = new Map<number, [number, number]>();
  let inputs: QInput[];
  let nIn: number;
  if (from) {
    const { lo, hi } = outputRange(full, from.output);
    const { name: tensor, dtype, shape, scale } = from.output;
    inputs = [{ name: tensor, dtype, shape, scale, lo, hi, first: 0 }];
    nIn = from.signals.length;
    from.signals.forEach((s, i) => map.has(s) || map.set(s, [i, -from.biases[i]]));
  } else {
    inputs = full.inputs;
    nIn = inputs.reduce((a, i) => a + size(i.shape), 0);
    for (let s = 0; s < nIn; s++) map.set(s, [s, 0]);
  }
  // Input signals keep their bounds in the whole program (a cut element's: its signal's, shifted).
  const signals: QProgram['signals'] = from
    ? from.signals.map((s, i) => ({ lo: full.signals[s].lo + from.biases[i], hi: full.signals[s].hi + from.biases[i] }))
    : full.signals.slice(0, nIn);
  prims.forEach((p, k) => {
    map.set(p.out, [nIn + k, 0]);
    signals.push(full.signals[p.out]);
  });
  const remap = (f: Form): Form => {
    let bias = f.bias;
    const terms: Array<[number, number]> = [];
    for (const [s, w] of f.terms) {
      const m = map.get(s);
      if (!m) throw new Error(`internal error: signal ${s} crosses a cut of ${name}`);
      terms.push([m[0], w]);
      bias += w * m[1];
    }
    return { bias, terms };
  };
  return {
    ...full,
    name,
    inputs,
    outputs: outputs.map((o) => ({ ...o, elems: o.elems.map(remap) })),
    signals,
    prims: prims.map((p, k) => mapPrim(p, remap, nIn + k)),
    ...(last && full.labels ? { labels: full.labels } : { labels: undefined }),
  };
}

/** The input range checks as instances.ts emits them (a second, top check for a range not a power of two). */
const inputChecks = (p: QProgram) => p.inputs.reduce((a, i) => a + size(i.shape) * inputCheckConstraints(i.lo, i.hi), 0);

/** cost.ts's primitive costs, plus the input range checks and the commitments at either cut. */
function chunkEstimate(c: QProgram, committedInput: boolean, committedOutput: boolean): number {
  const bounds = formBounds(c);
  let n = c.prims.reduce((a, p) => a + gadgetOf(p, bounds).constraints, 0);
  n += inputChecks(c);
  if (committedInput) n += commitmentCost(size(c.inputs[0].shape), unsignedBits(c.inputs[0].hi - c.inputs[0].lo));
  if (committedOutput) n += crossingCost(c, c.outputs[0]);
  return n;
}

/** Greedy: each chunk ends at the furthest valid cut whose estimated cost fits the budget. */
function chooseCuts(full: QProgram, candidates: Cut[], budget: number): Cut[] {
  const bounds = formBounds(full);
  const prefix = [0];
  for (const p of full.prims) prefix.push(prefix[prefix.length - 1] + gadgetOf(p, bounds).constraints);
  const sorted = [...candidates].sort((a, b) => a.boundary - b.boundary);
  const inputCost = inputChecks(full);
  const cost = (from: Cut | undefined, to: Cut | undefined) =>
    prefix[to ? to.boundary + 1 : full.prims.length] -
    prefix[from ? from.boundary + 1 : 0] +
    (from ? inputSideCost(full, from.output) : inputCost) +
    (to ? crossingCost(full, to.output) : 0);
  const cuts: Cut[] = [];
  let at: Cut | undefined;
  while (cost(at, undefined) > budget) {
    const next = sorted.filter((c) => (at ? c.boundary > at.boundary : true) && cost(at, c) <= budget);
    if (next.length === 0) {
      const first = sorted.find((c) => (at ? c.boundary > at.boundary : true));
      fail(
        'BAD_INPUT',
        `--split auto: no cut keeps a chunk within ${budget} constraints (the chunk ${at ? `after '${at.name}'` : 'from the input'} needs about ${first ? cost(at, first) : cost(at, undefined)})`,
      );
    }
    at = next[next.length - 1];
    cuts.push(at);
  }
  return cuts;
}

/** The chunks run one after another on the model's input integers: each chunk's output integers, in order. */
export function runChain(split: SplitProgram, x: number[]): number[][] {
  const outs: number[][] = [];
  let input = x;
  for (const c of split.chunks) {
    const s = runSignals(c, input);
    input = c.outputs.flatMap((o) => o.elems.map((f) => evalForm(f, s)));
    outs.push(input);
  }
  return outs;
}
