/**
 * One check for an op's lowering on a small ONNX model, used by every op family's tests:
 * 1. import + passes, calibrate on the samples, lower;
 * 2. the integer reference, dequantized, is within `tolerance` x (largest |output|) of onnxruntime on
 *    every sample (the documented precision of the op's construction);
 * 3. with `circuit`, the compiled circuit's public outputs equal the integer reference bit for bit on
 *    every sample, and its constraint count equals the gadgets' stated counts.
 */
import { expect } from 'vitest';
import { compileCircom } from '../../src/circuit/compile.js';
import { computeWitness, fieldToSigned } from '../../src/circuit/witness.js';
import { programCosts } from '../../src/graph/cost.js';
import { emitGraphCircuit } from '../../src/graph/emit.js';
import { importOnnxGraph } from '../../src/graph/onnx.js';
import { runPasses } from '../../src/graph/passes/index.js';
import { lowerGraph, type LowerOptions, type QProgram, type Sample } from '../../src/graph/quant/lower.js';
import { dequantizeOutputs, quantizeInputs, runProgram } from '../../src/graph/quant/reference.js';
import { loadR1cs } from '../../tools/r1cs.js';
import type { Graph } from '../../src/graph/ir.js';
import { runOnnx } from '../../bench/ort.js';

export interface OpCheck {
  graph: Graph;
  program: QProgram;
  /** Largest error over samples, relative to the largest |onnxruntime output|. */
  relError: number;
  constraints?: number;
}

/** Random samples for a graph's inputs: floats uniform in [lo, hi], ints in [lo, hi], bools 0/1. */
export function randomSamples(graph: Graph, n: number, lo = -2, hi = 2, seed = 1): Sample[] {
  let s = seed;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  return Array.from({ length: n }, () => {
    const m = new Map<string, Float64Array>();
    for (const i of graph.inputs) {
      const count = i.shape.reduce((a, b) => a * b, 1);
      m.set(
        i.name,
        Float64Array.from({ length: count }, () =>
          i.dtype === 'bool' ? (rnd() < 0.5 ? 0 : 1) : i.dtype === 'int' ? Math.floor(lo + rnd() * (hi - lo + 1)) : lo + rnd() * (hi - lo),
        ),
      );
    }
    return m;
  });
}

export async function checkOpModel(
  bytes: Uint8Array,
  options: { samples?: Sample[]; count?: number; range?: [number, number]; tolerance?: number; circuit?: boolean; lower?: LowerOptions; artifactsDir?: string } = {},
): Promise<OpCheck> {
  const graph = runPasses(importOnnxGraph(bytes, 'op'));
  const samples = options.samples ?? randomSamples(graph, options.count ?? 8, ...(options.range ?? [-2, 2]));
  const program = lowerGraph(graph, samples, options.lower);
  let err = 0;
  let top = 0;
  for (const sample of samples) {
    const ort = await runOnnx(bytes, Object.fromEntries(graph.inputs.map((i) => [i.name, { shape: i.shape, data: sample.get(i.name)! }])));
    const got = dequantizeOutputs(program, runProgram(program, quantizeInputs(program, sample)));
    got.forEach((o) => {
      const want = ort[o.name].data;
      expect(o.values.length, `output ${o.name} length`).toBe(want.length);
      o.values.forEach((v, i) => {
        err = Math.max(err, Math.abs(v - want[i]));
        top = Math.max(top, Math.abs(want[i]));
      });
    });
  }
  const relError = top > 0 ? err / top : err;
  expect(relError, 'quantized vs onnxruntime, relative to the largest output').toBeLessThanOrEqual(options.tolerance ?? 0.02);
  let constraints: number | undefined;
  if (options.circuit) {
    const compiled = await compileCircom(emitGraphCircuit(program).source, { name: 'op', artifactsDir: options.artifactsDir });
    constraints = compiled.constraints;
    expect((await loadR1cs(compiled.r1csPath)).constraints.length, "constraints = the gadgets' stated counts").toBe(programCosts(program).total);
    const nOut = program.outputs.reduce((a, o) => a + o.elems.length, 0);
    for (const sample of samples) {
      const x = quantizeInputs(program, sample);
      const w = await computeWitness(compiled.wasmPath, { x });
      expect(
        w.slice(1, 1 + nOut).map((v) => Number(fieldToSigned(v))),
        'circuit == integer reference',
      ).toEqual(runProgram(program, x));
    }
  }
  return { graph, program, relError, constraints };
}
