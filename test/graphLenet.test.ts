import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkWitness, loadR1cs } from '../tools/r1cs.js';
import { fieldToSigned } from '../src/circuit/witness.js';
import { compileGraphProgram, evaluateAgreement, loadGraph, lowerGraph, quantizeInputs, runProgram } from '../src/graph/index.js';
import { loadMnistSplit } from '../src/model/mnist.js';
import { digitSamples } from '../src/cli/graphCommands.js';
import { BUNDLED_MODELS, MNIST_CALIBRATION_SAMPLES } from '../src/model/index.js';
import { linkedWitness } from '../src/graph/link/index.js';
import { wtnsValues } from './helpers/r1csCompare.js';

/**
 * The bundled LeNet-5 (models/mnist-lenet, npm run train:mnist -- --arch lenet): at least 98.0% on the
 * held-out digits in float and quantized, below 2^17 constraints (its max pools fused onto the conv
 * accumulators), and the linked circuit is satisfied by the integer reference's witness. (Its Groth16
 * setup is above the tests' 2^16 limit: `zkinfer demo --model lenet` proves it.)
 */
const root = path.resolve(import.meta.dirname, '..');
const split = loadMnistSplit();

describe('bundled LeNet-5', () => {
  it('>= 98.0% held-out accuracy float and quantized; < 2^17 constraints; linked circuit satisfied by the reference', async () => {
    const graph = await loadGraph(path.join(root, BUNDLED_MODELS.lenet.modelJson));
    const input = graph.inputs[0];
    expect([input.dtype, input.bits, input.signed]).toEqual(['int', 8, false]);
    expect(graph.nodes.filter((n) => n.op === 'Conv')).toHaveLength(2);
    const program = lowerGraph(graph, digitSamples(graph, split.train.slice(0, MNIST_CALIBRATION_SAMPLES)));
    const acc = evaluateAgreement(
      graph,
      program,
      digitSamples(graph, split.test),
      split.test.map((d) => d.label),
    ).accuracy!;
    expect(acc.float).toBeGreaterThanOrEqual(0.98);
    expect(acc.quantized).toBeGreaterThanOrEqual(0.98);

    const compiled = await compileGraphProgram(program, { graph, artifactsDir: await mkdtemp(path.join(os.tmpdir(), 'zkinfer-lenet-')), emit: 'linked' });
    expect(compiled.circuit.constraints).toBeLessThan(2 ** 17);
    const { outputsOffset, outputs } = compiled.layout;
    const r1cs = await loadR1cs(compiled.circuit.r1csPath);
    const d = split.test[0];
    const x = quantizeInputs(program, digitSamples(graph, [d])[0]);
    const w = wtnsValues(await linkedWitness(compiled.linked!, program, [{ x }]));
    expect(checkWitness(r1cs, w)).toEqual({ ok: true, failing: [] });
    expect(w.slice(1 + outputsOffset, 1 + outputsOffset + outputs).map((v) => Number(fieldToSigned(v)))).toEqual(runProgram(program, x));
  }, 900_000);
});
