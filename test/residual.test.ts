import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { auditModel } from '../tools/audit/auditTargets.js';
import { emitCircuit } from '../src/circuit/emit.js';
import { compileModel } from '../src/circuit/index.js';
import { checkWitness, loadR1cs, loadSymbols } from '../tools/r1cs.js';
import { computeWitness, fieldToSigned, FIELD_P } from '../src/circuit/witness.js';
import { runFloat, type FloatActivation, type FloatConv2D, type FloatDense, type FloatLayer, type FloatModel, type Shape3 } from '../src/model/types.js';
import { prove } from '../src/prove/index.js';
import { quantizeModel } from '../src/quantize/quantize.js';
import { runQuantized } from '../src/quantize/reference.js';
import type { QDense, QuantizedModel } from '../src/quantize/types.js';
import { setupModel } from '../src/setup/index.js';
import { verify } from '../src/verify/index.js';
import { randomInputs, rng } from './helpers/models.js';

/**
 * Residual connections: a DAG of tensors with an add that aligns two scales, and signed (linear) hidden
 * outputs for the branch before the add. The circuit equals the integer reference bit for bit, the
 * reference approximates the float model, and malformed graphs get errors naming the layer.
 */
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-residual-'));
});

const random = (r: () => number, n: number, s: number) => Float32Array.from({ length: n }, () => (r() * 2 - 1) * s);

function dense(r: () => number, name: string, inputSize: number, outputSize: number, activation: FloatActivation, from?: number): FloatDense {
  return {
    kind: 'dense',
    name,
    inputSize,
    outputSize,
    kernel: random(r, inputSize * outputSize, 1 / Math.sqrt(inputSize)),
    bias: random(r, outputSize, 0.1),
    activation,
    ...(from === undefined ? {} : { from }),
  };
}

/** A 'same'-padded k x k convolution with stride 1. */
function conv(r: () => number, name: string, inShape: Shape3, filters: number, k: number, activation: FloatActivation, from?: number): FloatConv2D {
  const p = Math.floor((k - 1) / 2);
  return {
    kind: 'conv2d',
    name,
    inShape,
    outShape: [inShape[0], inShape[1], filters],
    kernelSize: [k, k],
    strides: [1, 1],
    pads: [p, p, k - 1 - p, k - 1 - p],
    depthwise: false,
    kernel: random(r, k * k * inShape[2] * filters, 1 / Math.sqrt(k * k * inShape[2])),
    bias: random(r, filters, 0.1),
    activation,
    ...(from === undefined ? {} : { from }),
  };
}

const add = (name: string, inputs: [number, number], size: number, activation: FloatActivation): FloatLayer => ({ kind: 'add', name, inputs, size, activation });

