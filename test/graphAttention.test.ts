import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { programCosts } from '../src/graph/cost.js';
import { checkOpModel } from './helpers/graphCheck.js';
import { OnnxGraphBuilder } from './helpers/onnxGraph.js';

/**
 * Multi-head self-attention with a causal mask, written with the project's ONNX writer, against
 * onnxruntime: the mask as Where(constant condition, -inf or -1e9, scores) or as scores + a constant
 * 0 / -1e9 matrix, the condition from Trilu of a constant. Masked scores are exactly 0 in the circuit's
 * softmax (composite.ts: constants far below every computed score) and cost nothing.
 */
const artifactsDir = mkdtempSync(path.join(tmpdir(), 'zkinfer-attn-'));
afterAll(() => rmSync(artifactsDir, { recursive: true, force: true }));

let seed = 5;
const rnd = (n: number, s = 1) => Array.from({ length: n }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 2 * s);

export type MaskKind = 'where-inf' | 'where-1e9' | 'add-1e9' | 'none';

/** x [1, T, D] -> H-head causal self-attention -> output projection [1, T, D]. */
export function causalAttention(T: number, D: number, H: number, mask: MaskKind): Uint8Array {
  const g = new OnnxGraphBuilder('attn');
  const dh = D / H;
  g.input('x', 'float', [1, T, D]);
  for (const w of ['wq', 'wk', 'wv', 'wo']) g.initializer(w, 'float', [D, D], rnd(D * D, 0.6));
  g.initializer('heads', 'int64', [4], [1, T, H, dh]);
  g.initializer('merged', 'int64', [3], [1, T, D]);
  g.initializer('scale', 'float', [], [1 / Math.sqrt(dh)]);
  const head = (w: string) => {
    const [p] = g.node('MatMul', ['x', w]);
    const [r] = g.node('Reshape', [p, 'heads']);
    return g.node('Transpose', [r], undefined, { perm: [0, 2, 1, 3] })[0];
  };
  const [q, k, v] = [head('wq'), head('wk'), head('wv')];
  const [kt] = g.node('Transpose', [k], undefined, { perm: [0, 1, 3, 2] });
  const [qk] = g.node('MatMul', [q, kt]);
  let [scores] = g.node('Mul', [qk, 'scale']);
  if (mask !== 'none') {
    g.initializer('ones', 'float', [T, T], new Array(T * T).fill(1));
    g.initializer('zero', 'float', [], [0]);
    const [tril] = g.node('Trilu', ['ones'], undefined, { upper: 0 });
    const [future] = g.node('Equal', [tril, 'zero']);
    if (mask === 'add-1e9') {
      g.initializer('big', 'float', [], [-1e9]);
      const [m] = g.node('Where', [future, 'big', 'zero']);
      [scores] = g.node('Add', [scores, m]);
    } else {
      g.initializer('neg', 'float', [], [mask === 'where-inf' ? -Infinity : -1e9]);
      [scores] = g.node('Where', [future, 'neg', scores]);
    }
  }
  const [att] = g.node('Softmax', [scores], undefined, { axis: -1 });
  const [ctxv] = g.node('MatMul', [att, v]);
  const [tr] = g.node('Transpose', [ctxv], undefined, { perm: [0, 2, 1, 3] });
  const [mg] = g.node('Reshape', [tr, 'merged']);
  g.node('MatMul', [mg, 'wo'], ['y']);
  g.output('y', 'float', [1, T, D]);
  return g.encode();
}

describe('causal multi-head attention', () => {
  for (const mask of ['where-inf', 'where-1e9', 'add-1e9'] as const) {
    it(`mask as ${mask}: within 2% of onnxruntime, circuit == reference, masked scores cost nothing`, async () => {
      const { program, relError } = await checkOpModel(causalAttention(5, 8, 2, mask), { circuit: mask === 'where-inf', artifactsDir, count: 6, tolerance: 0.02 });
      expect(relError).toBeLessThan(0.02);
      // 2 heads x 5 rows: row t multiplies only the t + 1 positions it may see (row 0: the constant 1).
      const softmax = programCosts(program).nodes.find((n) => /softmax/i.test(n.node))!;
      expect(softmax.gadgets.Mul).toBe(2 * (2 + 3 + 4 + 5));
    }, 240_000);
  }
});

describe('Trilu', () => {
  it('upper and lower triangles of a computed batch of matrices, k from an input: exact and free', async () => {
    const g = new OnnxGraphBuilder('trilu');
    g.input('x', 'float', [2, 3, 4]);
    g.initializer('k1', 'int64', [], [1]);
    g.initializer('km1', 'int64', [], [-1]);
    g.node('Trilu', ['x'], ['u']);
    g.node('Trilu', ['x', 'k1'], ['l'], { upper: 0 });
    g.node('Trilu', ['x', 'km1'], ['u2'], { upper: 1 });
    for (const o of ['u', 'l', 'u2']) g.output(o, 'float', [2, 3, 4]);
    const { program } = await checkOpModel(g.encode(), { circuit: true, artifactsDir, count: 4, tolerance: 0.01 });
    expect(programCosts(program).nodes).toEqual([]);
  }, 120_000);
});
