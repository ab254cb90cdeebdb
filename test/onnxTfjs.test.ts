import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { compileModel } from '../src/circuit/index.js';
import { computeWitness, fieldToSigned } from '../src/circuit/witness.js';
import { quantizeModel } from '../src/quantize/quantize.js';
import { runQuantized } from '../src/quantize/reference.js';
import { loadMnistSplit } from '../src/model/mnist.js';
import { importOnnxModel } from '../src/model/onnx.js';
import { loadTf } from '../src/model/tf.js';
import { loadTfjsLayersModel } from '../src/model/tfjsLayers.js';
import { runFloat, type FloatModel } from '../src/model/types.js';
import { PACKAGE_ROOT } from '../src/util/fs.js';
import { attr, floatTensor, OnnxChain } from './helpers/onnxWriter.js';

// The bundled CNN written out as ONNX (NCHW, OIHW kernels, Gemm rows in CHW order) must import to the
// same function as the tfjs model itself: the two importers' layout conversions meet in one IR.

const MODEL_JSON = path.join(PACKAGE_ROOT, 'models/mnist-cnn/model.json');
const DIGITS = 20;
const TOLERANCE = 1e-4;

interface WeightSpec {
  name: string;
  shape: number[];
}

function readTfjsWeights(): { json: Record<string, unknown>; specs: WeightSpec[]; data: ArrayBuffer; weights: Map<string, Float32Array> } {
  const json = JSON.parse(readFileSync(MODEL_JSON, 'utf8')) as { weightsManifest: Array<{ paths: string[]; weights: WeightSpec[] }> };
  const group = json.weightsManifest[0];
  const bin = readFileSync(path.join(path.dirname(MODEL_JSON), group.paths[0]));
  const data = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
  const weights = new Map<string, Float32Array>();
  let offset = 0;
  for (const spec of group.weights) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    weights.set(spec.name, new Float32Array(data.slice(offset, offset + 4 * n)));
    offset += 4 * n;
  }
  return { json, specs: group.weights, data, weights };
}

/** Export: Conv(kernel HWIO -> OIHW) -> Relu -> MaxPool -> Flatten -> Gemm(rows HWC -> CHW). */
function exportOnnx(weights: Map<string, Float32Array>, specs: WeightSpec[]): Uint8Array {
  const get = (name: string) => {
    const v = weights.get(name);
    const spec = specs.find((s) => s.name === name);
    if (!v || !spec) throw new Error(`weight ${name} missing from the bundled CNN`);
    return { v, shape: spec.shape };
  };
  const k = get('conv/kernel');
  const [kH, kW, cin, cout] = k.shape;
  const oihw = new Float32Array(k.v.length);
  for (let co = 0; co < cout; co++)
    for (let ci = 0; ci < cin; ci++)
      for (let y = 0; y < kH; y++) for (let x = 0; x < kW; x++) oihw[((co * cin + ci) * kH + y) * kW + x] = k.v[((y * kW + x) * cin + ci) * cout + co];
  const d = get('logits/kernel');
  const [rows, units] = d.shape;
  const side = Math.round(Math.sqrt(rows / cout)); // pooled map is side x side x cout
  expect(side * side * cout).toBe(rows);
  const chw = new Float32Array(d.v.length);
  for (let c = 0; c < cout; c++) for (let p = 0; p < side * side; p++) for (let j = 0; j < units; j++) chw[(c * side * side + p) * units + j] = d.v[(p * cout + c) * units + j];

  const chain = new OnnxChain('image', [1, cin, 28, 28]);
  chain.op(
    'Conv',
    [chain.init(floatTensor('conv_W', [cout, cin, kH, kW], oihw)), chain.init(floatTensor('conv_B', [cout], get('conv/bias').v))],
    [attr.ints('strides', [2, 2]), attr.str('auto_pad', 'VALID')],
    'conv',
  );
  chain
    .op('Relu')
    .op('MaxPool', [], [attr.ints('kernel_shape', [2, 2]), attr.ints('strides', [2, 2])], 'pool')
    .op('Flatten');
  chain.op('Gemm', [chain.init(floatTensor('fc_W', [rows, units], chw)), chain.init(floatTensor('fc_B', [units], get('logits/bias').v))], [], 'logits');
  return chain.build();
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(Math.abs(actual[i] - expected[i]), `${what}[${i}]`).toBeLessThanOrEqual(TOLERANCE);
}

