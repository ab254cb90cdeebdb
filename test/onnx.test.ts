import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { importOnnxModel } from '../src/model/onnx.js';
import { runFloat, type FloatModel } from '../src/model/types.js';
import { rng } from './helpers/models.js';
import { attr, CURRENT, float16Tensor, floatTensor, int64Tensor, OnnxChain, type AttrSpec } from './helpers/onnxWriter.js';
import { expectZkinferError } from './helpers/errors.js';

// Every model here is built from known random weights, imported, and run with runFloat on channels-last
// input; onnxruntime runs the same bytes on the NCHW input. They must agree to float32 precision.

// Reseeded by each model builder, so building the same model twice gives the same weights.
let r = rng(2024);
const rand = (n: number, scale = 1) => Array.from({ length: n }, () => (r() * 2 - 1) * scale);
const w = (chain: OnnxChain, name: string, dims: number[], scale = 0.5) =>
  chain.init(
    floatTensor(
      name,
      dims,
      rand(
        dims.reduce((a, b) => a * b, 1),
        scale,
      ),
    ),
  );

async function runOrt(bytes: Uint8Array, input: Float32Array, dims: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', input, dims) });
  return out[session.outputNames[0]].data as Float32Array;
}

/** NCHW (batch 1) -> the IR's channels-last flat layout. */
function toHwc(x: Float32Array, c: number, h: number, wd: number): Float32Array {
  const y = new Float32Array(x.length);
  for (let ch = 0; ch < c; ch++) for (let p = 0; p < h * wd; p++) y[p * c + ch] = x[ch * h * wd + p];
  return y;
}

/** Import `bytes` and compare runFloat with onnxruntime on `trials` random inputs; returns the import. */
async function expectMatchesOrt(bytes: Uint8Array, dims: number[], trials = 5): Promise<FloatModel> {
  const model = importOnnxModel(bytes);
  const n = dims.reduce((a, b) => a * b, 1);
  const outputs: Float32Array[] = [];
  for (let t = 0; t < trials; t++) {
    const x = Float32Array.from(rand(n, 2));
    const expected = await runOrt(bytes, x, dims);
    outputs.push(expected);
    const actual = runFloat(model, dims.length === 4 ? toHwc(x, dims[1], dims[2], dims[3]) : x);
    expect(actual.length).toBe(expected.length);
    for (let i = 0; i < expected.length; i++) {
      const diff = Math.abs(actual[i] - expected[i]);
      expect(diff, `output ${i} of trial ${t}`).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(expected[i])));
    }
  }
  // Guard against a vacuous comparison: the outputs must depend on the input (not, e.g., all clipped to 0).
  expect(outputs.slice(1).some((o) => o.some((v, i) => Math.abs(v - outputs[0][i]) > 1e-3))).toBe(true);
  return model;
}

function mlp(softmax: boolean): Uint8Array {
  r = rng(1);
  const c = new OnnxChain('x', ['batch', 20]);
  c.op('Gemm', [w(c, 'W1', [16, 20]), w(c, 'b1', [16])], [attr.int('transB', 1)], 'fc1').op('Relu');
  c.op('MatMul', [w(c, 'W2', [16, 12], 2)], [], 'fc2').op('Add', [w(c, 'b2', [12])]);
  c.op('Clip', [c.init(floatTensor('zero', [], [0])), c.init(floatTensor('six', [], [6]))]);
  c.op('Gemm', [w(c, 'W3', [12, 5]), w(c, 'b3', [1, 5])], [], 'logits');
  if (softmax) c.op('Softmax', [], [attr.int('axis', -1)]);
  return c.build();
}

