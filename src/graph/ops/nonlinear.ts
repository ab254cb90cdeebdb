/**
 * Element-wise non-linear operators: activations, exp/log family, rounding, Clip, Pow, Mod. Each keeps
 * its first input's dtype and shape (PRelu, Pow, Mod broadcast). Float-only functions refuse int input;
 * Abs, Neg-like, Sign, Relu, Clip, Pow and Mod also take ints, as onnxruntime does.
 */
import { fail } from '../../util/errors.js';
import { nodeLabel, type DType, type Tensor } from '../ir.js';
import type { Range, RealForm } from '../quant/builder.js';
import { addForms, commonScale, constForm, equal, less, product, scaleForm } from '../quant/composite.js';
import type { Form, LowerCtx, QTensor } from '../quant/qtensor.js';
import { broadcastIndex, broadcastShapes, map1, map2, need, requireDtype } from './broadcast.js';
import { outputRange } from './lowerLinear.js';
import { broadcastTo, clampForm, findLinearFloor, linearFloorForm, lookup, reluForm, refuse } from './lowerNonlinear.js';
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

function unary(op: string, fn: Unary, dtypes: DType[] = ['float'], check?: (ctx: OpCtx) => void, lower?: OpDef['lower']): OpDef {
  return {
    op,
    lower: lower ?? ((ctx, [x]) => [lookup(ctx, x!, (v) => fn(v, ctx))]),
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
    ctx.attrs.string('approximate', 'none') === 'tanh' ? 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))) : 0.5 * x * (1 + erf(x / Math.SQRT2)),
  ['float'],
  (ctx) => ctx.attrs.require('approximate', ['none', 'tanh'].includes(ctx.attrs.string('approximate', 'none')), "'none' or 'tanh'"),
);

const celuCheck = (ctx: OpCtx) => ctx.attrs.require('alpha', alphaOf(ctx, 1) !== 0, 'a non-zero alpha');

// ---- lowerings (constructions and costs: see each comment; helpers in lowerNonlinear.ts) ----

type Lower = NonNullable<OpDef['lower']>;

/** Relu: free (the same forms) when x >= 0 by its bounds; else max(x, 0) by one exact clamp: input bits + 1 constraints. */
const lowerRelu: Lower = (ctx, [x]) => [ctx.b.map(x!, (f) => reluForm(ctx, f))];

/**
 * An integer K with slope * K (nearly) integral for every slope: exact (|error| < 1e-6 relative) for the
 * first K <= 256 that makes every slope so (0.01: 100, 0.05: 20, 0.25: 4), else 256 (slope error <= 2^-9).
 */
function slopeUnit(slopes: ArrayLike<number>): number {
  for (let K = 1; K <= 256; K++) {
    if (Array.from(slopes).every((a) => Math.abs(a * K - Math.round(a * K)) <= 1e-6 * Math.max(1, Math.abs(a * K)))) return K;
  }
  return 256;
}

/**
 * y = A x + (K - A) relu(x) at scale s / K, A = round(slope K) (x >= 0: K x; x < 0: A x): one exact clamp
 * per element (input bits + 1 constraints; a lookup would cost a requantization + 45). Exact when slope K
 * is an integer (K <= 256), else the slope is within 2^-9.
 */
function leakyForms(ctx: LowerCtx, x: QTensor, slopeAt: (i: number) => number, K: number): QTensor {
  const elems = x.elems.map((f, i) => {
    const A = Math.round(slopeAt(i) * K);
    if (A === K) return scaleForm(f, K);
    return addForms(scaleForm(f, A), scaleForm(reluForm(ctx, f), K - A));
  });
  return { dtype: x.dtype, shape: x.shape, scale: x.scale / K, elems };
}

const lowerLeakyRelu: Lower = (ctx, [x]) => {
  const alpha = alphaOf(ctx, 0.01);
  return [leakyForms(ctx, x!, () => alpha, slopeUnit([alpha]))];
};

/** |x| = 2 relu(x) - x: exact, one clamp (input bits + 1), free when x's sign is known. */
const lowerAbs: Lower = (ctx, [x]) => [ctx.b.map(x!, (f) => addForms(scaleForm(reluForm(ctx, f), 2), f, -1))];

