/**
 * Recurrent layers (ONNX LSTM, GRU, RNN) for a fixed sequence length, unrolled: each op EXPANDS into the
 * ops it is made of (Gather of step t, Concat [x_t, h], one Gemm per gate group with the stacked
 * constant weights [W | R] and the summed biases Wb + Rb, the gate activations, Mul/Add/Sub), which
 * shape inference (passes/fold.ts) puts in its place. So the float meaning, the lowering, its precision
 * and its cost are those of the ops it expands to, tested once; a step costs one requantization per gate
 * element (the Gemm), one lookup per activation, and the products of the state update.
 *
 * Supported: direction forward/reverse/bidirectional, layout 0 and 1, initial_h/initial_c (computed or
 * constant), peepholes P, clip, GRU linear_before_reset, activations Sigmoid, Tanh, Relu, Softsign,
 * Softplus, HardSigmoid, LeakyRelu, Elu with their alphas/betas. Refused by name: sequence_lens other
 * than the full length for every batch item, LSTM input_forget, activations outside that list.
 */
import { fail } from '../../util/errors.js';
import { nodeLabel, tensor, type Node, type Tensor } from '../ir.js';
import { need } from './broadcast.js';
import type { OpCtx, OpDef, OpInput, TypeShape } from './types.js';

/** Nodes and constants that replace one node; its outputs are among the nodes' outputs. */
export interface Expansion {
  nodes: Node[];
  constants: Array<[string, Tensor]>;
}

interface Kind {
  op: 'LSTM' | 'GRU' | 'RNN';
  /** Gate blocks in W, R and B, in ONNX order. */
  gates: number;
  /** Activations per direction, with ONNX's defaults. */
  activations: string[];
}

const KINDS: Record<Kind['op'], Kind> = {
  LSTM: { op: 'LSTM', gates: 4, activations: ['Sigmoid', 'Tanh', 'Tanh'] },
  GRU: { op: 'GRU', gates: 3, activations: ['Sigmoid', 'Tanh'] },
  RNN: { op: 'RNN', gates: 1, activations: ['Tanh'] },
};

/** Activations that are ONNX ops, with the attributes their alpha and beta become. */
const ACTIVATIONS: Record<string, string[]> = { Sigmoid: [], Tanh: [], Relu: [], Softsign: [], Softplus: [], HardSigmoid: ['alpha', 'beta'], LeakyRelu: ['alpha'], Elu: ['alpha'] };

interface Plan {
  kind: Kind;
  T: number;
  B: number;
  I: number;
  H: number;
  dirs: number;
  reverse: boolean[];
  layout: number;
  /** Activation op and attributes per direction and position. */
  acts: Array<Array<{ op: string; attrs: Record<string, number> }>>;
  clip?: number;
  linearBeforeReset: boolean;
}

