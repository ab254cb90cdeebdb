import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditSource } from '../tools/audit/auditTargets.js';
import { checkWitness, loadR1cs, loadSymbols, withSignals } from '../tools/r1cs.js';
import { computeWitness, fieldToSigned } from '../src/circuit/witness.js';
import { modelIdOfCommitment } from '../src/format/modelId.js';
import { emitGraphCircuit } from '../src/graph/emit.js';
import { importOnnxGraph } from '../src/graph/onnx.js';
import { runPasses } from '../src/graph/passes/index.js';
import { buildGraphModel, compileGraphProgram, graphWeightsCommitment, proveGraph, type GraphModel } from '../src/graph/pipeline.js';
import { linkedWitness } from '../src/graph/link/index.js';
import { canonicalConstraints, keptNames, wtnsValues } from './helpers/r1csCompare.js';
import { lowerGraph, type QProgram, type Sample } from '../src/graph/quant/lower.js';
import { weightsFromConstants } from '../src/graph/quant/privateWeights.js';
import { quantizeInputs, runProgram } from '../src/graph/quant/reference.js';
import { verify } from '../src/verify/index.js';
import { programCosts } from '../src/graph/cost.js';
import { evaluateAgreement, loadGraph } from '../src/graph/index.js';
import { BUNDLED_MODELS } from '../src/model/index.js';
import { loadMnistSplit, type DigitSample } from '../src/model/mnist.js';
import { PACKAGE_ROOT } from '../src/util/fs.js';
import { randomSamples } from './helpers/graphCheck.js';
import { OnnxGraphBuilder } from './helpers/onnxGraph.js';

/**
 * Private weights on the op graph: every weight and bias tensor of a Gemm, MatMul, Conv or ConvTranspose
 * (BatchNorm folded in) is a private, range-checked witness; the proof's model id is the salted Poseidon
 * commitment to them. One circuit and key serve every weight set that fits its widths at its scales.
 */
const VIS = { input: 'public', output: 'logits', weights: 'private' } as const;
const run = promisify(execFile);
const cli = (args: string[]) => run(process.execPath, [path.join(path.resolve(import.meta.dirname, '..'), 'bin/zkinfer.js'), ...args]);
let dir: string;

function rand(seed: number) {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5;
}

/**
 * Conv (bias, BatchNorm, Relu) -> ConvTranspose -> Flatten -> Gemm -> MatMul: every weight op family.
 * `gain` scales the random weights (a second model with gain 0.5 fits the first one's scales).
 */
function convGemm(seed: number, gain = 1): Uint8Array {
  const u = rand(seed);
  const r = () => gain * u();
  const g = new OnnxGraphBuilder('convgemm');
  g.input('x', 'float', [1, 1, 4, 4]);
  g.initializer('w', 'float', [2, 1, 3, 3], Array.from({ length: 18 }, r));
  g.initializer('b', 'float', [2], [0.1 + r() / 5, -0.2]);
  for (const [n, v] of [
    ['gamma', [1.2, 0.8]],
    ['beta', [0.05, -0.1]],
    ['mean', [0.1, 0]],
    ['var', [1, 0.5]],
  ] as const)
    g.initializer(n, 'float', [2], v);
  g.initializer('wt', 'float', [2, 1, 2, 2], Array.from({ length: 8 }, r));
  g.initializer('w2', 'float', [3, 9], Array.from({ length: 27 }, r));
  g.initializer('b2', 'float', [3], [0.05, 0, -0.1]);
  g.initializer('w3', 'float', [3, 2], Array.from({ length: 6 }, r));
  const [c] = g.node('Conv', ['x', 'w', 'b'], undefined, { strides: [1, 1] });
  const [bn] = g.node('BatchNormalization', [c, 'gamma', 'beta', 'mean', 'var']);
  const [h] = g.node('Relu', [bn]);
  const [t] = g.node('ConvTranspose', [h, 'wt'], undefined, { strides: [1, 1] });
  const [f] = g.node('Flatten', [t]);
  const [z] = g.node('Gemm', [f, 'w2', 'b2'], undefined, { transB: 1 });
  const [zr] = g.node('Relu', [z]);
  g.node('MatMul', [zr, 'w3'], ['y']);
  g.output('y', 'float', [1, 2]);
  return g.encode();
}

