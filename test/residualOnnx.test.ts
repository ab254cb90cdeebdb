import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { importOnnxModel } from '../src/model/onnx.js';
import { loadTfjsLayersModel } from '../src/model/tfjsLayers.js';
import { layerGraphError, runFloat, type FloatModel } from '../src/model/types.js';
import { rng } from './helpers/models.js';
import { attr, CURRENT, floatTensor, int64Tensor, OnnxChain } from './helpers/onnxWriter.js';
import { loadTfModule, predict, randomizeWeights, residualArchitectures, saveTfjs } from './helpers/residual.js';
import { tfjsToOnnx } from './helpers/tfjsToOnnx.js';
import { expectZkinferError } from './helpers/errors.js';

/**
 * ONNX graphs with residual Adds import to a float IR DAG that computes what onnxruntime computes; the
 * residual tfjs models written out as ONNX import to the same function as their tfjs import.
 */
type Tf = Awaited<ReturnType<typeof loadTfModule>>;
let tf: Tf;
let dir: string;

beforeAll(async () => {
  tf = await loadTfModule();
  dir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-residual-onnx-'));
});

let r = rng(7);
const rand = (n: number, scale = 1) => Array.from({ length: n }, () => (r() * 2 - 1) * scale);
const w = (c: OnnxChain, name: string, dims: number[], scale = 0.5) =>
  c.init(
    floatTensor(
      name,
      dims,
      rand(
        dims.reduce((a, b) => a * b, 1),
        scale,
      ),
    ),
  );

/** NCHW (batch 1) -> channels-last; identity for a [1, N] input. */
function toHwc(x: Float32Array, dims: number[]): Float32Array {
  if (dims.length !== 4) return x;
  const [, c, h, wd] = dims;
  const y = new Float32Array(x.length);
  for (let ch = 0; ch < c; ch++) for (let p = 0; p < h * wd; p++) y[p * c + ch] = x[ch * h * wd + p];
  return y;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(Math.abs(actual[i] - expected[i]), `${what}[${i}]`).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(expected[i])));
}

/** Import and compare runFloat with onnxruntime on random inputs; returns the import and the (HWC) inputs used. */
async function expectMatchesOrt(bytes: Uint8Array, dims: number[], trials = 6): Promise<{ model: FloatModel; inputs: Float32Array[] }> {
  const model = importOnnxModel(bytes);
  const n = dims.reduce((a, b) => a * b, 1);
  expect(layerGraphError(model.layers, n)).toBeNull();
  const session = await ort.InferenceSession.create(bytes);
  const inputs: Float32Array[] = [];
  const outputs: Float32Array[] = [];
  for (let t = 0; t < trials; t++) {
    const x = Float32Array.from(rand(n, 1.5));
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, dims) });
    const expected = out[session.outputNames[0]].data as Float32Array;
    inputs.push(toHwc(x, dims));
    outputs.push(expected);
    expectClose(runFloat(model, inputs[t]), expected, `trial ${t}`);
  }
  expect(outputs.slice(1).some((o) => o.some((v, i) => Math.abs(v - outputs[0][i]) > 1e-3))).toBe(true);
  return { model, inputs };
}

const summary = (m: FloatModel) => m.layers.map((l) => [l.kind, l.kind === 'add' ? l.inputs : (l.from ?? null), 'activation' in l ? l.activation : null]);

describe('residual tfjs models written as ONNX: ONNX import = onnxruntime = tfjs import = tfjs predict', () => {
  for (const arch of ['identity', 'projection', 'mlp']) {
    it(arch, async () => {
      const model = residualArchitectures(tf)[arch]();
      randomizeWeights(tf, model, 40 + arch.length);
      const bytes = tfjsToOnnx(model);
      const shape = (model.inputs[0].shape as number[]).slice(1);
      const dims = shape.length === 3 ? [1, shape[2], shape[0], shape[1]] : [1, shape[0]];
      const { model: fromOnnx, inputs } = await expectMatchesOrt(bytes, dims);
      const fromTfjs = await loadTfjsLayersModel(await saveTfjs(tf, model, path.join(dir, arch)));
      expect(summary(fromOnnx)).toEqual(summary(fromTfjs));
      for (const [i, x] of inputs.entries()) {
        const ours = runFloat(fromOnnx, x);
        expectClose(ours, runFloat(fromTfjs, x), `input ${i}: ONNX import vs tfjs import`);
        expectClose(ours, predict(tf, model, x), `input ${i}: ONNX import vs tfjs predict`);
      }
    });
  }
});