function plan(ctx: OpCtx, kind: Kind, inputs: Array<OpInput | undefined>): Plan {
  const { attrs, node } = ctx;
  const x = need(ctx, inputs, 0);
  const w = need(ctx, inputs, 1);
  const r = need(ctx, inputs, 2);
  const layout = attrs.int('layout', 0);
  attrs.require('layout', layout === 0 || layout === 1, '0 or 1');
  if (x.shape.length !== 3) fail('UNSUPPORTED_LAYER', `${nodeLabel(node)}: X must be 3-D (got [${x.shape}])`);
  const [T, B, I] = layout === 0 ? x.shape : [x.shape[1], x.shape[0], x.shape[2]];
  const direction = attrs.string('direction', 'forward');
  attrs.require('direction', ['forward', 'reverse', 'bidirectional'].includes(direction), 'forward, reverse or bidirectional');
  const dirs = direction === 'bidirectional' ? 2 : 1;
  const H = attrs.int('hidden_size', r.shape[2] ?? 0);
  const G = kind.gates;
  for (const [k, t, want] of [
    [1, w, [dirs, G * H, I]],
    [2, r, [dirs, G * H, H]],
  ] as const) {
    if (!t.value) fail('UNSUPPORTED_LAYER', `${nodeLabel(node)}: input ${k} (${k === 1 ? 'W' : 'R'}) must be a constant`);
    if (t.shape.join() !== want.join()) fail('BAD_MODEL', `${nodeLabel(node)}: input ${k} has shape [${t.shape}], expected [${want}]`);
  }
  const b = inputs[3];
  if (b && (!b.value || b.shape.join() !== [dirs, 2 * G * H].join())) fail('UNSUPPORTED_LAYER', `${nodeLabel(node)}: B must be a constant of shape [${dirs}, ${2 * G * H}]`);
  const lens = inputs[4];
  if (lens && (!lens.value || lens.value.data.some((v) => v !== T)))
    fail('UNSUPPORTED_LAYER', `${nodeLabel(node)}: sequence_lens must be a constant equal to the sequence length ${T} for every batch item`);
  const stateShape = layout === 0 ? [dirs, B, H] : [B, dirs, H];
  for (const k of kind.op === 'LSTM' ? [5, 6] : [5]) {
    const s = inputs[k];
    if (s && s.shape.join() !== stateShape.join()) fail('BAD_MODEL', `${nodeLabel(node)}: input ${k} has shape [${s.shape}], expected [${stateShape}]`);
  }
  if (kind.op === 'LSTM') {
    attrs.require('input_forget', attrs.int('input_forget', 0) === 0, '0');
    const p = inputs[7];
    if (p && (!p.value || p.shape.join() !== [dirs, 3 * H].join())) fail('UNSUPPORTED_LAYER', `${nodeLabel(node)}: P must be a constant of shape [${dirs}, ${3 * H}]`);
  }
  const per = kind.activations.length;
  // Names are matched without case, as onnxruntime does ('sigmoid' and 'Sigmoid').
  const canonical = (a: string) => Object.keys(ACTIVATIONS).find((k) => k.toLowerCase() === a.toLowerCase());
  const given = attrs.has('activations') ? attrs.strings('activations') : Array.from({ length: dirs }, () => kind.activations).flat();
  attrs.require('activations', given.length === per * dirs && given.every((a) => canonical(a) !== undefined), `${per * dirs} of ${Object.keys(ACTIVATIONS).join(', ')}`);
  const names = given.map((a) => canonical(a)!);
  const alphas = attrs.floats('activation_alpha', []);
  const betas = attrs.floats('activation_beta', []);
  let ai = 0;
  let bi = 0;
  const list = names.map((op) => {
    const a: Record<string, number> = {};
    for (const name of ACTIVATIONS[op]) {
      const v = name === 'alpha' ? alphas[ai++] : betas[bi++];
      if (v !== undefined) a[name] = v;
    }
    return { op, attrs: a };
  });
  const acts = Array.from({ length: dirs }, (_, d) => list.slice(d * per, (d + 1) * per));
  const clip = attrs.has('clip') ? attrs.float('clip') : undefined;
  attrs.require('clip', clip === undefined || clip > 0, 'a positive number');
  const linearBeforeReset = kind.op === 'GRU' && attrs.int('linear_before_reset', 0) !== 0;
  const reverse = direction === 'bidirectional' ? [false, true] : [direction === 'reverse'];
  return { kind, T, B, I, H, dirs, reverse, layout, acts, clip, linearBeforeReset };
}

function outputShapes(p: Plan): TypeShape[] {
  const { T, B, H, dirs, layout } = p;
  const y = layout === 0 ? [T, dirs, B, H] : [B, T, dirs, H];
  const state = layout === 0 ? [dirs, B, H] : [B, dirs, H];
  return [y, state, ...(p.kind.op === 'LSTM' ? [state] : [])].map((shape) => ({ dtype: 'float', shape }));
}

/** Writes the unrolled nodes with names unique to the node being expanded. */
class Writer {
  readonly nodes: Node[] = [];
  readonly constants: Array<[string, Tensor]> = [];
  private n = 0;
  constructor(private readonly prefix: string) {}

  constant(hint: string, t: Tensor): string {
    const name = `${this.prefix}::${hint}#${this.n++}`;
    this.constants.push([name, t]);
    return name;
  }

  op(op: string, inputs: string[], attrs: Node['attrs'] = {}, output?: string): string {
    const out = output ?? `${this.prefix}::${op}#${this.n}`;
    this.nodes.push({ name: `${this.prefix}/${op}#${this.n++}`, op, inputs, outputs: [out], attrs });
    return out;
  }

  /** Columns [from, from + count) of a [B, n] tensor. */
  cols(x: string, from: number, count: number): string {
    return this.op(
      'Gather',
      [
        x,
        this.constant(
          'cols',
          tensor(
            'int',
            [count],
            Array.from({ length: count }, (_, i) => from + i),
          ),
        ),
      ],
      { axis: 1 },
    );
  }
}

