/**
 * Keras LSTM, GRU and SimpleRNN layers -> one ONNX LSTM / GRU / RNN node (ops/recurrent.ts unrolls it),
 * in layout 1 (batch first, as Keras). Translation only: the weights are re-ordered to ONNX's gate order
 * and orientation, the activations renamed; nothing is rewritten.
 *
 * Keras keeps kernel [I, G*H] and recurrent_kernel [H, G*H] with gate blocks LSTM (i, f, c, o), GRU
 * (z, r, h); ONNX wants W [1, G*H, I] and R [1, G*H, H] with LSTM blocks (i, o, f, c), GRU (z, r, h).
 * GRU reset_after (TF2's default) is ONNX linear_before_reset, with its [2, 3H] bias split into Wb and Rb.
 */
import type { AttrValue } from './ir.js';

/** What the tfjs translator lends a layer translation. */
export interface LayerHost {
  source(): string;
  shapeOf(value: string): number[];
  cfg(key: string): unknown;
  refuse(what: string): never;
  /** The layer's weight with this role (also under a cell scope, as TF2 names them: lstm/lstm_cell/kernel). */
  cellWeight(role: string, length: number, what: string): Float32Array;
  floats(role: string, shape: number[], data: ArrayLike<number>): string;
  ints(role: string, data: number[]): string;
  op(op: string, inputs: string[], attrs?: Record<string, AttrValue>, output?: number, outputs?: number): string;
}

export type RecurrentKind = 'LSTM' | 'GRU' | 'RNN';

const GATES: Record<RecurrentKind, number> = { LSTM: 4, GRU: 3, RNN: 1 };
/** ONNX gate block k comes from Keras block ORDER[k]. */
const ORDER: Record<RecurrentKind, number[]> = { LSTM: [0, 3, 1, 2], GRU: [0, 1, 2], RNN: [0] };

/** A Keras activation name as an ONNX recurrent activation (with its alpha and beta). */
function activationOf(host: LayerHost, value: unknown): { name: string; alpha?: number; beta?: number } {
  const name = String(value ?? '')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase();
  switch (name) {
    case 'sigmoid':
      return { name: 'Sigmoid' };
    case 'tanh':
      return { name: 'Tanh' };
    case 'relu':
      return { name: 'Relu' };
    case 'softsign':
      return { name: 'Softsign' };
    case 'softplus':
      return { name: 'Softplus' };
    case 'elu':
      return { name: 'Elu', alpha: 1 };
    case 'hard_sigmoid':
      // tfjs and Keras 2: clip(0.2 x + 0.5, 0, 1).
      return { name: 'HardSigmoid', alpha: 0.2, beta: 0.5 };
    default:
      return host.refuse(`activation ${JSON.stringify(value)} is not supported in a recurrent layer (sigmoid, tanh, relu, softsign, softplus, elu, hard_sigmoid)`);
  }
}

/** [n, G*H] Keras matrix -> [1, G*H, n] ONNX matrix with the gate blocks re-ordered. */
function toOnnx(m: Float32Array, n: number, kind: RecurrentKind, H: number): Float64Array {
  const G = GATES[kind];
  const out = new Float64Array(G * H * n);
  ORDER[kind].forEach((src, g) => {
    for (let j = 0; j < H; j++) for (let i = 0; i < n; i++) out[(g * H + j) * n + i] = m[i * G * H + src * H + j];
  });
  return out;
}

/** A bias vector of G*H in Keras block order -> ONNX order. */
const reorderBias = (b: ArrayLike<number>, kind: RecurrentKind, H: number) => ORDER[kind].flatMap((src) => Array.from({ length: H }, (_, j) => b[src * H + j]));

export function recurrentLayer(host: LayerHost, kind: RecurrentKind): string {
  const x = host.source();
  const s = host.shapeOf(x);
  if (s.length !== 3) host.refuse(`needs a [timesteps, features] input, got [${s.slice(1).join(', ')}]`);
  const [, T, I] = s;
  for (const k of ['stateful', 'return_state', 'unroll_state']) if (host.cfg(k) === true) host.refuse(`${k} is not supported`);
  const H = Number(host.cfg('units'));
  if (!Number.isInteger(H) || H < 1) host.refuse(`units ${JSON.stringify(host.cfg('units'))} is not a positive integer`);
  const G = GATES[kind];
  const W = toOnnx(host.cellWeight('kernel', I * G * H, `[${I}, ${G * H}]`), I, kind, H);
  const R = toOnnx(host.cellWeight('recurrent_kernel', H * G * H, `[${H}, ${G * H}]`), H, kind, H);
  const resetAfter = kind === 'GRU' && host.cfg('reset_after') === true;
  let bias: number[] = new Array<number>(2 * G * H).fill(0);
  if (host.cfg('use_bias') !== false) {
    if (resetAfter) {
      const b = host.cellWeight('bias', 2 * G * H, `[2, ${G * H}]`);
      bias = [...reorderBias(b.subarray(0, G * H), kind, H), ...reorderBias(b.subarray(G * H), kind, H)];
    } else bias = [...reorderBias(host.cellWeight('bias', G * H, `[${G * H}]`), kind, H), ...new Array<number>(G * H).fill(0)];
  }
  const act = activationOf(host, host.cfg('activation') ?? 'tanh');
  const acts = kind === 'RNN' ? [act] : [activationOf(host, host.cfg('recurrent_activation') ?? 'sigmoid'), ...(kind === 'LSTM' ? [act, act] : [act])];
  const backwards = host.cfg('go_backwards') === true;
  const attrs: Record<string, AttrValue> = {
    hidden_size: H,
    layout: 1,
    activations: acts.map((a) => a.name),
    ...(backwards ? { direction: 'reverse' } : {}),
    ...(resetAfter ? { linear_before_reset: 1 } : {}),
  };
  const alphas = acts.filter((a) => a.alpha !== undefined).map((a) => a.alpha!);
  const betas = acts.filter((a) => a.beta !== undefined).map((a) => a.beta!);
  if (alphas.length) attrs.activation_alpha = alphas;
  if (betas.length) attrs.activation_beta = betas;
  const inputs = [x, host.floats('W', [1, G * H, I], W), host.floats('R', [1, G * H, H], R), host.floats('B', [1, 2 * G * H], bias)];
  if (host.cfg('return_sequences') !== true) return host.op('Reshape', [host.op(kind, inputs, attrs, 1, kind === 'LSTM' ? 3 : 2), host.ints('shape', [1, H])]);
  let y = host.op('Reshape', [host.op(kind, inputs, attrs, 0, kind === 'LSTM' ? 3 : 2), host.ints('shape', [1, T, H])]);
  // go_backwards returns the sequence in the order it was processed (last step first); ONNX in time order.
  if (backwards)
    y = host.op(
      'Gather',
      [
        y,
        host.ints(
          'reversed',
          Array.from({ length: T }, (_, t) => T - 1 - t),
        ),
      ],
      { axis: 1 },
    );
  return y;
}