/** sign(x) = 1 - 2 [x < 0] - [x == 0] in integers (exact): LessThanSigned(input bits) + IsEqual (2). */
const lowerSign: Lower = (ctx, [x]) => {
  const elems = x!.elems.map((f) => {
    const neg = less(ctx.b, f, 1, constForm(0), 1);
    const zero = equal(ctx.b, f, 1, constForm(0), 1);
    return addForms(addForms(constForm(1), neg, -2), zero, -1);
  });
  return [{ dtype: x!.dtype, shape: x!.shape, scale: 1, elems }];
};

/** The clamp window [0, 1] at 2^bits - 1 units (activation bits, + 4 for a graph output). */
function unitRange(ctx: LowerCtx): Range {
  const bits = ctx.b.options.activationBits + (ctx.graphOutputOnly() ? 4 : 0);
  return { scale: 1 / (2 ** bits - 1), lo: 0, bits };
}

/**
 * HardSigmoid = clamp(alpha x + beta, 0, 1): one requantization of the exact affine form onto [0, 1] at
 * 2^8 - 1 units, whose clamp is the activation (shift + quotient bits + 4, ~25; no lookup). Precision:
 * half a unit (0.2%, 0.01% for a graph output) and the multiplier (2^-10 relative).
 */
const lowerHardSigmoid: Lower = (ctx, [x]) => {
  const alpha = alphaOf(ctx, 0.2);
  const beta = ctx.attrs.float('beta', 0.5);
  return [hardSigmoidOf(ctx, x!, alpha, beta, unitRange(ctx))];
};

function hardSigmoidOf(ctx: LowerCtx, x: QTensor, alpha: number, beta: number, range: Range): QTensor {
  const forms: RealForm[] = x.elems.map((_, i) => ({ bias: beta, terms: [[x, i, alpha]] }));
  return ctx.b.linear('float', x.shape, forms, range);
}

/**
 * HardSwish = x * hardsigmoid(x) (alpha 1/6, beta 1/2): the requantized clamp as in HardSigmoid (~25),
 * one exact product (1), then a requantization to the output range unless the value is a graph output
 * (outputRange). Precision: half a unit of the clamp times |x| (3/510 of the largest output at 8 bits).
 */
const lowerHardSwish: Lower = (ctx, [x]) => {
  const g = hardSigmoidOf(ctx, x!, 1 / 6, 0.5, { scale: 1 / (2 ** ctx.b.options.activationBits - 1), lo: 0, bits: ctx.b.options.activationBits });
  const prods: QTensor = { dtype: 'float', shape: x!.shape, scale: x!.scale * g.scale, elems: x!.elems.map((f, i) => product(ctx.b, f, g.elems[i])) };
  const range = outputRange(ctx);
  return [range ? ctx.b.requantize(prods, range) : prods];
};

/**
 * Floor, Ceil, Round of real x = q s: t(q) = floor((m q + c) / 2^k) with integers m, c, k found by
 * findLinearFloor and checked at every integer q of x's bounds (exact for every valid input), one
 * DivFloorPow2 (k + output bits, typically 20-30 constraints; none when k = 0). Round with exact ties
 * (s = 1/D, D an integer): round half up h, minus [tie] * [h odd] (IsEqual + a floor of h / 2 + 1 Mul).
 * Output: integers at scale 1.
 */
function lowerRounding(ctx: LowerCtx, x: QTensor, fn: (v: number) => number): QTensor {
  const s = x.scale;
  const xb = ctx.b.tensorBounds(x);
  const out = (elems: Form[]): QTensor => ({ dtype: x.dtype, shape: x.shape, scale: 1, elems });
  if (x.dtype === 'int') return out(x.elems);
  const sol = findLinearFloor(xb.lo, xb.hi, s, (q) => fn(q * s));
  if (sol) return out(x.elems.map((f) => linearFloorForm(ctx, f, sol)));
  const D = Math.round(1 / s);
  if (fn === roundHalfEven && Math.abs(D * s - 1) < 1e-12) {
    const up = findLinearFloor(xb.lo, xb.hi, s, (q) => Math.floor(q * s + 0.5));
    if (up) {
      return out(
        x.elems.map((f) => {
          const h = linearFloorForm(ctx, f, up);
          // tie: q s + 1/2 = h  <=>  2 q + D = 2 D h (integers).
          const tie = equal(ctx.b, addForms(scaleForm(f, 2), constForm(D)), 1, scaleForm(h, 2 * D), 1);
          const hb = ctx.b.bounds(h);
          const half = findLinearFloor(hb.lo, hb.hi, 0.5, (v) => Math.floor(v / 2))!;
          const odd = addForms(h, scaleForm(linearFloorForm(ctx, h, half), 2), -1);
          return addForms(h, product(ctx.b, tie, odd), -1);
        }),
      );
    }
  }
  return refuse(ctx, `no exact integer construction of ${ctx.node.op} at input scale ${s} over [${xb.lo}, ${xb.hi}]`);
}

