import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkWitness, loadR1cs, loadSymbols } from '../tools/r1cs.js';
import { computeWitness } from '../src/circuit/witness.js';
import { importOnnxGraph } from '../src/graph/onnx.js';
import { runPasses } from '../src/graph/passes/index.js';
import { buildGraphModel, compileGraphProgram, instanceTerms, LINK_AUTO_TERMS, proveGraph, proveGraphBatch, type GraphCompileOptions } from '../src/graph/pipeline.js';
import { graphInstances } from '../src/graph/instances.js';
import { linkedWitness } from '../src/graph/link/index.js';
import { lowerGraph, type Sample } from '../src/graph/quant/lower.js';
import { quantizeInputs } from '../src/graph/quant/reference.js';
import type { Graph } from '../src/graph/ir.js';
import { verify } from '../src/verify/index.js';
import { canonicalConstraints, keptNames, wtnsValues } from './helpers/r1csCompare.js';
import { ZkinferError } from '../src/util/errors.js';
import { OnnxGraphBuilder } from './helpers/onnxGraph.js';

/**
 * The linker (src/graph/link) against circom on small graph models: the same counts, the same
 * constraint system (identical as sets of constraints over named wires), a linked witness that
 * satisfies the linked r1cs with circom's public signals, a tampered bit that does not, and Groth16
 * proofs over linked circuits that verify.
 */
const artifactsDir = mkdtempSync(path.join(tmpdir(), 'zkinfer-link-'));
afterAll(() => rmSync(artifactsDir, { recursive: true, force: true }));

let seed = 7;
const rnd = (n: number, s = 1) => Array.from({ length: n }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 2 * s);

function samples(graph: Graph, n: number): Sample[] {
  return Array.from(
    { length: n },
    () =>
      new Map(
        graph.inputs.map((i) => [
          i.name,
          Float64Array.from(
            rnd(
              i.shape.reduce((a, b) => a * b, 1),
              2,
            ),
          ),
        ]),
      ),
  );
}

/** Conv 2@3x3 -> Relu -> Flatten -> Gemm -> Softmax (a class circuit with exp lookups and divisions). */
function convSoftmax(): Uint8Array {
  const g = new OnnxGraphBuilder('conv');
  g.input('x', 'float', [1, 1, 4, 4]);
  g.initializer('k', 'float', [2, 1, 3, 3], rnd(18));
  g.initializer('kb', 'float', [2], rnd(2, 0.2));
  g.initializer('w', 'float', [3, 8], rnd(24));
  const [c] = g.node('Conv', ['x', 'k', 'kb'], undefined, { kernel_shape: [3, 3] });
  const [r] = g.node('Relu', [c]);
  const [f] = g.node('Flatten', [r]);
  const [z] = g.node('Gemm', [f, 'w'], undefined, { transB: 1 });
  g.node('Softmax', [z], ['y'], { axis: 1 });
  g.output('y', 'float', [1, 3]);
  return g.encode();
}

/** 3 -> 4 Gemm -> Sigmoid (a lookup) -> 2 MatMul -> Div by a computed value (a DivFloor). */
function sigmoidDiv(): Uint8Array {
  const g = new OnnxGraphBuilder('sigdiv');
  g.input('x', 'float', [1, 3]);
  g.initializer('w1', 'float', [4, 3], rnd(12));
  g.initializer('b1', 'float', [4], rnd(4, 0.2));
  g.initializer('w2', 'float', [4, 2], rnd(8));
  g.initializer('one', 'float', [1], [1.5]);
  const [h] = g.node('Gemm', ['x', 'w1', 'b1'], undefined, { transB: 1 });
  const [s] = g.node('Sigmoid', [h]);
  const [z] = g.node('MatMul', [s, 'w2']);
  const [sq] = g.node('Mul', [s, s]);
  const [den] = g.node('ReduceSum', [sq], undefined, { keepdims: 1 });
  const [d] = g.node('Add', [den, 'one']);
  g.node('Div', [z, d], ['y']);
  g.output('y', 'float', [1, 2]);
  return g.encode();
}

