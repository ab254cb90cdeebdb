/**
 * Element-wise non-linear operators: activations, exp/log family, rounding, Clip, Pow, Mod. Each keeps
 * its first input's dtype and shape (PRelu, Pow, Mod broadcast). Float-only functions refuse int input;
 * Abs, Neg-like, Sign, Relu, Clip, Pow and Mod also take ints, as onnxruntime does.
 */
import { fail } from '../../util/errors.js';
import { nodeLabel, type DType, type Tensor } from '../ir.js';
import { broadcastShapes, map1, map2, need, requireDtype } from './broadcast.js';
import type { OpCtx, OpDef } from './types.js';

/** erf to double precision: its Maclaurin series below |x| = 4 (converges; cancellation costs < 1e-9), ±1 beyond (erfc(4) < 2e-8). */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax >= 4) return Math.sign(x);
  let term = ax;
  let s = ax;
  const x2 = ax * ax;
  for (let n = 1; n < 200; n++) {
    term *= -x2 / n;
    const add = term / (2 * n + 1);
    s += add;
    if (Math.abs(add) < 1e-17 * Math.abs(s)) break;
  }
  return Math.sign(x) * Math.min(1, (2 / Math.sqrt(Math.PI)) * s);
}

/** Round half to even (ONNX Round, numpy.round). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

type Unary = (x: number, ctx: OpCtx) => number;

function unary(op: string, fn: Unary, dtypes: DType[] = ['float'], check?: (ctx: OpCtx) => void): OpDef {
  return {
    op,
    infer(ctx, inputs) {
      const x = need(ctx, inputs, 0);
      requireDtype(ctx, x, dtypes);
      check?.(ctx);
      return [{ dtype: x.dtype, shape: [...x.shape] }];
    },
    evalFloat(ctx, inputs) {
      const x = need(ctx, inputs, 0);
      return [map1(x, x.dtype, (v) => fn(v, ctx))];
    },
  };
}

const alphaOf = (ctx: OpCtx, fallback: number) => ctx.attrs.float('alpha', fallback);
const SELU_ALPHA = 1.67326319217681884765625;
const SELU_GAMMA = 1.05070102214813232421875;
const sigmoid = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
const softplus = (x: number) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));

const gelu = unary(
  'Gelu',
  (x, ctx) =>
    ctx.attrs.string('approximate', 'none') === 'tanh'
      ? 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)))
      : 0.5 * x * (1 + erf(x / Math.SQRT2)),
  ['float'],
  (ctx) => ctx.attrs.require('approximate', ['none', 'tanh'].includes(ctx.attrs.string('approximate', 'none')), "'none' or 'tanh'"),
);

const celuCheck = (ctx: OpCtx) => ctx.attrs.require('alpha', alphaOf(ctx, 1) !== 0, 'a non-zero alpha');

const unaries: OpDef[] = [
  unary('Relu', (x) => Math.max(0, x), ['float', 'int']),
  unary('LeakyRelu', (x, c) => (x >= 0 ? x : alphaOf(c, 0.01) * x)),
  unary('Elu', (x, c) => (x >= 0 ? x : alphaOf(c, 1) * Math.expm1(x))),
  unary('Celu', (x, c) => Math.max(0, x) + Math.min(0, alphaOf(c, 1) * Math.expm1(x / alphaOf(c, 1))), ['float'], celuCheck),
  unary('Selu', (x, c) => c.attrs.float('gamma', SELU_GAMMA) * (x > 0 ? x : alphaOf(c, SELU_ALPHA) * Math.expm1(x))),
  unary('Sigmoid', sigmoid),
  unary('HardSigmoid', (x, c) => Math.max(0, Math.min(1, alphaOf(c, 0.2) * x + c.attrs.float('beta', 0.5)))),
  unary('HardSwish', (x) => x * Math.max(0, Math.min(1, x / 6 + 0.5))),
  unary('Tanh', Math.tanh),
  unary('Softplus', softplus),
  unary('Softsign', (x) => x / (1 + Math.abs(x))),
  unary('Erf', erf),
  gelu,
  unary('Exp', Math.exp),
  unary('Log', Math.log),
  unary('Sqrt', Math.sqrt),
  unary('Reciprocal', (x) => 1 / x),
  unary('Abs', Math.abs, ['float', 'int']),
  unary('Sign', Math.sign, ['float', 'int']),
  unary('Floor', Math.floor),
  unary('Ceil', Math.ceil),
  unary('Round', roundHalfEven),
  unary('Sin', Math.sin),
  unary('Cos', Math.cos),
];

const prelu: OpDef = {
  op: 'PRelu',
  infer(ctx, inputs) {
    const x = need(ctx, inputs, 0);
    requireDtype(ctx, x, ['float', 'int']);
    const shape = broadcastShapes(ctx.node, [x.shape, need(ctx, inputs, 1).shape]);
    // The slope broadcasts to X (unidirectionally): the output is X's shape.
    if (shape.length !== x.shape.length || shape.some((d, i) => d !== x.shape[i])) {
      fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: slope of shape [${need(ctx, inputs, 1).shape}] does not broadcast to X [${x.shape}]`);
    }
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
  evalFloat(ctx, inputs) {
    const x = need(ctx, inputs, 0);
    return [map2(ctx.node, x.dtype, x, need(ctx, inputs, 1), (v, s) => (v < 0 ? s * v : v))];
  },
};

const pow: OpDef = {
  op: 'Pow',
  infer(ctx, inputs) {
    const x = need(ctx, inputs, 0);
    requireDtype(ctx, x, ['float', 'int']);
    requireDtype(ctx, need(ctx, inputs, 1), ['float', 'int'], 'exponent');
    return [{ dtype: x.dtype, shape: broadcastShapes(ctx.node, [x.shape, need(ctx, inputs, 1).shape]) }];
  },
  evalFloat(ctx, inputs) {
    const x = need(ctx, inputs, 0);
    const int = x.dtype === 'int';
    return [map2(ctx.node, x.dtype, x, need(ctx, inputs, 1), (a, b) => (int ? Math.trunc(a ** b) : a ** b))];
  },
};

const mod: OpDef = {
  op: 'Mod',
  infer(ctx, inputs) {
    const x = need(ctx, inputs, 0);
    requireDtype(ctx, x, ['float', 'int']);
    const fmod = ctx.attrs.int('fmod', 0);
    ctx.attrs.require('fmod', fmod === 0 || fmod === 1, 'fmod is 0 or 1');
    ctx.attrs.require('fmod', fmod === 1 || x.dtype === 'int', 'fmod 1 for float inputs (onnxruntime refuses fmod 0 on floats)');
    return [{ dtype: x.dtype, shape: broadcastShapes(ctx.node, [x.shape, need(ctx, inputs, 1).shape]) }];
  },
  evalFloat(ctx, inputs) {
    const x = need(ctx, inputs, 0);
    const fmod = ctx.attrs.int('fmod', 0) === 1;
    return [
      map2(ctx.node, x.dtype, x, need(ctx, inputs, 1), (a, b) => {
        if (x.dtype === 'int' && b === 0) fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: integer modulo by zero`);
        const r = a % b;
        // fmod keeps the dividend's sign; integer Mod (fmod 0) the divisor's, like Python.
        return !fmod && r !== 0 && r < 0 !== b < 0 ? r + b : r;
      }),
    ];
  },
};

/** Clip's bounds: inputs 1 and 2 from opset 11 (either may be absent), attributes min and max before. */
function clipBounds(ctx: OpCtx, inputs: ReadonlyArray<{ value?: Tensor; data?: Float64Array; shape: number[] } | undefined>, evaluating: boolean): [number, number] {
  if (ctx.opset < 11) return [ctx.attrs.float('min', -3.4028234663852886e38), ctx.attrs.float('max', 3.4028234663852886e38)];
  for (const name of ['min', 'max']) ctx.attrs.require(name, !ctx.attrs.has(name), 'from opset 11 the bounds are inputs');
  const bound = (i: number, fallback: number): number => {
    const inp = inputs[i];
    if (!inp) return fallback;
    if (inp.shape.reduce((a, b) => a * b, 1) !== 1) fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: the ${i === 1 ? 'min' : 'max'} input must be a scalar (got shape [${inp.shape}])`);
    // infer needs only the shape; a bound that is not a constant is the lowering's business.
    const t = evaluating ? (inp as Tensor) : inp.value;
    return t ? t.data[0] : fallback;
  };
  return [bound(1, -Infinity), bound(2, Infinity)];
}

const clip: OpDef = {
  op: 'Clip',
  infer(ctx, inputs) {
    const x = need(ctx, inputs, 0);
    requireDtype(ctx, x, ['float', 'int']);
    clipBounds(ctx, inputs, false);
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
  evalFloat(ctx, inputs) {
    const x = need(ctx, inputs, 0);
    const [lo, hi] = clipBounds(ctx, inputs, true);
    return [map1(x, x.dtype, (v) => Math.min(Math.max(v, lo), hi))];
  },
};

export const nonlinearOps: OpDef[] = [...unaries, prelu, pow, mod, clip];