/** Conv (asymmetric pads, bias) -> Relu -> MaxPool -> Flatten -> Gemm on a non-square 2-channel input. */
function smallCnn(): Uint8Array {
  r = rng(2);
  const c = new OnnxChain('image', [1, 2, 9, 8]);
  c.op('Conv', [w(c, 'cw', [3, 2, 3, 3]), w(c, 'cb', [3])], [attr.ints('kernel_shape', [3, 3]), attr.ints('pads', [1, 0, 1, 2])], 'conv');
  c.op('Relu').op('MaxPool', [], [attr.ints('kernel_shape', [2, 2]), attr.ints('strides', [2, 2])]);
  c.op('Flatten', [], [attr.int('axis', 1)]).op('Gemm', [w(c, 'fw', [5, 48]), w(c, 'fb', [5])], [attr.int('transB', 1)], 'fc');
  return c.build();
}

/** Conv (SAME_UPPER, stride 2x1, no bias) -> BN -> Clip(0,6) -> depthwise Conv -> Relu -> AveragePool -> GAP -> Flatten -> Gemm -> BN. */
function bnCnn(): Uint8Array {
  r = rng(3);
  const c = new OnnxChain('image', [1, 3, 11, 10]);
  const bn = (name: string, n: number) => [
    c.init(
      floatTensor(
        `${name}_scale`,
        [n],
        rand(n).map((v) => 1 + 0.5 * v),
      ),
    ),
    c.init(floatTensor(`${name}_B`, [n], rand(n, 0.3))),
    c.init(floatTensor(`${name}_mean`, [n], rand(n, 0.3))),
    c.init(
      floatTensor(
        `${name}_var`,
        [n],
        rand(n).map((v) => 0.5 + 0.4 * v),
      ),
    ),
  ];
  c.op('Conv', [w(c, 'c1', [4, 3, 3, 2])], [attr.str('auto_pad', 'SAME_UPPER'), attr.ints('strides', [2, 1])], 'conv1');
  c.op('BatchNormalization', bn('bn1', 4), [attr.float('epsilon', 1e-3)]);
  c.op('Clip', [c.init(floatTensor('lo', [], [0])), c.init(floatTensor('hi', [], [6]))]);
  c.op('Conv', [w(c, 'dw', [4, 1, 3, 3], 1), w(c, 'db', [4])], [attr.int('group', 4), attr.ints('pads', [1, 1, 1, 1])], 'depthwise');
  c.op('Relu').op('AveragePool', [], [attr.ints('kernel_shape', [2, 2]), attr.ints('strides', [1, 2])]);
  c.op('GlobalAveragePool')
    .op('Flatten')
    .op('Gemm', [w(c, 'g', [4, 6], 1), w(c, 'gb', [6])], [], 'fc');
  c.op('BatchNormalization', bn('bn2', 6));
  return c.build();
}

/** Opset 10: Clip bounds as attributes, Conv -> MaxPool -> Clip (activation after the pool), Dropout,
 * a Reshape whose shape is a Constant node, MatMul + Add reading the flattened CHW map, Identity. */
function opset10Cnn(): Uint8Array {
  r = rng(4);
  const c = new OnnxChain('image', [1, 3, 8, 7]);
  c.op('Conv', [w(c, 'cw', [5, 3, 2, 2]), w(c, 'cb', [5])], [attr.ints('strides', [1, 2])], 'conv');
  c.op('MaxPool', [], [attr.ints('kernel_shape', [3, 2]), attr.ints('strides', [2, 1])]);
  c.op('Clip', [], [attr.float('min', 0), attr.float('max', 6)]).op('Dropout', [], [attr.float('ratio', 0.5)], 'drop', 2);
  c.nodes.push({ op_type: 'Constant', name: 'shape', input: [], output: ['shape_out'], attribute: [attr.tensor('value', int64Tensor('s', [2], [1, -1]))] });
  c.op('Reshape', [CURRENT, 'shape_out']);
  c.op('MatMul', [w(c, 'mw', [30, 7], 0.3)], [], 'fc')
    .op('Add', [w(c, 'mb', [1, 7])])
    .op('Identity');
  return c.build({ opset: 10, irVersion: 5 });
}