/** Rows [g0, g1) of gate blocks of H rows of a [dirs, G*H, n] constant for direction d, as a [(g1-g0)*H, n] matrix. */
function gateRows(t: Tensor, d: number, g0: number, g1: number, H: number): Float64Array {
  const [, GH, n] = t.shape;
  return t.data.slice((d * GH + g0 * H) * n, (d * GH + g1 * H) * n);
}

/** [W_rows | R_rows] side by side: the Gemm weight (transB) applied to Concat [x_t, h]. */
function stacked(w: Float64Array, r: Float64Array | undefined, rows: number, I: number, H: number): Tensor {
  const n = I + (r ? H : 0);
  const out = new Float64Array(rows * n);
  for (let o = 0; o < rows; o++) {
    out.set(w.subarray(o * I, (o + 1) * I), o * n);
    if (r) out.set(r.subarray(o * H, (o + 1) * H), o * n + I);
  }
  return tensor('float', [rows, n], out);
}

function expandRecurrent(ctx: OpCtx, kind: Kind, inputs: Array<OpInput | undefined>): Expansion {
  const p = plan(ctx, kind, inputs);
  const { T, B, I, H, dirs, layout } = p;
  const names = ctx.node.inputs;
  const W = inputs[1]!.value!;
  const R = inputs[2]!.value!;
  const Bv = inputs[3]?.value;
  const P = inputs[7]?.value;
  const w = new Writer(ctx.node.name);
  const G = kind.gates;
  /** Wb + Rb (or one of them) for gates [g0, g1) of direction d. */
  const bias = (d: number, g0: number, g1: number, which: 'both' | 'W' | 'R' = 'both') =>
    tensor(
      'float',
      [(g1 - g0) * H],
      Array.from({ length: (g1 - g0) * H }, (_, i) => {
        if (!Bv) return 0;
        const wb = Bv.data[d * 2 * G * H + g0 * H + i];
        const rb = Bv.data[d * 2 * G * H + G * H + g0 * H + i];
        return which === 'both' ? wb + rb : which === 'W' ? wb : rb;
      }),
    );
  const gemm = (a: string, weight: Tensor, b: Tensor) => w.op('Gemm', [a, w.constant('W', weight), w.constant('B', b)], { transB: 1 });
  const clip = (x: string) =>
    p.clip === undefined ? x : w.op('Max', [w.op('Min', [x, w.constant('clip', tensor('float', [], [p.clip]))]), w.constant('clip', tensor('float', [], [-p.clip]))]);
  // clip bounds the inputs of the gate activations (onnxruntime: not the cell state fed to LSTM's h()).
  const act = (d: number, k: number, x: string, clipped = true) => w.op(p.acts[d][k].op, [clipped ? clip(x) : x], p.acts[d][k].attrs);
  const state = (k: number, d: number): string => {
    if (!names[k]) return w.constant('zeros', tensor('float', [B, H], new Float64Array(B * H)));
    return w.op('Gather', [names[k], w.constant('dir', tensor('int', [], [d]))], { axis: layout === 0 ? 0 : 1 });
  };
  const step = (t: number) => w.op('Gather', [names[0], w.constant('t', tensor('int', [], [t]))], { axis: layout === 0 ? 0 : 1 });

  const ys: string[][] = Array.from({ length: T }, () => []);
  const lastH: string[] = [];
  const lastC: string[] = [];
  for (let d = 0; d < dirs; d++) {
    let h = state(5, d);
    let c = kind.op === 'LSTM' ? state(6, d) : '';
    const peep = (k: number) => P && w.constant('P', tensor('float', [H], P.data.slice((d * 3 + k) * H, (d * 3 + k + 1) * H)));
    for (let s = 0; s < T; s++) {
      const t = p.reverse[d] ? T - 1 - s : s;
      const xt = step(t);
      const xh = w.op('Concat', [xt, h], { axis: 1 });
      if (kind.op === 'RNN') {
        h = act(d, 0, gemm(xh, stacked(gateRows(W, d, 0, 1, H), gateRows(R, d, 0, 1, H), H, I, H), bias(d, 0, 1)));
      } else if (kind.op === 'LSTM') {
        // Gates in ONNX order i, o, f, c; peepholes P in order i, o, f.
        const pre = gemm(xh, stacked(gateRows(W, d, 0, 4, H), gateRows(R, d, 0, 4, H), 4 * H, I, H), bias(d, 0, 4));
        const gate = (k: number, peepOn?: string, pk?: number) => {
          const g = w.cols(pre, k * H, H);
          const pv = pk !== undefined ? peep(pk) : undefined;
          return pv && peepOn ? w.op('Add', [g, w.op('Mul', [peepOn, pv])]) : g;
        };
        const i = act(d, 0, gate(0, c, 0));
        const f = act(d, 0, gate(2, c, 2));
        const cc = act(d, 1, gate(3));
        c = w.op('Add', [w.op('Mul', [f, c]), w.op('Mul', [i, cc])]);
        const o = act(d, 0, gate(1, c, 1));
        h = w.op('Mul', [o, act(d, 2, c, false)]);
      } else {
        // GRU gates z, r, h.
        const zr = gemm(xh, stacked(gateRows(W, d, 0, 2, H), gateRows(R, d, 0, 2, H), 2 * H, I, H), bias(d, 0, 2));
        const z = act(d, 0, w.cols(zr, 0, H));
        const r = act(d, 0, w.cols(zr, H, H));
        let hh: string;
        if (p.linearBeforeReset) {
          const xPart = gemm(xt, stacked(gateRows(W, d, 2, 3, H), undefined, H, I, H), bias(d, 2, 3, 'W'));
          const hPart = gemm(h, stacked(gateRows(R, d, 2, 3, H), undefined, H, H, H), bias(d, 2, 3, 'R'));
          hh = act(d, 1, w.op('Add', [xPart, w.op('Mul', [r, hPart])]));
        } else {
          const xrh = w.op('Concat', [xt, w.op('Mul', [r, h])], { axis: 1 });
          hh = act(d, 1, gemm(xrh, stacked(gateRows(W, d, 2, 3, H), gateRows(R, d, 2, 3, H), H, I, H), bias(d, 2, 3)));
        }
        // (1 - z) hh + z h = hh + z (h - hh)
        h = w.op('Add', [hh, w.op('Mul', [z, w.op('Sub', [h, hh])])]);
      }
      ys[t][d] = h;
    }
    lastH.push(h);
    lastC.push(c);
  }
  const outs = ctx.node.outputs;
  const shaped = (x: string, shape: number[]) => w.op('Reshape', [x, w.constant('shape', tensor('int', [shape.length], shape))]);
  const cat = (xs: string[], axis: number, output?: string) => (xs.length === 1 && output === undefined ? xs[0] : w.op('Concat', xs, { axis }, output));
  if (outs[0]) {
    // Y: [T, dirs, B, H] (layout 0) or [B, T, dirs, H] (layout 1).
    const pieces = ys.map((byDir) => byDir.map((h) => shaped(h, layout === 0 ? [1, 1, B, H] : [B, 1, 1, H])));
    const perStep = pieces.map((ps) => cat(ps, layout === 0 ? 1 : 2));
    cat(perStep, layout === 0 ? 0 : 1, outs[0]);
  }
  const finalState = (hs: string[], output: string) =>
    cat(
      hs.map((h) => shaped(h, layout === 0 ? [1, B, H] : [B, 1, H])),
      layout === 0 ? 0 : 1,
      output,
    );
  if (outs[1]) finalState(lastH, outs[1]);
  if (kind.op === 'LSTM' && outs[2]) finalState(lastC, outs[2]);
  return { nodes: w.nodes, constants: w.constants };
}

