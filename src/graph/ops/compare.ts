/**
 * Comparisons and logic (bool outputs), Where, the variadic Max/Min, ReduceMax/ReduceMin and
 * ArgMax/ArgMin (int outputs). MaxPool and GlobalMaxPool are in pool.ts with the other pools.
 */
import { fail } from '../../util/errors.js';
import { nodeLabel, type DType, type Tensor } from '../ir.js';
import { broadcastShapes, map1, mapN, need, normAxis, reduceBy, reducedShape, requireDtype } from './broadcast.js';
import { lowerArg, lowerCompare, lowerLogic, lowerMaxMin, lowerReduceMax, lowerWhere, type CompareKind } from './lowerCompare.js';
import { reduceOp } from './reduce.js';
import type { OpCtx, OpDef, OpInput } from './types.js';

function arity(ctx: OpCtx, inputs: ReadonlyArray<unknown>, min: number, max: number): void {
  if (inputs.length < min || inputs.length > max || inputs.some((x) => x === undefined)) {
    fail('UNSUPPORTED_LAYER', `${nodeLabel(ctx.node)}: takes ${min === max ? min : `${min} or more`} inputs (got ${inputs.length})`);
  }
}

/** A broadcasting n-ary op; `out` picks the output dtype from the first input's. */
function nary(op: string, min: number, max: number, accepts: DType[], out: (first: DType) => DType, fn: (xs: number[]) => number): OpDef {
  return {
    op,
    infer(ctx, inputs) {
      arity(ctx, inputs, min, max);
      const xs = inputs as OpInput[];
      xs.forEach((x, i) => requireDtype(ctx, x, accepts, `input ${i}`));
      return [
        {
          dtype: out(xs[0].dtype),
          shape: broadcastShapes(
            ctx.node,
            xs.map((x) => x.shape),
          ),
        },
      ];
    },
    evalFloat(ctx, inputs) {
      arity(ctx, inputs, min, max);
      const xs = inputs as Tensor[];
      return [mapN(ctx.node, out(xs[0].dtype), xs, fn)];
    },
  };
}

const NUM: DType[] = ['float', 'int'];
const toBool = () => 'bool' as const;
const same = (d: DType) => d;
const b = (v: boolean) => (v ? 1 : 0);

// Lowering (lowerCompare.ts): exact thresholds against constants (one LessThan of the other side's
// width, none when the bounds decide), composite.less/equal at a common scale for two computed values;
// Equal costs 2 (IsEqual), 1 on booleans (XNOR).
const compare = (op: CompareKind, fn: (x: number, y: number) => boolean, accepts = NUM): OpDef => ({
  ...nary(op, 2, 2, accepts, toBool, ([x, y]) => b(fn(x, y))),
  lower: (ctx, inputs) => [lowerCompare(ctx, inputs, op)],
});
// Lowering: exact products of 0/1 values, And = xy, Or = x + y - xy, Xor = x + y - 2xy: 1 constraint per
// element (0 with a constant operand).
const logic = (op: 'And' | 'Or' | 'Xor', fn: (x: boolean, y: boolean) => boolean): OpDef => ({
  ...nary(op, 2, 2, ['bool'], toBool, ([x, y]) => b(fn(x !== 0, y !== 0))),
  lower: (ctx, inputs) => [lowerLogic(ctx, inputs, op)],
});

const not: OpDef = {
  op: 'Not',
  infer(ctx, inputs) {
    const x = need(ctx, inputs, 0);
    requireDtype(ctx, x, ['bool']);
    return [{ dtype: 'bool', shape: [...x.shape] }];
  },
  evalFloat: (ctx, inputs) => [map1(need(ctx, inputs, 0), 'bool', (v) => b(v === 0))],
  // 1 - x: exact and free.
  lower: (ctx, inputs) => [lowerLogic(ctx, inputs, 'Not')],
};

const where: OpDef = {
  op: 'Where',
  infer(ctx, inputs) {
    arity(ctx, inputs, 3, 3);
    const [c, x, y] = inputs as OpInput[];
    requireDtype(ctx, c, ['bool'], 'condition');
    return [{ dtype: x.dtype, shape: broadcastShapes(ctx.node, [c.shape, x.shape, y.shape]) }];
  },
  evalFloat(ctx, inputs) {
    arity(ctx, inputs, 3, 3);
    const ts = inputs as Tensor[];
    return [mapN(ctx.node, ts[1].dtype, ts, ([c, x, y]) => (c !== 0 ? x : y))];
  },
  // y + c (x - y) at the common scale of x and y (constants re-rounded to it; both constant: an exact
  // power-of-two scale when there is one): 1 product per element, 0 for a constant c or constant x - y.
  lower: (ctx, inputs) => [lowerWhere(ctx, inputs)],
};