/** Tensor numbers in the comments: 0 is the input, t = l + 1 is layer l's output. */
function models(): Record<string, FloatModel> {
  const r = rng(31);
  const S: Shape3 = [5, 5, 3];
  return {
    // 12 -> dense relu (t1) -> dense linear (t2, signed) -> add(t1, t2) relu (t3) -> dense 4
    mlp: {
      name: 'residual-mlp',
      inputShape: [12],
      notes: [],
      layers: [dense(r, 'h0', 12, 8, 'relu'), dense(r, 'h1', 8, 8, 'linear'), add('res', [1, 2], 8, 'relu'), dense(r, 'out', 8, 4, 'linear')],
    },
    // conv relu (t1) -> conv linear (t2) -> add(t2, t1) linear: a signed sum (t3) -> global average (signed, t4) -> dense 3
    signedCnn: {
      name: 'residual-signed',
      inputShape: [5, 5, 2],
      notes: [],
      layers: [
        conv(r, 'c0', [5, 5, 2], 3, 3, 'relu'),
        conv(r, 'c1', S, 3, 3, 'linear'),
        add('res', [2, 1], 75, 'linear'),
        { kind: 'globalavgpool', name: 'gap', inShape: S },
        dense(r, 'out', 3, 3, 'linear'),
      ],
    },
    // Projection shortcut: conv relu (t1) -> conv linear (t2); 1x1 conv of the INPUT (t3, from 0); add(t2, t3) relu (t4) -> maxpool (t5) -> dense 3
    projection: {
      name: 'residual-projection',
      inputShape: [5, 5, 2],
      notes: [],
      layers: [
        conv(r, 'c0', [5, 5, 2], 3, 3, 'relu'),
        conv(r, 'c1', S, 3, 3, 'linear'),
        conv(r, 'proj', [5, 5, 2], 3, 1, 'linear', 0),
        add('res', [2, 3], 75, 'relu'),
        { kind: 'maxpool', name: 'pool', inShape: S, outShape: [2, 2, 3], poolSize: [2, 2], strides: [2, 2] },
        dense(r, 'out', 12, 3, 'linear'),
      ],
    },
    // Two unsigned tensors added without activation: the sum is unsigned, so a max pool may read it.
    unsignedSum: {
      name: 'residual-unsigned',
      inputShape: [4, 4, 1],
      notes: [],
      layers: [
        conv(r, 'c0', [4, 4, 1], 2, 3, 'relu'),
        conv(r, 'c1', [4, 4, 2], 2, 3, 'relu'),
        add('res', [1, 2], 32, 'linear'),
        { kind: 'maxpool', name: 'pool', inShape: [4, 4, 2], outShape: [2, 2, 2], poolSize: [2, 2], strides: [2, 2] },
        dense(r, 'out', 8, 2, 'linear'),
      ],
    },
  };
}

const size = (m: FloatModel) => m.inputShape.reduce((a, b) => a * b, 1);
const quantized = (m: FloatModel): QuantizedModel => quantizeModel(m, randomInputs(40, size(m), 8, 5), { inputBits: 8, inputScale: 1 / 255 });
const testInputs = (m: FloatModel) => [...randomInputs(6, size(m), 8, 9), new Array(size(m)).fill(0), new Array(size(m)).fill(255)];