const graphA = runPasses(importOnnxGraph(convGemm(1), 'a'));
const graphB = runPasses(importOnnxGraph(convGemm(2, 0.5), 'b'));
const samples: Sample[] = randomSamples(graphA, 8, 0, 1);
let program: QProgram;
let model: GraphModel;
let otherWeights: number[][];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-graph-pw-'));
  model = await buildGraphModel(graphA, samples, { visibility: VIS, artifactsDir: dir, emit: 'circom' });
  program = model.program;
  otherWeights = weightsFromConstants(program, graphB.constants, 'model b');
}, 300_000);
afterAll(() => rm(dir, { recursive: true, force: true }));

const outputsOf = (w: bigint[], n: number) => w.slice(1, 1 + n).map((v) => Number(fieldToSigned(v)));

describe('private weights on the op graph', () => {
  it('every weight op is private: Conv (BatchNorm folded), ConvTranspose, Gemm, MatMul weights and both biases', () => {
    expect(program.weights!.map((w) => `${w.kind}:${w.name}`)).toHaveLength(6);
    expect(new Set(program.weights!.map((w) => w.kind))).toEqual(new Set(['weights', 'bias']));
    // No constant weight is left in any form: every term of a linear op reads a signal, and the biases are signals.
    expect(program.weights!.filter((w) => w.kind === 'weights').reduce((a, w) => a + w.values.length, 0)).toBe(18 + 8 + 27 + 6);
    expect(otherWeights.flat()).not.toEqual(program.weights!.flatMap((w) => w.values));
  });

  it("the circuit equals the integer reference bit for bit, for the model's weights and another weight set; the commitment equals circomlibjs's", async () => {
    const nOut = 2;
    for (const weights of [undefined, otherWeights]) {
      const w = (weights ?? program.weights!.map((t) => t.values)).flat();
      for (const sample of samples) {
        const x = quantizeInputs(program, sample);
        const wit = await computeWitness(model.circuit.wasmPath, { x, w, weightsSalt: 77 });
        expect(outputsOf(wit, nOut)).toEqual(runProgram(program, x, weights));
        expect(wit[1 + nOut]).toBe(await graphWeightsCommitment(program, 77n, weights));
      }
    }
    // The weights are really used: other weights give other outputs.
    const x = quantizeInputs(program, samples[0]);
    expect(runProgram(program, x, otherWeights)).not.toEqual(runProgram(program, x));
  });

  it("proofs verify with one key; the model id is the weights commitment; another key (other weights' scales) rejects them", async () => {
    const a = await proveGraph(model, samples[1], { weightsSalt: 5n });
    const b = await proveGraph(model, samples[1], { weightsSalt: 5n, weights: otherWeights });
    const ra = await verify(a.bundle, model.key);
    const rb = await verify(b.bundle, model.key);
    expect(ra.valid && rb.valid).toBe(true);
    expect(a.bundle.modelId).toBe(modelIdOfCommitment(await graphWeightsCommitment(program, 5n)));
    expect(b.bundle.modelId).toBe(modelIdOfCommitment(await graphWeightsCommitment(program, 5n, otherWeights)));
    expect(a.bundle.modelId).not.toBe(b.bundle.modelId);
    expect(a.bundle.keyId).toBe(model.modelId);
    // A bundle claiming the other weights' model id is rejected.
    expect((await verify({ ...a.bundle, modelId: b.bundle.modelId }, model.key)).valid).toBe(false);
    // The salt moves the model id.
    expect((await proveGraph(model, samples[1], { weightsSalt: 6n })).bundle.modelId).not.toBe(a.bundle.modelId);
    // model b compiled on its own: another circuit and key, which does not accept a's proof.
    const modelB = await buildGraphModel(graphB, samples, { visibility: VIS, artifactsDir: dir, emit: 'circom' });
    expect(modelB.modelId).not.toBe(model.modelId);
    expect((await verify({ ...a.bundle, keyId: modelB.modelId }, modelB.key)).valid).toBe(false);
  }, 300_000);

  it('a witness whose weights do not match the commitment, or a weight outside its width, fails', async () => {
    const [r1cs, symbols] = await Promise.all([loadR1cs(model.circuit.r1csPath), loadSymbols(model.circuit.symPath)]);
    const x = quantizeInputs(program, samples[2]);
    const w = program.weights!.flatMap((t) => t.values);
    const honest = await computeWitness(model.circuit.wasmPath, { x, w, weightsSalt: 9 });
    expect(checkWitness(r1cs, honest).ok).toBe(true);
    const other = await computeWitness(model.circuit.wasmPath, { x, w: otherWeights.flat(), weightsSalt: 9 });
    expect(checkWitness(r1cs, other).ok).toBe(true);
    // Other weights claiming this commitment; one weight changed; another salt: none satisfies the constraints.
    expect(checkWitness(r1cs, withSignals(other, symbols, { 'main.weightsCommitment': honest[symbols.get('main.weightsCommitment')!] })).ok).toBe(false);
    expect(checkWitness(r1cs, withSignals(honest, symbols, { 'main.w[0]': BigInt(w[0] === 3 ? 4 : 3) })).ok).toBe(false);
    expect(checkWitness(r1cs, withSignals(honest, symbols, { 'main.weightsSalt': 10n })).ok).toBe(false);
    // A weight beyond its 8 bits has no witness at all; the prover names it first.
    await expect(computeWitness(model.circuit.wasmPath, { x, w: [200, ...w.slice(1)], weightsSalt: 9 })).rejects.toThrow();
    const bad = program.weights!.map((t) => [...t.values]);
    bad[0][0] = 200;
    await expect(proveGraph(model, samples[2], { weightsSalt: 9n, weights: bad })).rejects.toThrow(
      /weight .*\[0\] \(node .*\) = 200 is outside the circuit's 8-bit range \[-128, 127\]/,
    );
    await expect(proveGraph(model, samples[2])).rejects.toThrow(/needs the weights salt/);
  }, 120_000);

  it('the soundness audit accepts the circuit (no unconstrained wire)', async () => {
    const { source } = emitGraphCircuit(program, { visibility: VIS });
    const report = await auditSource('graph_private_weights', source, { artifactsDir: dir });
    expect(report.failures).toEqual([]);
  }, 120_000);
});