/**
 * Conv + Relu -> MaxPool (fused: max of accumulators, one requantization per window) -> Conv -> x * x + x
 * (kept as a form) -> Flatten -> Gemm: the cost-per-activation constructions.
 */
function poolPoly(): Uint8Array {
  const g = new OnnxGraphBuilder('poolpoly');
  g.input('x', 'float', [1, 1, 6, 6]);
  g.initializer('k1', 'float', [2, 1, 3, 3], rnd(18));
  g.initializer('k2', 'float', [2, 2, 2, 2], rnd(16));
  g.initializer('w', 'float', [3, 2], rnd(6));
  const [c] = g.node('Conv', ['x', 'k1']);
  const [r] = g.node('Relu', [c]);
  const [p] = g.node('MaxPool', [r], undefined, { kernel_shape: [2, 2], strides: [2, 2] });
  const [c2] = g.node('Conv', [p, 'k2']);
  const [sq] = g.node('Mul', [c2, c2]);
  const [a] = g.node('Add', [sq, c2]);
  const [f] = g.node('Flatten', [a]);
  g.node('Gemm', [f, 'w'], ['y'], { transB: 1 });
  g.output('y', 'float', [1, 3]);
  return g.encode();
}

const MODELS = [
  { name: 'conv + relu + max pool on accumulators, x * x + x kept as a form', bytes: poolPoly, options: {} },
  { name: 'conv + softmax (class), public input', bytes: convSoftmax, options: {} },
  { name: 'conv + softmax, private input, class only, batch 2', bytes: convSoftmax, options: { visibility: { input: 'private', output: 'class' }, batch: 2 } },
  { name: 'sigmoid lookup + mul + division, private input', bytes: sigmoidDiv, options: { visibility: { input: 'private', output: 'logits' } } },
  { name: 'sigmoid lookup + mul + division, batch 2', bytes: sigmoidDiv, options: { batch: 2 } },
] satisfies Array<{ name: string; bytes: () => Uint8Array; options: GraphCompileOptions }>;

async function both(bytes: Uint8Array, options: GraphCompileOptions) {
  const graph = runPasses(importOnnxGraph(bytes, 'm'));
  const calibration = samples(graph, 6);
  const program = lowerGraph(graph, calibration);
  const circom = await compileGraphProgram(program, { ...options, graph, artifactsDir, emit: 'circom' });
  const linked = await compileGraphProgram(program, { ...options, graph, artifactsDir, emit: 'linked' });
  return { graph, program, calibration, circom, linked };
}