describe('ONNX import matches onnxruntime', () => {
  it('MLP: Gemm(transB) + Relu, MatMul + Add + Clip(0, 6), Gemm', async () => {
    const m = await expectMatchesOrt(mlp(false), [1, 20], 10);
    expect(m.inputShape).toEqual([20]);
    // The inputs saturate relu6: the same model with plain relu gives other outputs.
    const asRelu: FloatModel = { ...m, layers: m.layers.map((l, i) => (i === 1 ? { ...l, activation: 'relu' } : l)) as FloatModel['layers'] };
    const xs = Array.from({ length: 10 }, () => rand(20, 2));
    expect(xs.some((x) => runFloat(asRelu, x).some((v, i) => Math.abs(v - runFloat(m, x)[i]) > 1e-3))).toBe(true);
    expect(m.layers.map((l) => [l.kind, (l as { activation?: string }).activation])).toEqual([
      ['dense', 'relu'],
      ['dense', 'relu6'],
      ['dense', 'linear'],
    ]);
  });

  it('a final Softmax is dropped with a note and argmax is unchanged', async () => {
    const plain = importOnnxModel(mlp(false));
    const soft = importOnnxModel(mlp(true));
    expect(soft.notes.join()).toMatch(/Softmax .* replaced by argmax/);
    expect(plain.notes).toEqual([]);
    const x = Float32Array.from(rand(20, 2));
    const probs = await runOrt(mlp(true), x, [1, 20]);
    const logits = runFloat(soft, x);
    expect(Array.from(logits)).toEqual(Array.from(runFloat(plain, x)));
    const argmax = (a: ArrayLike<number>) => Array.from(a).indexOf(Math.max(...Array.from(a)));
    expect(argmax(logits)).toBe(argmax(probs));
  });

  it('CNN: Conv -> Relu -> MaxPool -> Flatten -> Gemm (HWIO kernel, CHW rows reordered to HWC)', async () => {
    const m = await expectMatchesOrt(smallCnn(), [1, 2, 9, 8]);
    expect(m.inputShape).toEqual([9, 8, 2]);
    const conv = m.layers[0];
    expect(conv.kind === 'conv2d' && [conv.outShape, conv.pads, conv.activation]).toEqual([[9, 8, 3], [1, 0, 1, 2], 'relu']);
  });

  it('CNN with BatchNormalization (conv and dense), Clip(0, 6), depthwise Conv, AveragePool, GlobalAveragePool', async () => {
    const m = await expectMatchesOrt(bnCnn(), [1, 3, 11, 10]);
    expect(m.layers.map((l) => l.kind)).toEqual(['conv2d', 'conv2d', 'avgpool', 'globalavgpool', 'dense']);
    const [c1, dw] = m.layers;
    expect(c1.kind === 'conv2d' && [c1.outShape, c1.pads, c1.activation]).toEqual([[6, 10, 4], [1, 0, 1, 1], 'relu6']);
    expect(dw.kind === 'conv2d' && dw.depthwise).toBe(true);
  });

  it('opset 10: Clip attributes, activation after MaxPool, Dropout, Constant + Reshape, MatMul + Add after a flattened map', async () => {
    const m = await expectMatchesOrt(opset10Cnn(), [1, 3, 8, 7]);
    expect(m.layers.map((l) => l.kind)).toEqual(['conv2d', 'maxpool', 'dense']);
    expect(m.layers[0].kind === 'conv2d' && m.layers[0].activation).toBe('relu6');
  });

  it('reads float_data initializers like raw_data ones', async () => {
    const c = new OnnxChain('x', [1, 6]);
    c.op('Gemm', [c.init(floatTensor('W', [6, 3], rand(18), 'float_data')), c.init(floatTensor('b', [3], rand(3), 'float_data'))]);
    await expectMatchesOrt(c.build(), [1, 6]);
  });
});

/** Build a model, expect the import to throw a ZkinferError with `code` whose message contains every fragment. */
function expectRejected(bytes: Uint8Array, code: string, ...fragments: string[]): void {
  expectZkinferError(() => importOnnxModel(bytes), code, ...fragments);
}

