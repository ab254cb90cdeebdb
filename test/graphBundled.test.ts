import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { computeWitness, fieldToSigned } from '../src/circuit/witness.js';
import { compileGraphProgram, evaluateAgreement, loadGraph, lowerGraph, quantizeInputs, runProgram, type Sample } from '../src/graph/index.js';
import { loadMnistSplit, type DigitSample } from '../src/model/mnist.js';
import { BUNDLED_MODELS, loadModelSource, MNIST_CALIBRATION_SAMPLES } from '../src/model/index.js';
import { compareAccuracy } from '../src/quantize/accuracy.js';
import { quantizeModel } from '../src/quantize/quantize.js';
import { keyRegistryDir } from '../src/setup/index.js';
import { verify } from '../src/verify/index.js';

/**
 * The bundled MNIST models on the op-graph pipeline: their model.json declares 8-bit pixel inputs at
 * scale 1/255 and class labels (src/graph/metadata.ts), so the graph reads the pixels as integers,
 * range-checks them to 8 bits and proves the argmax. Constraint counts must not exceed the layer
 * pipeline's (README: MLP 7,644, CNN 41,494), nor quantized accuracy on the held-out digits fall below
 * the layer pipeline's, computed here (92.13%, 94.54%).
 */
const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..');
const split = loadMnistSplit();
const LAYER_PIPELINE = { mlp: { constraints: 7644 }, cnn: { constraints: 41494 } };

async function layerAccuracy(model: string): Promise<number> {
  const source = await loadModelSource(model);
  const qmodel = quantizeModel(source.float, source.calibration, { inputBits: source.inputBits, inputScale: source.inputScale, labels: source.labels });
  return compareAccuracy(source.float, qmodel, split.test).quantized;
}

const samples = (name: string, digits: DigitSample[]): Sample[] => digits.map((d) => new Map([[name, Float64Array.from(d.pixels)]]));

describe.each(Object.entries(LAYER_PIPELINE))('bundled %s on the graph pipeline', (model, before) => {
  it('reads 8-bit integer pixels, keeps the accuracy, does not grow the circuit, and the circuit equals the reference', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), `zkinfer-bundled-${model}-`));
    const graph = await loadGraph(path.join(root, BUNDLED_MODELS[model].modelJson));
    const input = graph.inputs[0];
    expect([input.dtype, input.bits, input.signed]).toEqual(['int', 8, false]);
    expect(graph.labels).toEqual(Array.from({ length: 10 }, (_, i) => String(i)));
    const program = lowerGraph(graph, samples(input.name, split.train.slice(0, MNIST_CALIBRATION_SAMPLES)));
    expect(program.inputs).toMatchObject([{ dtype: 'int', lo: 0, hi: 255, scale: 1 }]);
    const acc = evaluateAgreement(
      graph,
      program,
      samples(input.name, split.test),
      split.test.map((d) => d.label),
    ).accuracy!;
    expect(acc.quantized).toBeGreaterThanOrEqual(await layerAccuracy(model));

    const compiled = await compileGraphProgram(program, { graph, artifactsDir: dir });
    expect(compiled.circuit.constraints).toBeLessThanOrEqual(before.constraints);
    expect(compiled.circuit.constraints).toBeGreaterThan(784 * 8); // the input range checks alone
    expect(compiled.layout.classIndex).toBeGreaterThanOrEqual(0);
    const { outputsOffset, outputs, classIndex } = compiled.layout;
    for (const d of split.test.slice(0, 6)) {
      const x = quantizeInputs(program, samples(input.name, [d])[0]);
      expect(x).toEqual(Array.from(d.pixels));
      const witness = await computeWitness(compiled.circuit.wasmPath, { x });
      const ref = runProgram(program, x);
      expect(witness.slice(1 + outputsOffset, 1 + outputsOffset + outputs).map((v) => Number(fieldToSigned(v)))).toEqual(ref);
      expect(Number(witness[1 + classIndex])).toBe(ref.indexOf(Math.max(...ref)));
    }
    // A pixel outside 8 bits is refused before any witness is computed.
    expect(() => quantizeInputs(program, new Map([[input.name, Float64Array.from({ length: 784 }, (_, i) => (i === 5 ? 256 : 0))]]))).toThrow(
      /\[5\] = 256 is outside the range \[0, 255\]/,
    );
  }, 900_000);
});

describe('CLI on the bundled MLP (graph pipeline)', () => {
  // (--private-input and --class-only on the graph pipeline: test/privacy.test.ts's CLI test, test/graphEndToEnd.test.ts.)
  it('prove --mnist-index and --input (integer pixels); verify accepts both and rejects tampered bundles', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-bundled-cli-'));
    const cli = (...args: string[]) => run(process.execPath, [path.join(root, 'bin', 'zkinfer.js'), ...args, '--artifacts', dir], { cwd: root });
    const proof = path.join(dir, 'proof.json');
    const proved = await cli('prove', '--mnist-index', '3', '-o', proof, '-q');
    const bundle = JSON.parse(await readFile(proof, 'utf8'));
    expect(proved.stdout).toMatch(new RegExp(`class\\s+${bundle.prediction.class}`));
    expect(bundle.publicSignals.slice(-784).map(Number)).toEqual(Array.from(split.test[3].pixels));
    expect((await cli('verify', proof)).stdout).toMatch(/^VALID/);
    // Tampering: a pixel, a logit, the class, a proof point, the claimed prediction; each is rejected.
    const key = JSON.parse(await readFile(path.join(keyRegistryDir(dir), `${bundle.modelId}.json`), 'utf8'));
    expect((await verify(bundle, key)).valid).toBe(true);
    const { inputOffset, classIndex, logitsOffset } = key.publicSignals;
    const tampered = [
      (b: typeof bundle) => (b.publicSignals[inputOffset + 200] = String((Number(b.publicSignals[inputOffset + 200]) + 1) % 256)),
      (b: typeof bundle) => (b.publicSignals[logitsOffset] = String(BigInt(b.publicSignals[logitsOffset]) + 1n)),
      (b: typeof bundle) => (b.publicSignals[classIndex] = String((Number(b.publicSignals[classIndex]) + 1) % 10)),
      (b: typeof bundle) => (b.proof.pi_a[0] = String(BigInt(b.proof.pi_a[0]) + 1n)),
      (b: typeof bundle) => (b.prediction.class = (b.prediction.class + 1) % 10),
    ];
    for (const edit of tampered) {
      const bad = structuredClone(bundle);
      edit(bad);
      expect((await verify(bad, key).catch((e: Error) => ({ valid: false, reason: e.message }))).valid).toBe(false);
    }

    // An input file of integer pixels proves on the same (cached) circuit and key.
    const inputFile = path.join(dir, 'pixels.json');
    await writeFile(inputFile, JSON.stringify(Array.from(split.test[7].pixels)));
    const second = path.join(dir, 'second.json');
    await cli('prove', '--input', inputFile, '-o', second, '-q');
    const other = JSON.parse(await readFile(second, 'utf8'));
    expect(other.modelId).toBe(bundle.modelId);
    expect(other.publicSignals.slice(-784).map(Number)).toEqual(Array.from(split.test[7].pixels));
    expect((await cli('verify', second)).stdout).toMatch(/^VALID/);
  }, 1_800_000);
});
