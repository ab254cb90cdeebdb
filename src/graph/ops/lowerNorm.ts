/**
 * Normalization over contiguous groups of elements (InstanceNormalization: each (n, c) plane;
 * LayerNormalization: everything from `axis` on), then a constant per-element affine map.
 */
import { addForms, product, scaleForm } from '../quant/composite.js';
import { signedBits } from '../quant/prims.js';
import type { Form, LowerCtx, QTensor } from '../quant/qtensor.js';
import { lowerAffine, weightedSum } from './lowerLinear.js';

/**
 * y[o] = (x[o] - mean) / sqrt(var + eps) * scale(o) + bias(o), mean and var over o's group of m.
 * Per group: S = sum x (exact), centred d = m x - S (exact, scale s / m), requantized to
 * activationBits + 4 bits over +-(calibrated spread of x) when wider; V = sum d^2 (one Mul each, exact);
 * r = 1 / sqrt(V / m + eps) by one lookup, its domain requantized to lookupBits over [0, (spread / 2)^2]
 * (the largest variance of values in the calibrated range) and its table at activationBits + 8 bits;
 * y = d * r (one Mul) then the affine map, one requantization onto the calibrated output range.
 * Precision: the lookup's domain step, relative error of r about (spread / 2)^2 / 2^(lookupBits + 2) / var
 * (0.3% for uniform data at 8 bits; worse for groups whose variance is far below the calibrated
 * spread's: widen with --lookup-bits). Constraints per element: 2 requantizations + 2 Mul; per group:
 * 1 requantization + 1 lookup.
 */
export function lowerGroupNorm(ctx: LowerCtx, q: QTensor, inner: number, eps: number, scale: (o: number) => number, bias: (o: number) => number): QTensor {
  const b = ctx.b;
  const groups = q.elems.length / inner;
  const xs = ctx.inStats(0);
  const spread = Math.max(xs.max - xs.min, q.scale);
  const B = b.options.activationBits + 4;
  const dElems: Form[] = [];
  for (let g = 0; g < groups; g++) {
    const S = weightedSum(Array.from({ length: inner }, (_, i) => [q.elems[g * inner + i], 1]));
    for (let i = 0; i < inner; i++) dElems.push(addForms(scaleForm(q.elems[g * inner + i], inner), S, -1));
  }
  let d: QTensor = { dtype: 'float', shape: q.shape, scale: q.scale / inner, elems: dElems };
  const db = b.tensorBounds(d);
  if (signedBits(db.lo, db.hi) > B) d = b.requantize(d, b.rangeFor({ min: -spread, max: spread, absMax: spread }, B));
  const V: QTensor = {
    dtype: 'float',
    shape: [groups],
    scale: (d.scale * d.scale) / inner,
    elems: Array.from({ length: groups }, (_, g) => weightedSum(Array.from({ length: inner }, (_, i) => [product(b, d.elems[g * inner + i], d.elems[g * inner + i]), 1]))),
  };
  const varMax = (spread / 2) ** 2;
  const step = varMax / (2 ** b.options.lookupBits - 1);
  const R = b.options.activationBits + 8;
  const rTop = 1 / Math.sqrt(step / 2 + eps);
  const r = b.unary(V, { min: 0, max: varMax, absMax: varMax }, (v) => 1 / Math.sqrt(Math.max(v, 0) + eps), { scale: rTop / (2 ** R - 1), lo: 0, bits: R });
  const y: QTensor = { dtype: 'float', shape: q.shape, scale: d.scale * r.scale, elems: d.elems.map((f, i) => product(b, f, r.elems[Math.floor(i / inner)])) };
  const identity = Int32Array.from({ length: y.elems.length }, (_, i) => i);
  return lowerAffine(ctx, y, identity, q.shape, scale, bias, true);
}