const unaries: OpDef[] = [
  unary('Relu', (x) => Math.max(0, x), ['float', 'int'], undefined, lowerRelu),
  unary('LeakyRelu', (x, c) => (x >= 0 ? x : alphaOf(c, 0.01) * x), ['float'], undefined, lowerLeakyRelu),
  // Elu, Celu, Selu, Sigmoid, Tanh, Softplus, Softsign, Erf, Gelu, Exp, Log, Sqrt, Reciprocal, Sin, Cos:
  // one lookup (lowerNonlinear.lookup): a requantization of x onto the 8-bit domain (shift + quotient
  // bits + clamp, ~20-25) + Lookup(8) (45, fewer for saturated tables) per element. Precision: half of
  // fn's variation over one domain step (bin-centred entries), e.g. exp on [-3, 3]: 1.2% of e^3.
  unary('Elu', (x, c) => (x >= 0 ? x : alphaOf(c, 1) * Math.expm1(x))),
  unary('Celu', (x, c) => Math.max(0, x) + Math.min(0, alphaOf(c, 1) * Math.expm1(x / alphaOf(c, 1))), ['float'], celuCheck),
  unary('Selu', (x, c) => c.attrs.float('gamma', SELU_GAMMA) * (x > 0 ? x : alphaOf(c, SELU_ALPHA) * Math.expm1(x))),
  unary('Sigmoid', sigmoid),
  unary('HardSigmoid', (x, c) => Math.max(0, Math.min(1, alphaOf(c, 0.2) * x + c.attrs.float('beta', 0.5))), ['float'], undefined, lowerHardSigmoid),
  unary('HardSwish', (x) => x * Math.max(0, Math.min(1, x / 6 + 0.5)), ['float'], undefined, lowerHardSwish),
  unary('Tanh', Math.tanh),
  unary('Softplus', softplus),
  unary('Softsign', (x) => x / (1 + Math.abs(x))),
  unary('Erf', erf),
  gelu,
  unary('Exp', Math.exp),
  // Log, Sqrt, Reciprocal: a table over the calibrated domain; inputs whose bounds include <= 0 get the
  // clamped value there (log 0, log of a negative, sqrt of a negative: the output range's bottom; 1/0: its
  // top). Sqrt near 0 is steep: the first bin's error is sqrt(step / 2) / 2, 2.2% of sqrt(max) at 8 bits.
  unary('Log', Math.log),
  unary('Sqrt', Math.sqrt),
  unary('Reciprocal', (x) => 1 / x),
  unary('Abs', Math.abs, ['float', 'int'], undefined, lowerAbs),
  unary('Sign', Math.sign, ['float', 'int'], undefined, lowerSign),
  unary('Floor', Math.floor, ['float'], undefined, (ctx, [x]) => [lowerRounding(ctx, x!, Math.floor)]),
  unary('Ceil', Math.ceil, ['float'], undefined, (ctx, [x]) => [lowerRounding(ctx, x!, Math.ceil)]),
  unary('Round', roundHalfEven, ['float'], undefined, (ctx, [x]) => [lowerRounding(ctx, x!, roundHalfEven)]),
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
  // Constant slope (per channel or any broadcast): LeakyRelu's construction per element, one exact clamp
  // (input bits + 1) with a common K for every slope. Computed slope: relu(x) + slope * (x - relu(x)):
  // the clamp + one product (1), at a common scale (exact when one scale divides the other, else 2^-16).
  lower(ctx, [x, slope]) {
    const map = broadcastIndex(x!.shape, slope!.shape);
    const c = ctx.constant(1);
    if (c) return [leakyForms(ctx, x!, (i) => c.data[map[i]], x!.dtype === 'int' ? 1 : slopeUnit(c.data))];
    let scale = x!.scale;
    const elems = x!.elems.map((f, i) => {
      const r = reluForm(ctx, f);
      const p = product(ctx.b, slope!.elems[map[i]], addForms(f, r, -1));
      const m = commonScale({ f: r, scale: x!.scale }, { f: p, scale: x!.scale * slope!.scale });
      scale = m.scale;
      return addForms(m.a, m.b);
    });
    return [{ dtype: x!.dtype, shape: x!.shape, scale, elems }];
  },
};