describe('residual models: quantization', () => {
  it('quantizes the add with integer weights aligning both scales, and linear branches to signed tensors', () => {
    const q = quantized(models().signedCnn);
    const res = q.layers[2];
    expect(res.kind).toBe('add');
    if (res.kind !== 'add') return;
    expect(res.inputs).toEqual([2, 1]);
    expect(res.requant.activation).toBe('linear'); // a signed source keeps the sum signed
    const scaleOf = (t: number) => (q.layers[t - 1] as { requant: { outScale: number } }).requant.outScale;
    for (const [k, t] of res.inputs.entries()) {
      expect(res.weights[k] / 2 ** res.requant.shift).toBeCloseTo(scaleOf(t) / res.requant.outScale, 2);
    }
    expect(q.layers[1].kind === 'conv2d' && q.layers[1].requant.activation).toBe('linear');
    expect(q.layers[3].kind === 'globalavgpool' && q.layers[3].requant.activation).toBe('linear');
    expect(quantized(models().unsignedSum).layers[2].kind === 'add' && (quantized(models().unsignedSum).layers[2] as { requant: { activation: string } }).requant.activation).toBe(
      'relu',
    );
  });

  it('the integer reference tracks the float model and its linear tensors go negative', () => {
    for (const [name, m] of Object.entries(models())) {
      const q = quantized(m);
      let worst = 0;
      let range = 0;
      let negatives = 0;
      for (const x of testInputs(m)) {
        const ref = runQuantized(q, x);
        const float = Array.from(
          runFloat(
            m,
            x.map((v) => v / 255),
          ),
        );
        ref.logits.forEach((v, j) => (worst = Math.max(worst, Math.abs(v * q.output.logitScale - float[j]))));
        range = Math.max(range, ...float.map(Math.abs));
        negatives += ref.hidden.flat().filter((v) => v < 0).length;
      }
      expect(worst / range, name).toBeLessThan(0.08);
      if (name === 'signedCnn' || name === 'projection' || name === 'mlp') expect(negatives, name).toBeGreaterThan(0);
      else expect(negatives, name).toBe(0);
    }
  });

  it('malformed graphs and signed max pools are refused, naming the layer', () => {
    const m = models();
    const forward: FloatModel = { ...m.mlp, layers: m.mlp.layers.map((l, i) => (i === 2 ? add('res', [1, 4], 8, 'relu') : l)) };
    expect(() => quantized(forward)).toThrow(/layer res \(add\) reads tensor 4, which is not an earlier tensor/);
    const mismatch: FloatModel = { ...m.mlp, layers: m.mlp.layers.map((l, i) => (i === 2 ? add('res', [0, 2], 8, 'relu') : l)) };
    expect(() => quantized(mismatch)).toThrow(/layer res \(add\) reads 8 values from tensor 0, which has 12/);
    const fromLater: FloatModel = { ...m.mlp, layers: m.mlp.layers.map((l, i) => (i === 1 ? { ...(l as FloatDense), from: 3 } : l)) };
    expect(() => quantized(fromLater)).toThrow(/layer h1 \(dense\) reads tensor 3/);
    const signedPool: FloatModel = { ...m.projection, layers: m.projection.layers.map((l, i) => (i === 3 ? add('res', [2, 3], 75, 'linear') : l)) };
    expect(() => quantized(signedPool)).toThrow(/layer pool \(maxpool\) reads a signed tensor/);
    const lastAdd: FloatModel = { ...m.mlp, layers: m.mlp.layers.slice(0, 3) };
    expect(() => quantized(lastAdd)).toThrow(/layer res \(add\): the last layer must be Dense/);
  });

  it('a hand-edited quantized model of the wrong shape is refused by name before circom runs', () => {
    const q = quantized(models().mlp);
    const last = q.layers[3] as QDense;
    const requantized = { ...q, layers: [...q.layers.slice(0, 3), { ...last, requant: (q.layers[0] as QDense).requant }] };
    expect(() => emitCircuit(requantized)).toThrow(/the last layer \(out, dense\) must be a dense layer without requantization/);
    expect(() => emitCircuit({ ...q, output: { ...q.output, size: 5 } })).toThrow(/output.size is 5, the last layer out has 4 outputs/);
    const dangling = { ...q, layers: q.layers.map((l, i) => (i === 2 ? { ...l, inputs: [1, 7] } : l)) as QuantizedModel['layers'] };
    expect(() => emitCircuit(dangling)).toThrow(/layer res \(add\) reads tensor 7/);
  });
});