const argPlan = (ctx: OpCtx, shape: readonly number[]) => {
  const { attrs } = ctx;
  const keepdims = attrs.int('keepdims', 1);
  const last = attrs.int('select_last_index', 0);
  attrs.require('keepdims', keepdims === 0 || keepdims === 1, 'keepdims is 0 or 1');
  attrs.require('select_last_index', last === 0 || last === 1, 'select_last_index is 0 or 1');
  const axis = normAxis(ctx, attrs.int('axis', 0), shape.length);
  return { axis, keepdims: keepdims === 1, last: last === 1 };
};

function argOp(op: string, better: (a: number, b: number) => boolean): OpDef {
  return {
    op,
    infer(ctx, inputs) {
      const x = need(ctx, inputs, 0);
      requireDtype(ctx, x, NUM);
      const p = argPlan(ctx, x.shape);
      return [{ dtype: 'int', shape: reducedShape(x.shape, [p.axis], p.keepdims) }];
    },
    evalFloat(ctx, inputs) {
      const x = need(ctx, inputs, 0);
      const p = argPlan(ctx, x.shape);
      return [
        reduceBy(x, [p.axis], p.keepdims, 'int', (v) => {
          let k = 0;
          for (let i = 1; i < v.length; i++) if (better(v[i], v[k]) || (p.last && v[i] === v[k])) k = i;
          return k;
        }),
      ];
    },
    // The ArgMax primitive over each group (negated forms for ArgMin; reversed for select_last_index):
    // exact, n * (b + 2) constraints per group of n values of b signed bits. Output int at scale 1.
    lower(ctx, inputs) {
      const x = inputs[0]!;
      const p = argPlan(ctx, x.shape);
      return [lowerArg(ctx, x, op === 'ArgMin', p.axis, p.keepdims, p.last)];
    },
  };
}

const maxOf = (v: ArrayLike<number>) => {
  let m = -Infinity;
  for (let i = 0; i < v.length; i++) if (v[i] > m || Number.isNaN(v[i])) m = v[i];
  return m;
};
const minOf = (v: ArrayLike<number>) => {
  let m = Infinity;
  for (let i = 0; i < v.length; i++) if (v[i] < m || Number.isNaN(v[i])) m = v[i];
  return m;
};

export const compareOps: OpDef[] = [
  compare('Less', (x, y) => x < y),
  compare('LessOrEqual', (x, y) => x <= y),
  compare('Greater', (x, y) => x > y),
  compare('GreaterOrEqual', (x, y) => x >= y),
  compare('Equal', (x, y) => x === y, ['float', 'int', 'bool']),
  not,
  logic('And', (x, y) => x && y),
  logic('Or', (x, y) => x || y),
  logic('Xor', (x, y) => x !== y),
  where,
  // Max/Min: MaxOfN per element over the inputs at their common scale (Min = -max(-x)): exact;
  // (n - 1) * (b + 2) constraints, b the bits of the spread of the inputs' bounds.
  { ...nary('Max', 1, Infinity, NUM, same, maxOf), lower: (ctx, inputs) => [lowerMaxMin(ctx, inputs, false)] },
  { ...nary('Min', 1, Infinity, NUM, same, minOf), lower: (ctx, inputs) => [lowerMaxMin(ctx, inputs, true)] },
  // ReduceMax/ReduceMin: MaxOfN over each group, exact; (n - 1) * (b + 2) per group of n.
  { ...reduceOp({ op: 'ReduceMax', fn: maxOf, dtypes: ['float', 'int', 'bool'] }), lower: (ctx, inputs) => [lowerReduceMax(ctx, inputs[0]!, false)] },
  { ...reduceOp({ op: 'ReduceMin', fn: minOf, dtypes: ['float', 'int', 'bool'] }), lower: (ctx, inputs) => [lowerReduceMax(ctx, inputs[0]!, true)] },
  argOp('ArgMax', (a, c) => a > c),
  argOp('ArgMin', (a, c) => a < c),
];
