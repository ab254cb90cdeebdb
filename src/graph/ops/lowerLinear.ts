/**
 * Lowering shared by the linear op family: outputs that are sums of products of two operands (Gemm,
 * MatMul, Conv with computed weights) or of one operand with constant weights (everything else).
 */
import type { RealForm } from '../quant/builder.js';
import { product } from '../quant/composite.js';
import type { LowerCtx, QTensor } from '../quant/qtensor.js';

/** The requantization target of output k: null (exact accumulators) for a graph output no node reads. */
export function outputRange(ctx: LowerCtx, k = 0) {
  return ctx.graphOutputOnly(k) && ctx.node.attrs.__act === undefined ? null : ctx.b.rangeFor(ctx.outStats(k));
}

/**
 * out[o] = sum over (ia, ib, w) of w * a[ia] * b[ib], plus an optional extra term w * c[ic].
 * When a or b is constant (weights), each product is a term of a linear form; otherwise every product is
 * a Mul primitive (1 constraint) at scale sa * sb, summed exactly, then requantized.
 */
export function lowerBilinear(
  ctx: LowerCtx,
  a: QTensor,
  b: QTensor,
  shape: number[],
  terms: (o: number) => Array<[number, number, number]>,
  extra?: (o: number) => [QTensor, number, number],
): QTensor {
  const count = shape.reduce((x, y) => x * y, 1);
  const wa = ctx.constant(0);
  const wb = ctx.constant(1);
  const range = outputRange(ctx);
  const dtype = a.dtype === 'int' && b.dtype === 'int' ? 'int' : 'float';
  if (wa || wb) {
    // One side is a constant: its float values are the weights of a linear form over the other side.
    const forms: RealForm[] = Array.from({ length: count }, (_, o) => {
      const f: RealForm = { bias: 0, terms: [] };
      for (const [ia, ib, w] of terms(o)) {
        if (wb) f.terms.push([a, ia, w * wb.data[ib]]);
        else f.terms.push([b, ib, w * wa!.data[ia]]);
      }
      if (extra) {
        const [c, ic, w] = extra(o);
        const cv = ctx.constant(2);
        if (cv) f.bias += w * cv.data[ic];
        else f.terms.push([c, ic, w]);
      }
      return f;
    });
    return ctx.b.linear(dtype, shape, forms, range);
  }
  // Both computed: exact products at scale sa * sb, one Mul each.
  const unit = a.scale * b.scale;
  const prods: QTensor = { dtype, shape, scale: unit, elems: [] };
  const forms: RealForm[] = Array.from({ length: count }, (_, o) => {
    const f: RealForm = { bias: 0, terms: [] };
    const products = terms(o).map(([ia, ib, w]) => {
      prods.elems.push(product(ctx.b, a.elems[ia], b.elems[ib]));
      return [prods, prods.elems.length - 1, w] as [QTensor, number, number];
    });
    f.terms.push(...products);
    if (extra) f.terms.push(extra(o));
    return f;
  });
  return ctx.b.linear(dtype, shape, forms, range);
}