const digits = loadMnistSplit().test.slice(0, DIGITS);
/** 28x28x1 channels-last is the same flat order as the row-major pixels. */
const inputs = digits.map((d) => Float32Array.from(d.pixels, (p) => p / 255));

const tfjsImport: FloatModel = await loadTfjsLayersModel(MODEL_JSON);

describe('bundled CNN: ONNX export + import = tfjs', () => {
  const { weights, specs, json, data } = readTfjsWeights();
  const bytes = exportOnnx(weights, specs);
  const onnxModel = importOnnxModel(bytes);

  it('imports as conv -> maxpool -> dense on a [28, 28, 1] input', () => {
    expect(onnxModel.inputShape).toEqual([28, 28, 1]);
    expect(onnxModel.layers.map((l) => l.kind)).toEqual(['conv2d', 'maxpool', 'dense']);
  });

  it(`runFloat(ONNX import) = tfjs predict on ${DIGITS} held-out digits, and the model classifies them`, async () => {
    const { tf } = await loadTf();
    const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology as object, weightSpecs: specs as never, weightData: data }));
    const x = tf.tensor4d(Float32Array.from(inputs.flatMap((v) => Array.from(v))), [DIGITS, 28, 28, 1]);
    const y = model.predict(x) as import('@tensorflow/tfjs').Tensor;
    const logits = (await y.data()) as Float32Array;
    tf.dispose([x, y]);
    model.dispose();
    let correct = 0;
    inputs.forEach((input, i) => {
      const ours = runFloat(onnxModel, input);
      expectClose(ours, logits.subarray(i * 10, i * 10 + 10), `digit ${i}`);
      if (ours.indexOf(Math.max(...ours)) === digits[i].label) correct++;
    });
    expect(correct).toBeGreaterThanOrEqual(DIGITS - 3); // a trained model, not noise (94.7% held out)
  });

  it('onnxruntime on the exported file agrees with the ONNX import', async () => {
    const session = await ort.InferenceSession.create(bytes);
    for (const [i, input] of inputs.entries()) {
      const out = await session.run({ image: new ort.Tensor('float32', input, [1, 1, 28, 28]) });
      expectClose(runFloat(onnxModel, input), out[session.outputNames[0]].data as Float32Array, `digit ${i}`);
    }
  });

  it(`runFloat(ONNX import) = runFloat(tfjs import) on ${DIGITS} held-out digits`, () => {
    for (const [i, input] of inputs.entries()) expectClose(runFloat(onnxModel, input), runFloat(tfjsImport, input), `digit ${i}`);
  });

  it('both import paths give the same circuit outputs (quantized with the same calibration)', async () => {
    const artifactsDir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-onnx-tfjs-'));
    const calibration = loadMnistSplit()
      .train.slice(0, 300)
      .map((s) => s.pixels);
    const options = { inputBits: 8, inputScale: 1 / 255 };
    const [fromOnnx, fromTfjs] = [onnxModel, tfjsImport].map((m) => quantizeModel(m, calibration, options));
    const circuits = await Promise.all([fromOnnx, fromTfjs].map((q) => compileModel(q, { artifactsDir })));
    for (const digit of digits.slice(0, 5)) {
      const x = Array.from(digit.pixels);
      const [a, b] = await Promise.all(circuits.map((c) => computeWitness(c.circuit.wasmPath, { x })));
      const outputs = (w: bigint[]) => w.slice(1, 12).map((v) => String(fieldToSigned(v)));
      expect(outputs(a)).toEqual(outputs(b));
      expect(outputs(a).slice(0, 10)).toEqual(runQuantized(fromTfjs, x).logits.map(String));
    }
  });
});
