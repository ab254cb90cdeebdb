import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OnnxGraphBuilder, f } from './helpers/onnxGraph.js';
import { checkOpModel } from './helpers/graphCheck.js';

const artifactsDir = mkdtempSync(path.join(tmpdir(), 'zkinfer-linear-'));
afterAll(() => rmSync(artifactsDir, { recursive: true, force: true }));

let seed = 7;
const rnd = (n: number, s = 1) => Array.from({ length: n }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 2 * s);

describe('Gemm lowering', () => {
  it('Gemm + Relu + Gemm (transB, bias, fused Relu): within 2% of onnxruntime, circuit == reference', async () => {
    const g = new OnnxGraphBuilder('mlp');
    g.input('x', 'float', ['batch', 6]);
    g.initializer('w1', 'float', [5, 6], rnd(30));
    g.initializer('b1', 'float', [5], rnd(5));
    g.initializer('w2', 'float', [5, 3], rnd(15));
    const [h] = g.node('Gemm', ['x', 'w1', 'b1'], undefined, { transB: 1 });
    const [r] = g.node('Relu', [h]);
    g.node('Gemm', [r, 'w2'], ['y'], { alpha: f(0.5) });
    g.output('y', 'float', ['batch', 3]);
    const { program, constraints } = await checkOpModel(g.encode(), { circuit: true, artifactsDir });
    expect(program.prims.filter((p) => p.kind === 'requant').length).toBe(5); // the Relu costs nothing extra
    expect(constraints).toBeGreaterThan(0);
  });

  it('Gemm of two computed inputs (products) and transA', async () => {
    const g = new OnnxGraphBuilder('gemm2');
    g.input('a', 'float', [3, 2]);
    g.input('b', 'float', [3, 4]);
    g.node('Gemm', ['a', 'b'], ['y'], { transA: 1 });
    g.output('y', 'float', [2, 4]);
    await checkOpModel(g.encode(), { circuit: true, artifactsDir });
  });
});