/**
 * Pow with a constant exponent e (one value, broadcast): 1 -> x (free); 0 -> 1; a positive integer e up to
 * 4 whose exact products stay below 2^48 -> e - 1 exact products (1 constraint each; exponent 2 or 3:
 * 1 or 2), then a requantization to the output range unless the value is a graph output; 0.5 -> the Sqrt
 * table; any other e -> a lookup of x^e (float only; NaN for a negative base is the range's bottom). A
 * computed exponent is refused.
 */
function lowerPow(ctx: LowerCtx, [x, e]: Array<QTensor | undefined>): QTensor[] {
  const ec = ctx.constant(1);
  if (!ec) return refuse(ctx, `a computed exponent ('${ctx.node.inputs[1]}') is not supported; only a constant exponent`);
  const values = new Set(ec.data);
  if (values.size !== 1) return refuse(ctx, `the exponent must be one value (got ${[...values].slice(0, 4).join(', ')}...)`);
  const p = ec.data[0];
  const shape = broadcastShapes(ctx.node, [x!.shape, e!.shape]);
  const xt = broadcastTo(x!, shape);
  if (p === 1) return [xt];
  if (p === 0) return [{ dtype: xt.dtype, shape, scale: 1, elems: xt.elems.map(() => constForm(1)) }];
  const xb = ctx.b.tensorBounds(xt);
  const top = Math.max(Math.abs(xb.lo), Math.abs(xb.hi), 1);
  if (Number.isInteger(p) && p >= 2 && p <= 4 && top ** p < 2 ** 48) {
    const elems = xt.elems.map((f) => {
      let acc = f;
      for (let k = 1; k < p; k++) acc = product(ctx.b, acc, f);
      return acc;
    });
    const prods: QTensor = { dtype: xt.dtype, shape, scale: xt.scale ** p, elems };
    const range = xt.dtype === 'int' ? null : outputRange(ctx);
    return [range ? ctx.b.requantize(prods, range) : prods];
  }
  if (xt.dtype === 'int') return refuse(ctx, `an int Pow supports exponents 0 to 4 within exact arithmetic (got ${p})`);
  return [lookup(ctx, xt, p === 0.5 ? Math.sqrt : (v) => v ** p)];
}

/**
 * Mod with a constant divisor c (per element by broadcasting; 0 refused): r = x - c * t with
 * t = floor(x / c) (int, fmod 0) or trunc(x / c) (fmod 1), t exact by findLinearFloor over x's bounds:
 * one DivFloorPow2 (~20-30), plus for fmod with x of both signs a sign comparison (input bits) that
 * turns the floor into a truncation. r = x - c t is an exact form at scale s when every c / s is an
 * integer (ints: always), else at a unit s / 2^12 (error <= |t| s / 2^13).
 */
