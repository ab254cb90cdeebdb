import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkWitness, loadR1cs } from '../tools/r1cs.js';
import { fieldToSigned } from '../src/circuit/witness.js';
import { programCosts } from '../src/graph/cost.js';
import { compileGraphProgram, evaluateAgreement, loadGraph, lowerGraph, quantizeInputs, runProgram } from '../src/graph/index.js';
import { loadMnistSplit } from '../src/model/mnist.js';
import { digitSamples } from '../src/cli/graphCommands.js';
import { BUNDLED_MODELS, loadModelSource, MNIST_CALIBRATION_SAMPLES } from '../src/model/index.js';
import { linkedWitness } from '../src/graph/link/index.js';
import { wtnsValues } from './helpers/r1csCompare.js';
import { importOnnxGraph } from '../src/graph/onnx.js';
import { OnnxGraphBuilder } from './helpers/onnxGraph.js';
import { expectZkinferError } from './helpers/errors.js';

/**
 * The bundled tiny transformer (models/mnist-transformer/model.onnx, npm run train:transformer): its
 * ONNX metadata declares 8-bit pixels and class labels; quantized accuracy stays within 1 point of float
 * on the held-out digits; the circuit stays below 2^17 constraints and equals the integer reference.
 * (Its Groth16 setup is above the tests' 2^16 limit: `zkinfer demo --model transformer` proves it.)
 */
const root = path.resolve(import.meta.dirname, '..');
const split = loadMnistSplit();

describe('bundled transformer', () => {
  it('8-bit pixels and labels from its metadata; accuracy within 1 point of float; < 2^17 constraints; linked circuit satisfied by the reference', async () => {
    const graph = await loadGraph(path.join(root, BUNDLED_MODELS.transformer.modelJson));
    const input = graph.inputs[0];
    expect([input.dtype, input.bits, input.signed]).toEqual(['int', 8, false]);
    expect(graph.labels).toEqual(Array.from({ length: 10 }, (_, i) => String(i)));
    expect(graph.nodes.map((n) => n.op)).toContain('Softmax');
    const program = lowerGraph(graph, digitSamples(graph, split.train.slice(0, MNIST_CALIBRATION_SAMPLES)));
    expect(program.inputs).toMatchObject([{ dtype: 'int', lo: 0, hi: 255 }]);
    const acc = evaluateAgreement(
      graph,
      program,
      digitSamples(graph, split.test),
      split.test.map((d) => d.label),
    ).accuracy!;
    expect(acc.float).toBeGreaterThan(0.9);
    expect(Math.abs(acc.quantized - acc.float)).toBeLessThanOrEqual(0.01);
    const cost = programCosts(program).total;
    expect(cost).toBeLessThan(2 ** 17);

    const compiled = await compileGraphProgram(program, { graph, artifactsDir: await mkdtemp(path.join(os.tmpdir(), 'zkinfer-xfmr-')), emit: 'linked' });
    expect(compiled.circuit.constraints).toBeLessThan(2 ** 17);
    const { outputsOffset, outputs } = compiled.layout;
    const r1cs = await loadR1cs(compiled.circuit.r1csPath);
    for (const d of split.test.slice(0, 2)) {
      const x = quantizeInputs(program, digitSamples(graph, [d])[0]);
      const ref = runProgram(program, x);
      const w = wtnsValues(await linkedWitness(compiled.linked!, program, [{ x }]));
      // The witness (each gadget's own calculator, checked against the reference) satisfies the r1cs.
      expect(checkWitness(r1cs, w)).toEqual({ ok: true, failing: [] });
      expect(w.slice(1 + outputsOffset, 1 + outputsOffset + outputs).map((v) => Number(fieldToSigned(v)))).toEqual(ref);
    }
  }, 900_000);

  it('is refused by the layer pipeline (--weights private) with one line', async () => {
    await expect(loadModelSource('transformer')).rejects.toThrow(/bundled transformer model runs on the graph pipeline only/);
  });
});

describe('ONNX zkinfer metadata (metadata_props)', () => {
  const model = (input: 'int64' | 'float', metadata?: Record<string, unknown>) => {
    const g = new OnnxGraphBuilder('meta');
    g.input('x', input, [1, 3]);
    g.node('Identity', ['x'], ['y']);
    g.output('y', input, [1, 3]);
    return g.encode(metadata);
  };
  it('declares labels and an int input width; a bad block is one line naming the field', () => {
    const graph = importOnnxGraph(model('int64', { zkinfer: { inputEncoding: [{ bits: 6, scale: 1 }], classLabels: ['a', 'b', 'c'] } }));
    expect([graph.inputs[0].bits, graph.inputs[0].signed, graph.labels]).toEqual([6, false, ['a', 'b', 'c']]);
    expect(importOnnxGraph(model('int64')).labels).toBeUndefined();
    expectZkinferError(
      () => importOnnxGraph(model('float', { zkinfer: { inputEncoding: [{ bits: 8, scale: 1 }] } })),
      'BAD_MODEL',
      'inputEncoding[0] must describe an int input at scale 1',
    );
    expectZkinferError(() => importOnnxGraph(model('int64', { zkinfer: { classLabels: 'abc' } })), 'BAD_MODEL', 'classLabels must be an array');
  });
});