describe('the linker', () => {
  for (const visibility of [VIS, { input: 'private', output: 'class', weights: 'private' } as const]) {
    it(`links the same constraint system as circom (${visibility.input} input, ${visibility.output}); the linked witness has circom's public signals`, async () => {
      const p = visibility === VIS ? program : lowerGraph(graphA, samples, { privateWeights: true });
      const opts = { visibility, classify: visibility.output === 'class', artifactsDir: dir };
      const circom = await compileGraphProgram(p, { ...opts, emit: 'circom' });
      const linked = await compileGraphProgram(p, { ...opts, emit: 'linked' });
      const counts = (c: typeof circom.circuit) => [c.constraints, c.wires, c.outputs, c.publicInputs, c.privateInputs];
      expect(counts(linked.circuit)).toEqual(counts(circom.circuit));
      expect(linked.layout).toEqual(circom.layout);
      const [cNames, lNames] = await Promise.all([keptNames(circom.circuit.symPath), keptNames(linked.circuit.symPath)]);
      const [cSet, lSet] = await Promise.all([
        canonicalConstraints(circom.circuit.r1csPath, circom.circuit.symPath, lNames),
        canonicalConstraints(linked.circuit.r1csPath, linked.circuit.symPath, cNames),
      ]);
      expect([...lSet].sort()).toEqual([...cSet].sort());
      const x = quantizeInputs(p, samples[4]);
      const priv = visibility.input === 'private' ? { salt: 3n } : {};
      const w = wtnsValues(await linkedWitness(linked.linked!, p, [{ x, ...priv, weights: otherWeights, weightsSalt: 8n }]));
      const r1cs = await loadR1cs(linked.circuit.r1csPath);
      expect(checkWitness(r1cs, w)).toEqual({ ok: true, failing: [] });
      const cw = await computeWitness(circom.circuit.wasmPath, { x, ...priv, w: otherWeights.flat(), weightsSalt: 8 });
      const nPublic = 1 + r1cs.nOutputs + r1cs.nPubInputs;
      expect(w.slice(0, nPublic)).toEqual(cw.slice(0, nPublic));
    }, 300_000);
  }

  it('a linked private-weights model proves and verifies', async () => {
    const linked = await buildGraphModel(graphA, samples, { visibility: VIS, artifactsDir: dir, emit: 'linked' });
    expect(linked.linked).toBeDefined();
    const { bundle } = await proveGraph(linked, samples[5], { weightsSalt: 5n, weights: otherWeights });
    expect(bundle.modelId).toBe(modelIdOfCommitment(await graphWeightsCommitment(program, 5n, otherWeights)));
    expect((await verify(bundle, linked.key)).valid).toBe(true);
  }, 300_000);
});