describe('hand-written residual ONNX graphs match onnxruntime', () => {
  it('MLP: Relu read by both the branch and the skip, MatMul + bias Add, residual Add + Relu, Gemm', async () => {
    r = rng(8);
    const c = new OnnxChain('x', ['batch', 12]);
    c.op('Gemm', [w(c, 'W1', [16, 12]), w(c, 'b1', [16])], [attr.int('transB', 1)], 'fc1').op('Relu', [], [], 'r1');
    const skip = c.current;
    c.op('MatMul', [w(c, 'W2', [16, 16])], [], 'fc2').op('Add', [w(c, 'b2', [16])], [], 'bias2');
    c.op('Add', [skip], [], 'residual')
      .op('Relu', [], [], 'r2')
      .op('Gemm', [w(c, 'W3', [16, 4]), w(c, 'b3', [4])], [], 'out');
    const { model } = await expectMatchesOrt(c.build(), [1, 12]);
    expect(summary(model)).toEqual([
      ['dense', null, 'relu'],
      ['dense', null, 'linear'],
      ['add', [2, 1], 'relu'],
      ['dense', null, 'linear'],
    ]);
  });

  it('the graph input as the skip, the bias Add written with the bias first', async () => {
    r = rng(9);
    const c = new OnnxChain('x', [1, 8]);
    c.op('MatMul', [w(c, 'W', [8, 8])], [], 'fc').op('Add', [w(c, 'b', [8]), CURRENT], [], 'bias');
    c.op('Relu')
      .op('Add', ['x'], [], 'residual')
      .op('Gemm', [w(c, 'G', [8, 3])], [], 'out');
    const { model } = await expectMatchesOrt(c.build(), [1, 8]);
    expect(summary(model)).toEqual([
      ['dense', null, 'relu'],
      ['add', [1, 0], 'linear'],
      ['dense', null, 'linear'],
    ]);
  });

  it('conv block on the input: Conv -> Relu -> Conv -> Add(input) -> MaxPool -> Relu (moves before the pool into the add) -> Gemm', async () => {
    r = rng(10);
    const c = new OnnxChain('image', [1, 3, 6, 6]);
    const same = [attr.ints('kernel_shape', [3, 3]), attr.ints('pads', [1, 1, 1, 1])];
    c.op('Conv', [w(c, 'k1', [3, 3, 3, 3]), w(c, 'c1b', [3])], same, 'conv1').op('Relu');
    c.op('Conv', [w(c, 'k2', [3, 3, 3, 3])], same, 'conv2').op('Add', ['image'], [], 'residual');
    c.op('MaxPool', [], [attr.ints('kernel_shape', [2, 2]), attr.ints('strides', [2, 2])], 'pool').op('Relu', [], [], 'late');
    c.op('Flatten').op('Gemm', [w(c, 'G', [27, 5])], [], 'out');
    const { model } = await expectMatchesOrt(c.build(), [1, 3, 6, 6]);
    expect(summary(model)).toEqual([
      ['conv2d', null, 'relu'],
      ['conv2d', null, 'linear'],
      ['add', [2, 0], 'relu'],
      ['maxpool', null, null],
      ['dense', null, 'linear'],
    ]);
  });

  it('a value read by two nodes keeps its own activation: Relu before both readers folds', async () => {
    // fc -> Relu, read by the Add twice (x + x): one value, one fold.
    const bytes = afterFc((c) => c.op('Relu', [], [], 'act').op('Add', [c.current], [], 'double'));
    const { model } = await expectMatchesOrt(bytes, [1, 8]);
    expect(summary(model)).toEqual([
      ['dense', null, 'relu'],
      ['add', [1, 1], 'linear'],
      ['dense', null, 'linear'],
    ]);
  });
});

function expectRejected(bytes: Uint8Array, ...fragments: string[]): void {
  expectZkinferError(() => importOnnxModel(bytes), 'UNSUPPORTED_LAYER', ...fragments);
}

/** x [1, 8] -> Gemm 'fc' [8] -> `then` (which gets fc's output name) -> Gemm 'out' [3]. */
function afterFc(then: (c: OnnxChain, fc: string) => void, outputs?: (c: OnnxChain) => string[]): Uint8Array {
  r = rng(11);
  const c = new OnnxChain('x', [1, 8]);
  c.op('Gemm', [w(c, 'W', [8, 8])], [], 'fc');
  then(c, c.current);
  c.op('Gemm', [w(c, 'G', [8, 3])], [], 'out');
  return c.build({ outputs: outputs?.(c) });
}

describe('nodes that do not lead to the output', () => {
  it('are dropped with a note, even unsupported ones, and do not block folds', async () => {
    const bytes = afterFc((c, fc) => {
      c.op('Gemm', [w(c, 'D', [8, 4])], [], 'dead').op('Sigmoid', [], [], 'dead_sigmoid');
      c.current = fc;
      c.op('Relu', [], [], 'act');
    });
    const { model } = await expectMatchesOrt(bytes, [1, 8]);
    expect(model.layers.map((l) => l.name)).toEqual(['fc', 'out']);
    expect(model.layers[0].kind === 'dense' && model.layers[0].activation).toBe('relu');
    expect(model.notes).toEqual([
      "node 'dead' (Gemm) does not lead to the graph output and is ignored",
      "node 'dead_sigmoid' (Sigmoid) does not lead to the graph output and is ignored",
    ]);
  });
});