function convChain(convAttrs: AttrSpec[], weight?: (c: OnnxChain) => string): Uint8Array {
  const c = new OnnxChain('x', [1, 4, 8, 8]);
  c.op('Conv', [weight ? weight(c) : w(c, 'W', [2, 4, 3, 3])], convAttrs, 'conv9').op('GlobalAveragePool');
  return c.build();
}

describe('ONNX import rejects what it does not support, naming the node and the option', () => {
  it('Conv with dilations 2', () => {
    expectRejected(convChain([attr.ints('dilations', [2, 2])]), 'UNSUPPORTED_LAYER', "node 'conv9' (Conv)", 'dilations [2,2]');
  });

  it('an activation whose input a residual Add also reads (it cannot fold into that input)', () => {
    const c = new OnnxChain('x', [1, 8]);
    c.op('Gemm', [w(c, 'W', [8, 8])], [], 'fc');
    const h = c.current;
    c.op('Relu', [], [], 'act').op('Add', [CURRENT, h], [], 'skip');
    expectRejected(c.build(), 'UNSUPPORTED_LAYER', "node 'act' (Relu)", 'cannot fold the activation into fc', "node 'skip' (Add)");
  });

  it('an unsupported op (LSTM)', () => {
    const c = new OnnxChain('x', [1, 8]);
    c.op('LSTM', [w(c, 'W', [1, 16, 8]), w(c, 'R', [1, 16, 4])], [attr.int('hidden_size', 4)], 'lstm1');
    expectRejected(c.build(), 'UNSUPPORTED_LAYER', "node 'lstm1' (LSTM)", 'op type LSTM is not supported');
  });

  it('a float16 initializer', () => {
    const bytes = convChain([], (c) => c.init(float16Tensor('W16', [2, 4, 3, 3], rand(72))));
    expectRejected(bytes, 'UNSUPPORTED_LAYER', "node 'conv9' (Conv)", "'W16'", 'FLOAT16');
  });

  it('Clip(-1, 1)', () => {
    const c = new OnnxChain('x', [1, 8]);
    c.op('Gemm', [w(c, 'W', [8, 4])]).op('Clip', [c.init(floatTensor('lo', [], [-1])), c.init(floatTensor('hi', [], [1]))], [], 'clip1');
    expectRejected(c.build(), 'UNSUPPORTED_LAYER', "node 'clip1' (Clip)", 'Clip(min=-1, max=1)');
  });

  const cases: Array<[string, () => Uint8Array, string, string[]]> = [
    ['grouped (non-depthwise) Conv', () => convChain([attr.int('group', 2)], (c) => w(c, 'W', [2, 2, 3, 3])), 'UNSUPPORTED_LAYER', ["'conv9' (Conv)", 'group 2']],
    ['Conv auto_pad SAME_LOWER', () => convChain([attr.str('auto_pad', 'SAME_LOWER')]), 'UNSUPPORTED_LAYER', ["'conv9' (Conv)", 'auto_pad SAME_LOWER']],
    ['unknown Conv attribute', () => convChain([attr.int('frobnicate', 1)]), 'UNSUPPORTED_LAYER', ["'conv9' (Conv)", "attribute 'frobnicate'"]],
    ['MaxPool ceil_mode 1', () => poolChain([attr.int('ceil_mode', 1)]), 'UNSUPPORTED_LAYER', ["'pool' (MaxPool)", 'ceil_mode 1']],
    ['MaxPool with padding', () => poolChain([attr.ints('pads', [1, 1, 1, 1])]), 'UNSUPPORTED_LAYER', ["'pool' (MaxPool)", 'pads [1,1,1,1]']],
    ['Gemm alpha 2', () => gemmChain([attr.float('alpha', 2)]), 'UNSUPPORTED_LAYER', ["'fc' (Gemm)", 'alpha 2']],
    ['Gemm transA', () => gemmChain([attr.int('transA', 1)]), 'UNSUPPORTED_LAYER', ["'fc' (Gemm)", 'transA']],
    ['Reshape that is not a flatten', () => reshapeChain([1, 2, -1]), 'UNSUPPORTED_LAYER', ["'rs' (Reshape)", 'reshape to [1,2,-1]']],
    ['Softmax before the end', () => gemmChain([], (c) => c.op('Softmax', [], [], 'sm').op('Gemm', [w(c, 'W2', [4, 2])])), 'UNSUPPORTED_LAYER', ["'sm' (Softmax)", 'only a final']],
    ['activation after AveragePool', () => poolChain([], 'AveragePool', (c) => c.op('Relu', [], [], 'late')), 'UNSUPPORTED_LAYER', ["'late' (Relu)"]],
    [
      'BatchNormalization not after Conv/Gemm',
      () =>
        poolChain([], 'MaxPool', (c) =>
          c.op(
            'BatchNormalization',
            ['s', 'b', 'm', 'v'].map((n) => w(c, n, [4])),
            [],
            'bnx',
          ),
        ),
      'UNSUPPORTED_LAYER',
      ["'bnx' (BatchNormalization)"],
    ],
    ['graph output that is a feature map', () => poolChain([]), 'UNSUPPORTED_LAYER', ['feature map']],
    [
      'operator from another domain',
      () => gemmChain([], (c) => c.op('Gemm', [w(c, 'W2', [4, 4])], [], 'ms') && (c.nodes[1].domain = 'com.microsoft')),
      'UNSUPPORTED_LAYER',
      ["'ms' (Gemm)", 'com.microsoft'],
    ],
    ['two graph inputs', () => new OnnxChain('x', [1, 4]).op('Relu').build({ extraInputs: [{ name: 'y', dims: [1, 4] }] }), 'UNSUPPORTED_LAYER', ['2 inputs']],
    ['batch 2 input', () => gemmChain([], undefined, [2, 4]), 'BAD_MODEL', ["input 'x' has shape [2,4]"]],
    [
      'external weight data',
      () => gemmChain([], undefined, [1, 4], { data_location: 1, external_data: [{ key: 'location', value: 'w.bin' }] }),
      'UNSUPPORTED_LAYER',
      ["'fc' (Gemm)", 'external data'],
    ],
    ['bytes that are not ONNX', () => Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f]), 'BAD_MODEL', ['not an ONNX model']],
  ];
  for (const [name, build, code, fragments] of cases) it(name, () => expectRejected(build(), code, ...fragments));
});