describe('CLI', () => {
  it("ONNX: commit-weights prints the model id that prove --weights private proves, also for another model's weights; verify accepts it", async () => {
    const [fa, fb, cal, input, out] = ['a.onnx', 'b.onnx', 'cal.json', 'in.json', 'proof.json'].map((f) => path.join(dir, f));
    await writeFile(fa, convGemm(1));
    await writeFile(fb, convGemm(2, 0.5));
    await writeFile(cal, JSON.stringify(samples.map((s) => Array.from(s.get('x')!))));
    await writeFile(input, JSON.stringify(Array.from(samples[3].get('x')!)));
    const common = ['--model', fa, '--calibration', cal, '--weights', 'private', '--artifacts', dir, '--emit', 'circom', '-q'];
    const { stdout: committed } = await cli(['commit-weights', ...common, '--weights-file', fb, '--weights-salt', '42']);
    const id = /model id\s+([0-9a-f]{64})/.exec(committed)![1];
    const { stdout: proved } = await cli(['prove', ...common, '--input', input, '--weights-file', fb, '--weights-salt', '42', '-o', out]);
    expect(proved).toContain(`model id   ${id}`);
    const bundle = JSON.parse(await readFile(out, 'utf8'));
    expect(bundle.modelId).toBe(id);
    const { stdout: verdict } = await cli(['verify', out, '--artifacts', dir, '--json']);
    expect(JSON.parse(verdict)).toMatchObject({ valid: true, modelId: id });
    await expect(cli(['prove', ...common, '--input', input, '-o', out])).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/needs --weights-salt/) });
  }, 300_000);
});

describe('bundled models', () => {
  const split = loadMnistSplit();
  const digits = (name: string, ds: DigitSample[]): Sample[] => ds.map((d) => new Map([[name, Float64Array.from(d.pixels)]]));
  it.each(Object.keys(BUNDLED_MODELS))(
    '%s: every Gemm/Conv weight and bias is private, accuracy within a point of constant weights',
    async (name) => {
      const graph = await loadGraph(path.join(PACKAGE_ROOT, BUNDLED_MODELS[name].modelJson));
      const input = graph.inputs[0].name;
      const calibration = digits(input, split.train.slice(0, 300));
      const test = split.test.slice(0, 500);
      const constant = lowerGraph(graph, calibration);
      const priv = lowerGraph(graph, calibration, { privateWeights: true });
      // The ops with weights: a constant operand (attention's Q.K^T and attention.V multiply computed tensors).
      const linearNodes = graph.nodes.filter((n) => ['Gemm', 'MatMul', 'Conv'].includes(n.op) && n.inputs.some((i) => graph.constants.has(i)));
      expect(new Set(priv.weights!.map((w) => w.node))).toEqual(new Set(linearNodes.map((n) => n.name)));
      expect(priv.weights!.filter((w) => w.kind === 'weights')).toHaveLength(linearNodes.length);
      const labels = test.map((d) => d.label);
      const accConstant = evaluateAgreement(graph, constant, digits(input, test), labels).accuracy!.quantized;
      const accPrivate = evaluateAgreement(graph, priv, digits(input, test), labels).accuracy!.quantized;
      expect(accPrivate).toBeGreaterThanOrEqual(accConstant - 0.01);
      // Every weight is one product and one range check of its width (the commitment comes on top).
      const costs = programCosts(priv);
      const nWeights = priv.weights!.filter((w) => w.kind === 'weights').reduce((a, w) => a + w.values.length, 0);
      expect(costs.weights).toBeGreaterThanOrEqual(nWeights * 8);
    },
    120_000,
  );
});