describe('residual ONNX graphs the IR cannot express are rejected, naming the node', () => {
  it('a Relu whose input the skip Add reads un-activated', () => {
    expectRejected(
      afterFc((c, fc) => c.op('Relu', [], [], 'act').op('Add', [fc], [], 'skip')),
      "node 'act' (Relu)",
      'cannot fold the activation into fc',
      "also read by node 'skip' (Add)",
    );
  });

  it('a BatchNormalization whose input the skip Add reads un-normalized', () => {
    const bn = (c: OnnxChain) =>
      ['s', 'b', 'm']
        .map((n) => w(c, n, [8]))
        .concat(
          c.init(
            floatTensor(
              'v',
              [8],
              rand(8).map((v) => 1 + 0.5 * v),
            ),
          ),
        );
    expectRejected(
      afterFc((c, fc) => c.op('BatchNormalization', bn(c), [], 'bn').op('Add', [fc], [], 'skip')),
      "node 'bn' (BatchNormalization)",
      'cannot fold the BatchNormalization into fc',
      "'skip' (Add)",
    );
  });

  it('a bias Add whose input passes through an Identity the skip also reads', () => {
    expectRejected(
      afterFc((c) => {
        const id = c.op('Identity', [], [], 'id').current;
        c.op('Add', [w(c, 'bias', [8])], [], 'bias').op('Add', [id], [], 'skip');
      }),
      "node 'bias' (Add)",
      'cannot fold the bias into fc',
      "value 'id_out' is also read by node 'skip' (Add)",
    );
  });

  it('an Add of differently shaped values', () => {
    expectRejected(
      afterFc((c, fc) => c.op('Gemm', [w(c, 'H', [8, 6])], [], 'six').op('Add', [fc], [], 'skip')),
      "node 'skip' (Add)",
      "'six_out' [1, 6] and 'fc_out' [1, 8] have different shapes",
    );
  });

  it('an Add of a flattened map and a vector (same length, different element order)', () => {
    r = rng(12);
    const c = new OnnxChain('image', [1, 2, 2, 2]);
    c.op('Conv', [w(c, 'k', [2, 2, 1, 1])], [], 'conv').op('Flatten', [], [], 'flat');
    const flat = c.current;
    c.op('Gemm', [w(c, 'G', [8, 8])], [], 'fc')
      .op('Add', [flat], [], 'skip')
      .op('Gemm', [w(c, 'H', [8, 2])], [], 'out');
    expectRejected(c.build(), "node 'skip' (Add)", '(a flattened map)', 'different shapes');
  });

  it('Concat and Sum of computed values', () => {
    expectRejected(
      afterFc((c, fc) => c.op('Concat', [fc], [attr.int('axis', 1)], 'cat')),
      "node 'cat' (Concat)",
      'only Add combines two',
    );
    expectRejected(
      afterFc((c, fc) => c.op('Sum', [fc, 'x'], [], 'sum3')),
      "node 'sum3' (Sum)",
      '3 computed values',
    );
  });

  it('a second graph output taken from inside the graph', () => {
    expectRejected(
      afterFc(
        (c) => c.op('Relu', [], [], 'r'),
        (c) => [c.current, 'fc_out'],
      ),
      '2 outputs',
    );
  });
});

describe("PyTorch's x.view(x.size(0), -1)", () => {
  /** Conv -> Relu -> Shape/Gather/Unsqueeze/Concat/Reshape -> Gemm, with the Gather index and Unsqueeze form given. */
  function viewFlatten(index: number, opset: 11 | 13): Uint8Array {
    r = rng(13);
    const c = new OnnxChain('image', [1, 2, 4, 4]);
    c.op('Conv', [w(c, 'k', [3, 2, 3, 3]), w(c, 'kb', [3])], [attr.ints('pads', [1, 1, 1, 1])], 'conv').op('Relu');
    const x = c.current;
    c.op('Shape', [], [], 'shape').op('Gather', [c.init(int64Tensor('idx', [], [index]))], [], 'gather');
    if (opset === 13) c.op('Unsqueeze', [c.init(int64Tensor('axes', [1], [0]))], [], 'unsqueeze');
    else c.op('Unsqueeze', [], [attr.ints('axes', [0])], 'unsqueeze');
    c.op('Concat', [c.init(int64Tensor('minus1', [1], [-1]))], [attr.int('axis', 0)], 'concat');
    c.op('Reshape', [x, CURRENT], [], 'view');
    c.op('Gemm', [w(c, 'G', [48, 5])], [], 'fc');
    return c.build({ opset, irVersion: opset === 13 ? 8 : 6 });
  }

  for (const opset of [11, 13] as const) {
    it(`imports as Flatten (Unsqueeze axes as ${opset === 13 ? 'an input' : 'an attribute'}) and matches onnxruntime`, async () => {
      const { model } = await expectMatchesOrt(viewFlatten(0, opset), [1, 2, 4, 4]);
      expect(summary(model)).toEqual([
        ['conv2d', null, 'relu'],
        ['dense', null, 'linear'],
      ]);
      expect(model.notes.join()).toMatch(/node 'view' .* x\.view\(x\.size\(0\), -1\)\) imported as Flatten/);
    });
  }

  it('a Gather of another dimension is not the pattern and stays rejected, at the first unsupported node', () => {
    expectRejected(viewFlatten(1, 13), "node 'shape' (Shape)", 'op type Shape is not supported');
  });
});