function lowerMod(ctx: LowerCtx, [x, d]: Array<QTensor | undefined>): QTensor[] {
  const dc = ctx.constant(1);
  if (!dc) return refuse(ctx, `a computed divisor ('${ctx.node.inputs[1]}') is not supported; only a constant divisor`);
  if (dc.data.some((v) => v === 0)) return refuse(ctx, 'the divisor has a zero element');
  const fmod = ctx.attrs.int('fmod', 0) === 1;
  const shape = broadcastShapes(ctx.node, [x!.shape, d!.shape]);
  const xt = broadcastTo(x!, shape);
  const dmap = broadcastIndex(shape, d!.shape);
  const s = xt.scale;
  const xb = ctx.b.tensorBounds(xt);
  const ratios = Array.from(dc.data, (c) => Math.abs(c) / s);
  const exact = ratios.every((r) => Math.abs(r - Math.round(r)) < 1e-9 * r);
  const unit = exact ? s : s / 2 ** 12;
  const truncs = new Map<number, (f: Form) => Form>();
  const truncOf = (c: number): ((f: Form) => Form) => {
    const cached = truncs.get(c);
    if (cached) return cached;
    const trunc = (q: number) => (fmod ? Math.trunc : Math.floor)((q * s) / c);
    let fn: ((f: Form) => Form) | undefined;
    const direct = findLinearFloor(xb.lo, xb.hi, s / c, trunc);
    if (direct) fn = (f) => linearFloorForm(ctx, f, direct);
    else if (fmod) {
      // trunc = floor + 1 where x / c < 0 (and x / c is not an integer): the floor of the rest, plus the sign test.
      const negative = (q: number) => (c > 0 ? q < 0 : q > 0);
      const rest = findLinearFloor(xb.lo, xb.hi, s / c, (q) => trunc(q) - (negative(q) ? 1 : 0));
      if (rest) fn = (f) => addForms(linearFloorForm(ctx, f, rest), c > 0 ? less(ctx.b, f, 1, constForm(0), 1) : less(ctx.b, constForm(0), 1, f, 1));
    }
    if (!fn) return refuse(ctx, `no exact integer construction of ${fmod ? 'trunc' : 'floor'}(x / ${c}) at input scale ${s}`);
    truncs.set(c, fn);
    return fn;
  };
  const elems = xt.elems.map((f, i) => {
    const c = dc.data[dmap[i]];
    const t = truncOf(c)(f);
    return addForms(scaleForm(f, Math.round(s / unit)), scaleForm(t, Math.sign(c) * Math.round(Math.abs(c) / unit)), -1);
  });
  return [{ dtype: xt.dtype, shape, scale: xt.dtype === 'int' ? 1 : unit, elems }];
}

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
  lower: lowerPow,
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
  lower: lowerMod,
};

/** Clip's bounds: inputs 1 and 2 from opset 11 (either may be absent), attributes min and max before. */
function clipBounds(ctx: OpCtx, inputs: ReadonlyArray<{ value?: Tensor; data?: Float64Array; shape: number[] } | undefined>, evaluating: boolean): [number, number] {
  if (ctx.opset < 11) return [ctx.attrs.float('min', -3.4028234663852886e38), ctx.attrs.float('max', 3.4028234663852886e38)];
  for (const name of ['min', 'max']) ctx.attrs.require(name, !ctx.attrs.has(name), 'from opset 11 the bounds are inputs');
  const bound = (i: number, fallback: number): number => {
    const inp = inputs[i];
    if (!inp) return fallback;
    if (inp.shape.reduce((a, b) => a * b, 1) !== 1)
      fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: the ${i === 1 ? 'min' : 'max'} input must be a scalar (got shape [${inp.shape}])`);
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
  // Exact clamps in integers: thresholds ceil(lo / s) and floor(hi / s) (the output at a bound is within
  // one input unit s of it; exact for ints), one clamp per active side (RequantReluClamp with M = 1:
  // input bits + 1..4 each); a side the bounds never reach, or an absent bound, costs nothing.
  lower(ctx, [x]) {
    let lo: number;
    let hi: number;
    if (ctx.opset < 11) [lo, hi] = clipBounds(ctx, [], true);
    else {
      const bound = (i: number, fallback: number) => {
        if (ctx.node.inputs[i] === undefined || ctx.node.inputs[i] === '') return fallback;
        const c = ctx.constant(i);
        if (!c) return refuse(ctx, `the ${i === 1 ? 'min' : 'max'} bound ('${ctx.node.inputs[i]}') must be a constant, but it is computed by the graph`);
        return c.data[0];
      };
      [lo, hi] = [bound(1, -Infinity), bound(2, Infinity)];
    }
    const s = x!.scale;
    const L = Math.ceil(lo / s - 1e-9);
    const H = Math.floor(hi / s + 1e-9);
    if (L > H) return [ctx.b.map(x!, () => constForm(Math.round(hi / s)))];
    return [ctx.b.map(x!, (f) => clampForm(ctx, f, L, H))];
  },
};

export const nonlinearOps: OpDef[] = [...unaries, prelu, pow, mod, clip];