describe('linker == circom on small graph models', () => {
  for (const m of MODELS) {
    it(
      m.name,
      async () => {
        const { program, calibration, circom, linked } = await both(m.bytes(), m.options);
        expect(circom.linked).toBeUndefined();
        expect(linked.linked).toBeDefined();
        const counts = (c: typeof circom.circuit) => [c.constraints, c.wires, c.outputs, c.publicInputs, c.privateInputs];
        expect(counts(linked.circuit)).toEqual(counts(circom.circuit));
        expect(linked.layout).toEqual(circom.layout);

        // The same constraint system, constraint for constraint, over the same named wires.
        const [cNames, lNames] = await Promise.all([keptNames(circom.circuit.symPath), keptNames(linked.circuit.symPath)]);
        const [cSet, lSet] = await Promise.all([
          canonicalConstraints(circom.circuit.r1csPath, circom.circuit.symPath, lNames),
          canonicalConstraints(linked.circuit.r1csPath, linked.circuit.symPath, cNames),
        ]);
        expect(new Set(lSet).size).toBe(lSet.length);
        expect([...lSet].sort()).toEqual([...cSet].sort());

        // The linked witness satisfies the linked r1cs and has circom's public signals.
        const k = linked.layout.batch;
        const priv = linked.layout.visibility.input === 'private';
        const xs = calibration.slice(0, k).map((s) => quantizeInputs(program, s));
        const salts = xs.map((_, b) => 1000n + BigInt(b));
        const w = wtnsValues(
          await linkedWitness(
            linked.linked!,
            program,
            xs.map((x, b) => ({ x, ...(priv ? { salt: salts[b] } : {}) })),
          ),
        );
        const r1cs = await loadR1cs(linked.circuit.r1csPath);
        expect(checkWitness(r1cs, w)).toEqual({ ok: true, failing: [] });
        const cw = await computeWitness(circom.circuit.wasmPath, { x: k === 1 ? xs[0] : xs, ...(priv ? { salt: k === 1 ? salts[0] : salts } : {}) });
        const nPublic = 1 + r1cs.nOutputs + r1cs.nPubInputs;
        expect(w.slice(0, nPublic)).toEqual(cw.slice(0, nPublic));
        // Every wire both keep under one name holds the same value.
        const [cSym, lSym] = await Promise.all([loadSymbols(circom.circuit.symPath), loadSymbols(linked.circuit.symPath)]);
        let shared = 0;
        for (const [name, li] of lSym) {
          const ci = cSym.get(name);
          if (li < 0 || ci === undefined || ci < 0) continue;
          expect(w[li], name).toBe(cw[ci]);
          shared++;
        }
        expect(shared).toBe(linked.circuit.wires - 1);

        // A flipped bit of a range check breaks a constraint.
        const bit = [...lSym].find(([name, i]) => i >= 0 && /inRange\[0\]\.b\.out\[0\]$/.test(name))!;
        const tampered = [...w];
        tampered[bit[1]] = 1n - tampered[bit[1]];
        expect(checkWitness(r1cs, tampered).ok).toBe(false);
      },
      240_000,
    );
  }
});

describe('linked circuits prove and verify', () => {
  it('Groth16 over a linked circuit (class output, public input) verifies; a tampered public signal does not', async () => {
    const graph = runPasses(importOnnxGraph(convSoftmax(), 'm'));
    const calibration = samples(graph, 6);
    const model = await buildGraphModel(graph, calibration, { artifactsDir, emit: 'linked' });
    expect(model.linked).toBeDefined();
    const { bundle } = await proveGraph(model, calibration[1]);
    expect((await verify(bundle, model.key)).valid).toBe(true);
    const bad = { ...bundle, publicSignals: [...bundle.publicSignals] };
    bad.publicSignals[1] = String(BigInt(bad.publicSignals[1]) + 1n);
    expect((await verify(bad, model.key)).valid).toBe(false);
  }, 300_000);

  it('batch 2 with private inputs: one proof over a linked circuit verifies', async () => {
    const graph = runPasses(importOnnxGraph(sigmoidDiv(), 'm'));
    const calibration = samples(graph, 6);
    const model = await buildGraphModel(graph, calibration, { artifactsDir, emit: 'linked', batch: 2, visibility: { input: 'private', output: 'logits' } });
    const { bundle, openings } = await proveGraphBatch(model, calibration.slice(2, 4));
    expect(openings).toHaveLength(2);
    expect((await verify(bundle, model.key)).valid).toBe(true);
  }, 300_000);
});

describe('emit mode', () => {
  it("'auto' keeps circom for small models; a bad mode is a clear error", async () => {
    const graph = runPasses(importOnnxGraph(sigmoidDiv(), 'm'));
    const program = lowerGraph(graph, samples(graph, 4));
    expect(instanceTerms(graphInstances(program))).toBeLessThan(LINK_AUTO_TERMS);
    const auto = await compileGraphProgram(program, { artifactsDir });
    expect(auto.linked).toBeUndefined();
    const err = await compileGraphProgram(program, { artifactsDir, emit: 'fast' as never }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ZkinferError);
    expect((err as ZkinferError).code).toBe('BAD_INPUT');
    expect((err as ZkinferError).message).toMatch(/emit must be circom, linked or auto/);
  }, 120_000);
});
