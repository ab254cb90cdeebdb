import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { importOnnxGraph } from '../src/graph/onnx.js';
import { runPasses } from '../src/graph/passes/index.js';
import { lowerGraph } from '../src/graph/quant/lower.js';
import { checkOpModel, randomSamples } from './helpers/graphCheck.js';
import { expectZkinferError } from './helpers/errors.js';
import { OnnxGraphBuilder } from './helpers/onnxGraph.js';

const artifactsDir = mkdtempSync(path.join(tmpdir(), 'zkinfer-widths-'));
afterAll(() => rmSync(artifactsDir, { recursive: true, force: true }));

/** x -> Sigmoid (node 'sig', tensor s) -> Tanh (node 'th', tensor y). */
function chain(): Uint8Array {
  const g = new OnnxGraphBuilder('chain', { opset: 17 });
  g.input('x', 'float', [1, 6]);
  g.node('Sigmoid', ['x'], ['s'], {}, { name: 'sig' });
  g.node('Tanh', ['s'], ['y'], {}, { name: 'th' });
  g.output('y', 'float', [1, 6]);
  return g.encode();
}

const lookupBits = (program: ReturnType<typeof lowerGraph>) => program.prims.filter((p) => p.kind === 'lookup').map((p) => (p as { bits: number }).bits);

describe('per-tensor widths', () => {
  const graph = runPasses(importOnnxGraph(chain(), 'chain'));
  const samples = randomSamples(graph, 8, -4, 4);

  it('lower only the named node (by tensor or node name) at the given widths', () => {
    expect(lookupBits(lowerGraph(graph, samples))).toEqual(Array(12).fill(8));
    expect(lookupBits(lowerGraph(graph, samples, { tensors: { s: { lookupBits: 11 } } }))).toEqual([...Array(6).fill(11), ...Array(6).fill(8)]);
    // Tanh's domain is s's own 8-bit integers (exact already); its output width follows activationBits.
    const wide = lowerGraph(graph, samples, { tensors: { th: { activationBits: 12 } } });
    expect(lookupBits(wide)).toEqual(Array(12).fill(8));
    expect(lowerGraph(graph, samples).outputs[0].scale / wide.outputs[0].scale).toBeCloseTo(2 ** 4, 0);
  });

  it('refuses a name that is no node or computed tensor', () => {
    expectZkinferError(() => lowerGraph(graph, samples, { tensors: { nope: { activationBits: 12 } } }), 'BAD_INPUT', "per-tensor widths name 'nope'");
  });

  it('a widened tensor is still proved bit for bit and is closer to onnxruntime', async () => {
    const base = await checkOpModel(chain(), { samples, tolerance: 0.03 });
    const wide = await checkOpModel(chain(), {
      samples,
      tolerance: 0.03,
      circuit: true,
      artifactsDir,
      lower: { tensors: { s: { activationBits: 12, lookupBits: 12 }, y: { lookupBits: 12 } } },
    });
    expect(wide.relError).toBeLessThan(base.relError);
  });
});
