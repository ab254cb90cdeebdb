import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { programCosts } from '../src/graph/cost.js';
import { checkOpModel } from './helpers/graphCheck.js';
import { causalAttention } from '../bench/sequenceModels.js';
import { OnnxGraphBuilder } from './helpers/onnxGraph.js';

/**
 * Multi-head self-attention with a causal mask, written with the project's ONNX writer, against
 * onnxruntime: the mask as Where(constant condition, -inf or -1e9, scores) or as scores + a constant
 * 0 / -1e9 matrix, the condition from Trilu of a constant. Masked scores are exactly 0 in the circuit's
 * softmax (composite.ts: constants far below every computed score) and cost nothing.
 */
const artifactsDir = mkdtempSync(path.join(tmpdir(), 'zkinfer-attn-'));
afterAll(() => rmSync(artifactsDir, { recursive: true, force: true }));

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