function recurrentOp(kind: Kind, evalNodes: (nodes: Node[], values: Map<string, Tensor>, opset: number) => void): OpDef {
  const asInputs = (ts: Array<Tensor | undefined>): Array<OpInput | undefined> => ts.map((t) => t && { dtype: t.dtype, shape: t.shape, value: t });
  return {
    op: kind.op,
    infer: (ctx, inputs) => outputShapes(plan(ctx, kind, inputs)),
    expand: (ctx, inputs) => expandRecurrent(ctx, kind, inputs),
    // The float meaning is the expansion's, evaluated node by node.
    evalFloat(ctx, inputs) {
      const e = expandRecurrent(ctx, kind, asInputs(inputs));
      const values = new Map<string, Tensor>(e.constants);
      ctx.node.inputs.forEach((n, k) => n !== '' && inputs[k] && values.set(n, inputs[k]!));
      evalNodes(e.nodes, values, ctx.opset);
      return ctx.node.outputs.map((o) => (o !== '' ? values.get(o)! : tensor('float', [0], [])));
    },
  };
}

export function recurrentOps(evalNodes: (nodes: Node[], values: Map<string, Tensor>, opset: number) => void): OpDef[] {
  return Object.values(KINDS).map((k) => recurrentOp(k, evalNodes));
}