function poolChain(poolAttrs: AttrSpec[], op = 'MaxPool', then?: (c: OnnxChain) => unknown): Uint8Array {
  const c = new OnnxChain('x', [1, 2, 6, 6]);
  c.op('Conv', [w(c, 'W', [4, 2, 1, 1])], [], 'conv').op(op, [], [attr.ints('kernel_shape', [2, 2]), attr.ints('strides', [2, 2]), ...poolAttrs], 'pool');
  then?.(c);
  return c.build();
}

function gemmChain(gemmAttrs: AttrSpec[], then?: (c: OnnxChain) => unknown, inputDims = [1, 4], weightExtra: object = {}): Uint8Array {
  const c = new OnnxChain('x', inputDims);
  c.op('Gemm', [c.init({ ...floatTensor('W', [4, 4], rand(16)), ...weightExtra })], gemmAttrs, 'fc');
  then?.(c);
  return c.build();
}

function reshapeChain(shape: number[]): Uint8Array {
  const c = new OnnxChain('x', [1, 2, 4, 4]);
  c.op('Conv', [w(c, 'W', [2, 2, 1, 1])], [], 'conv').op('Reshape', [c.init(int64Tensor('shape', [shape.length], shape))], [], 'rs');
  c.op('Gemm', [w(c, 'G', [32, 3])]);
  return c.build();
}