describe('residual models: circuits', () => {
  for (const name of Object.keys(models())) {
    it(`${name}: witness logits and class equal runQuantized on random and edge inputs`, async () => {
      const m = models()[name];
      const q = quantized(m);
      const compiled = await compileModel(q, { artifactsDir: dir });
      for (const x of testInputs(m)) {
        const w = await computeWitness(compiled.circuit.wasmPath, { x });
        const ref = runQuantized(q, x);
        expect(
          w.slice(1, 1 + q.output.size).map((v) => Number(fieldToSigned(v))),
          name,
        ).toEqual(ref.logits);
        expect(Number(w[1 + compiled.layout.classIndex])).toBe(ref.predicted);
      }
    });
  }

  it('no wire of the signed layer and the add can move alone: every change breaks a constraint', async () => {
    const q = quantized(models().mlp);
    const compiled = await compileModel(q, { artifactsDir: dir });
    const [r1cs, symbols] = await Promise.all([loadR1cs(compiled.circuit.r1csPath), loadSymbols(compiled.circuit.symPath)]);
    const x = testInputs(models().mlp)[0];
    const w = await computeWitness(compiled.circuit.wasmPath, { x });
    expect(checkWitness(r1cs, w).ok).toBe(true);
    // Wires of layer h1 (linear, signed) and the add, except IsZero's inverse hint (free when its input is 0).
    const wires = [...symbols].filter(([name, i]) => i > 0 && /^main\.(a1|a2|rq1|rq2)\b/.test(name) && !name.endsWith('.inv')).map(([, i]) => i);
    expect(wires.length).toBeGreaterThan(30);
    for (const i of new Set(wires)) {
      for (const delta of [1n, FIELD_P - 1n, 1n << 8n]) {
        const tampered = [...w];
        tampered[i] = (tampered[i] + delta) % FIELD_P;
        expect(checkWitness(r1cs, tampered).ok, `wire ${i} moved by ${delta}`).toBe(false);
      }
    }
  });

  it('the soundness audit passes: no unconstrained wire, exact constraint attribution', async () => {
    for (const name of ['signedCnn', 'projection']) {
      const r = await auditModel(quantized(models()[name]), { artifactsDir: dir });
      expect(r.failures, name).toEqual([]);
      expect(r.expectedNonlinear, name).toBe(r.nonlinear);
      expect(
        r.findings.filter((f) => f.kind === 'unused'),
        name,
      ).toEqual([]);
      expect(
        r.findings.every((f) => f.allowedBy?.template === 'IsZero'),
        name,
      ).toBe(true);
    }
  });

  it('a residual CNN proves and verifies; a changed logit is rejected', async () => {
    const m = models().projection;
    const model = await setupModel(await compileModel(quantized(m), { artifactsDir: dir }), { artifactsDir: dir });
    const x = testInputs(m)[1];
    const bundle = await prove(model, x);
    expect(bundle.prediction.logits).toEqual(runQuantized(model.qmodel, x).logits.map(String));
    expect((await verify(bundle, model.key)).valid).toBe(true);
    const signals = [...bundle.publicSignals];
    signals[0] = String((BigInt(signals[0]) + 1n) % FIELD_P);
    expect((await verify({ ...bundle, publicSignals: signals }, model.key)).valid).toBe(false);
  });
});

describe('imported residual models: both import paths, one circuit output', () => {
  it('tfjs and ONNX files of the same residual weights quantize to circuits whose outputs equal each other and the reference', async () => {
    const { loadTfModule, randomizeWeights, residualArchitectures, saveTfjs } = await import('./helpers/residual.js');
    const { tfjsToOnnx } = await import('./helpers/tfjsToOnnx.js');
    const { loadTfjsLayersModel } = await import('../src/model/tfjsLayers.js');
    const { importOnnxModel } = await import('../src/model/onnx.js');
    const tf = await loadTfModule();
    for (const [name, build] of Object.entries(residualArchitectures(tf))) {
      const keras = build();
      randomizeWeights(tf, keras, name.length + 3);
      const fromTfjs = await loadTfjsLayersModel(await saveTfjs(tf, keras, path.join(dir, `import-${name}`)));
      const fromOnnx = importOnnxModel(tfjsToOnnx(keras), name);
      const outputs: number[][][] = [];
      for (const float of [fromTfjs, fromOnnx]) {
        expect(
          float.layers.some((l) => l.kind === 'add'),
          name,
        ).toBe(true);
        const q = quantized(float);
        const compiled = await compileModel(q, { artifactsDir: dir });
        const perInput: number[][] = [];
        for (const x of testInputs(float).slice(0, 4)) {
          const w = await computeWitness(compiled.circuit.wasmPath, { x });
          const logits = w.slice(1, 1 + q.output.size).map((v) => Number(fieldToSigned(v)));
          expect(logits, `${name}: circuit == reference`).toEqual(runQuantized(q, x).logits);
          perInput.push(logits);
        }
        outputs.push(perInput);
      }
      expect(outputs[1], `${name}: ONNX import == tfjs import, through the circuit`).toEqual(outputs[0]);
    }
  });
});
