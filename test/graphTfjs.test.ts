import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type * as tfjs from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadGraph } from '../src/graph/index.js';
import { userShape, type Graph } from '../src/graph/ir.js';
import { runPasses } from '../src/graph/passes/index.js';
import { runFloat } from '../src/graph/quant/lower.js';
import { importTfjsGraph, loadTfjsGraph } from '../src/graph/tfjs.js';
import { readTfjsModelFiles } from '../src/model/tfjsWeights.js';
import { ZkinferError } from '../src/util/errors.js';
import { rng } from './helpers/models.js';
import { loadTfModule, predict, randomizeWeights, residualArchitectures, saveTfjs } from './helpers/residual.js';

/**
 * tfjs Layers models -> op graph (src/graph/tfjs.ts) -> shared passes -> float evaluation equals tfjs
 * predict; layers and options without an exact ONNX translation are refused by name.
 */
type Tf = Awaited<ReturnType<typeof loadTfModule>>;
type SymbolicTensor = tfjs.SymbolicTensor;
let tf: Tf;
let dir: string;

beforeAll(async () => {
  tf = await loadTfModule();
  dir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-graph-tfjs-'));
});

const apply = (layer: tfjs.layers.Layer, x: SymbolicTensor | SymbolicTensor[]) => layer.apply(x) as SymbolicTensor;

function evalGraph(graph: Graph, x: ArrayLike<number>): Float64Array {
  const out = runFloat(graph, new Map([[graph.inputs[0].name, Float64Array.from(x)]]));
  return out.get(graph.outputs[0].name)!.data;
}

/** Save, import, run the passes; the graph's float outputs equal tfjs predict within 1e-4 on random inputs. */
async function expectMatchesTfjs(model: tfjs.LayersModel, name: string, seed = 1): Promise<Graph> {
  randomizeWeights(tf, model, seed);
  const file = await saveTfjs(tf, model, path.join(dir, name));
  const graph = runPasses(await loadTfjsGraph(file));
  const inShape = (model.inputs[0].shape as number[]).slice(1);
  expect(userShape(graph.inputs[0])).toEqual(inShape);
  expect(userShape(graph.outputs[0])).toEqual((model.outputs[0].shape as number[]).slice(1));
  const n = inShape.reduce((a, b) => a * b, 1);
  const r = rng(seed + 100);
  const outputs: Float64Array[] = [];
  for (let t = 0; t < 4; t++) {
    const x = Array.from({ length: n }, () => r() * 4 - 2);
    const expected = predict(tf, model, x);
    const ours = evalGraph(graph, x);
    expect(ours.length).toBe(expected.length);
    ours.forEach((v, i) => expect(Math.abs(v - expected[i]), `${name} trial ${t} output ${i}: ${v} vs ${expected[i]}`).toBeLessThanOrEqual(1e-4));
    outputs.push(ours);
  }
  // Not vacuous: the outputs depend on the input.
  expect(outputs.slice(1).some((o) => o.some((v, i) => Math.abs(v - outputs[0][i]) > 1e-3))).toBe(true);
  return graph;
}

const ops = (g: Graph) => g.nodes.map((n) => n.op + (n.attrs.__act ? `+${String(n.attrs.__act)}` : ''));

describe('tfjs Sequential and functional models = tfjs predict', () => {
  it('MLP: dense relu -> dense softmax (Gemm, fused Relu, Softmax)', async () => {
    const L = tf.layers;
    const model = tf.sequential({ layers: [L.dense({ units: 16, activation: 'relu', inputShape: [12], name: 'h' }), L.dense({ units: 5, activation: 'softmax', name: 'out' })] });
    const g = await expectMatchesTfjs(model, 'mlp');
    expect(ops(g)).toEqual(['Gemm+Relu', 'Gemm', 'Softmax']);
  });

  it('CNN: conv same/valid, strides, batchnorm, relu6, maxpool same, avgpool same with strides, flatten, dense', async () => {
    const L = tf.layers;
    const model = tf.sequential({
      layers: [
        L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [9, 9, 3], name: 'c1' }),
        L.conv2d({ filters: 6, kernelSize: [3, 2], strides: 2, padding: 'valid', name: 'c2' }),
        L.batchNormalization({ name: 'bn' }),
        L.reLU({ maxValue: 6, name: 'r6' }),
        L.maxPooling2d({ poolSize: 2, strides: 1, padding: 'same', name: 'mp' }),
        L.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'ap' }),
        L.flatten({ name: 'flat' }),
        L.dense({ units: 5, name: 'logits' }),
      ],
    });
    const g = await expectMatchesTfjs(model, 'cnn', 2);
    expect(ops(g)).toContain('Conv+Relu');
    // The NHWC Transpose pair around c2 cancels (cancelTransposes), so its BatchNormalization folds into it.
    expect(ops(g).filter((o) => o === 'BatchNormalization')).toHaveLength(0);
  });

  it('CNN: strided same conv, dilated conv, depthwise conv (multiplier 2), global average pool, dense relu6 -> dense', async () => {
    const L = tf.layers;
    const model = tf.sequential({
      layers: [
        L.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu6', inputShape: [10, 11, 2], name: 'c1' }),
        L.conv2d({ filters: 5, kernelSize: 2, dilationRate: 2, padding: 'same', activation: 'tanh', name: 'dil' }),
        L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', name: 'dw' }),
        L.globalAveragePooling2d({ name: 'gap' }),
        L.dense({ units: 6, activation: 'relu6', name: 'd' }),
        L.dense({ units: 3, name: 'logits' }),
      ],
    });
    const g = await expectMatchesTfjs(model, 'cnn2', 3);
    expect(ops(g)).toContain('GlobalAveragePool');
    expect(g.nodes.find((n) => n.name === 'dw/Conv')?.attrs.group).toBe(5);
  });

  it('BatchNormalization on a Dense output (rank 2, no transposes) and on a rank-3 tensor (Dense by MatMul + Add)', async () => {
    const L = tf.layers;
    const model = tf.sequential({
      layers: [
        L.reshape({ targetShape: [3, 4], inputShape: [12], name: 'rs' }),
        L.dense({ units: 5, activation: 'sigmoid', name: 'seq_dense' }),
        L.batchNormalization({ name: 'bn3' }),
        L.flatten({ name: 'flat' }),
        L.dense({ units: 6, name: 'd' }),
        L.batchNormalization({ name: 'bn2', center: false }),
        L.dense({ units: 2, name: 'logits' }),
      ],
    });
    const g = await expectMatchesTfjs(model, 'bn-dense', 4);
    // Gemm -> BatchNormalization is folded by the shared pass; the rank-3 one stays, between transposes.
    expect(ops(g)).toEqual(['Reshape', 'MatMul', 'Add', 'Sigmoid', 'Transpose', 'BatchNormalization', 'Transpose', 'Reshape', 'Gemm', 'Gemm']);
  });

  it('activations: every named activation (each on its own branch) and the ReLU/LeakyReLU/ELU/PReLU/Softmax layers', async () => {
    const L = tf.layers;
    const acts = ['sigmoid', 'tanh', 'elu', 'selu', 'softplus', 'softsign', 'swish', 'mish', 'hardSigmoid', 'gelu', 'gelu_new', 'relu6', 'linear', 'softmax'] as const;
    const x = tf.input({ shape: [6], name: 'v' });
    const h = apply(L.dense({ units: 6, name: 'h' }), x);
    const branches = acts.map((a, i) => apply(L.dense({ units: 3, activation: a as never, name: `act_${i}` }), h));
    let y = apply(L.concatenate({ name: 'cat' }), branches);
    y = apply(L.leakyReLU({ alpha: 0.15, name: 'leaky' }), apply(L.dense({ units: 6, name: 'e1' }), y));
    y = apply(L.elu({ name: 'elu_layer' }), apply(L.dense({ units: 6, name: 'e2' }), y));
    y = apply(L.prelu({ name: 'prelu' }), apply(L.dense({ units: 6, name: 'e3' }), y));
    y = apply(L.activation({ activation: 'relu', name: 'act' }), y);
    y = apply(L.softmax({ name: 'sm' }), apply(L.dense({ units: 4, name: 'last' }), y));
    const g = await expectMatchesTfjs(tf.model({ inputs: x, outputs: y }), 'activations', 5);
    const kinds = ops(g).map((o) => o.split('+')[0]);
    for (const op of ['Sigmoid', 'Tanh', 'Elu', 'Selu', 'Softplus', 'Softsign', 'Mul', 'HardSigmoid', 'Gelu', 'Clip', 'LeakyRelu', 'PRelu', 'Softmax']) expect(kinds).toContain(op);
  });

  it('recurrent layers: LSTM (sequences, go_backwards, hard_sigmoid), GRU, SimpleRNN -> ONNX LSTM/GRU/RNN in layout 1, unrolled', async () => {
    const L = tf.layers;
    const lstm = tf.sequential({
      layers: [
        L.lstm({ units: 4, inputShape: [3, 2], returnSequences: true, recurrentActivation: 'hardSigmoid', name: 'l1' }),
        L.lstm({ units: 3, goBackwards: true, name: 'l2' }),
        L.dense({ units: 2, name: 'out' }),
      ],
    });
    const g = await expectMatchesTfjs(lstm, 'lstm');
    expect(
      g.nodes.some((n) => n.op === 'LSTM'),
      'unrolled by the passes',
    ).toBe(false);
    await expectMatchesTfjs(tf.sequential({ layers: [L.lstm({ units: 3, inputShape: [4, 2], returnSequences: true, goBackwards: true, name: 'back' })] }), 'lstm-back-seq');
    await expectMatchesTfjs(tf.sequential({ layers: [L.gru({ units: 4, inputShape: [3, 2], name: 'g' }), L.dense({ units: 2, name: 'out' })] }), 'gru');
    await expectMatchesTfjs(tf.sequential({ layers: [L.simpleRNN({ units: 3, inputShape: [4, 2], activation: 'relu', returnSequences: true, name: 'r' })] }), 'rnn');
  });

  it('functional residual models (Add): identity shortcut, projection with BatchNorm and Dropout, dense residual', async () => {
    const archs = residualArchitectures(tf);
    const g = await expectMatchesTfjs(archs.identity(), 'res-identity', 11);
    expect(ops(g)).toContain('Add');
    await expectMatchesTfjs(archs.projection(), 'res-projection', 12);
    await expectMatchesTfjs(archs.mlp(), 'res-mlp', 13);
  });

  it('Concatenate on the channel axis of two conv branches, and of dense branches', async () => {
    const L = tf.layers;
    const x = tf.input({ shape: [6, 6, 2], name: 'img' });
    const a = apply(L.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', name: 'a' }), x);
    const b = apply(L.conv2d({ filters: 2, kernelSize: 1, name: 'b' }), x);
    const cat = apply(L.concatenate({ axis: -1, name: 'cat' }), [a, b]);
    const pooled = apply(L.maxPooling2d({ poolSize: 2, name: 'pool' }), cat);
    const catRows = apply(L.concatenate({ axis: 1, name: 'cat_rows' }), [pooled, apply(L.averagePooling2d({ poolSize: 2, name: 'avg' }), cat)]);
    const flat = apply(L.flatten({ name: 'flat' }), catRows);
    const d1 = apply(L.dense({ units: 4, activation: 'relu', name: 'd1' }), flat);
    const d2 = apply(L.dense({ units: 3, name: 'd2' }), flat);
    const out = apply(L.dense({ units: 3, name: 'logits' }), apply(L.concatenate({ name: 'cat_dense' }), [d1, d2]));
    const g = await expectMatchesTfjs(tf.model({ inputs: x, outputs: out, name: 'concat' }), 'concat', 21);
    expect(g.nodes.filter((n) => n.op === 'Concat').map((n) => n.attrs.axis)).toEqual([3, 1, 1]);
  });

  it('merge layers: Multiply, Average, Maximum, Minimum, Add of three', async () => {
    const L = tf.layers;
    const x = tf.input({ shape: [5], name: 'v' });
    const [p, q, r] = ['p', 'q', 'r'].map((n) => apply(L.dense({ units: 4, activation: 'tanh', name: n }), x));
    const merged = [
      apply(L.multiply({ name: 'mul' }), [p, q, r]),
      apply(L.average({ name: 'avg' }), [p, q, r]),
      apply(L.maximum({ name: 'max' }), [p, r]),
      apply(L.minimum({ name: 'min' }), [q, r]),
    ];
    const sum = apply(L.add({ name: 'sum3' }), [merged[0], merged[1], p]);
    const out = apply(L.dense({ units: 2, name: 'logits' }), apply(L.concatenate({ name: 'cat' }), [sum, merged[2], merged[3]]));
    const g = await expectMatchesTfjs(tf.model({ inputs: x, outputs: out }), 'merge', 22);
    for (const op of ['Mul', 'Mean', 'Max', 'Min', 'Add']) expect(ops(g)).toContain(op);
  });

  it('Subtract (which tfjs lacks): p - tanh(-z) in a patched file equals tfjs computing p + tanh(z)', async () => {
    const L = tf.layers;
    const x = tf.input({ shape: [5], name: 'v' });
    const p = apply(L.dense({ units: 4, name: 'p' }), x);
    const q = apply(L.dense({ units: 4, activation: 'tanh', name: 'q' }), x);
    const model = tf.model({ inputs: x, outputs: apply(L.add({ name: 'merge' }), [p, q]) });
    randomizeWeights(tf, model, 23);
    const file = await saveTfjs(tf, model, path.join(dir, 'subtract'));
    const json = JSON.parse(await readFile(file, 'utf8'));
    const mergeLayer = json.modelTopology.config.layers.find((l: { name: string }) => l.name === 'merge');
    mergeLayer.class_name = 'Subtract';
    const { weights } = await readTfjsModelFiles(file);
    const negated = [...weights.keys()].filter((n) => n.startsWith('q/'));
    expect(negated).toHaveLength(2);
    for (const name of negated)
      weights.set(
        name,
        weights.get(name)!.map((v) => -v),
      );
    const g = runPasses(importTfjsGraph(json, weights));
    expect(ops(g)).toContain('Sub');
    const r = rng(5);
    for (let t = 0; t < 3; t++) {
      const input = Array.from({ length: 5 }, () => r() * 2 - 1);
      const expected = predict(tf, model, input);
      evalGraph(g, input).forEach((v, i) => expect(Math.abs(v - expected[i])).toBeLessThanOrEqual(1e-4));
    }
  });
});

describe('the bundled models', () => {
  async function bundled(name: string) {
    const file = path.join('models', name, 'model.json');
    const json = JSON.parse(await readFile(file, 'utf8'));
    const data = new Uint8Array(await readFile(path.join('models', name, 'weights.bin')));
    const specs = json.weightsManifest.flatMap((g: { weights: unknown[] }) => g.weights);
    const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs, weightData: data.slice().buffer }));
    return { file, json, data, model };
  }

  async function expectBundledMatches(name: string): Promise<Graph> {
    const { file, json, data, model } = await bundled(name);
    const graph = runPasses(await loadTfjsGraph(file));
    // The bytes path (weights as tf.io's weightData) gives the same graph as the files.
    const fromBytes = runPasses(importTfjsGraph(json, data, 'bytes'));
    const n = userShape(graph.inputs[0]).reduce((a, b) => a * b, 1);
    const r = rng(7);
    for (let t = 0; t < 4; t++) {
      // The model.json declares 8-bit pixel inputs read as x / 255 (src/graph/metadata.ts): the graph
      // takes the pixels, tfjs the floats.
      const x = Array.from({ length: n }, () => Math.floor(r() * 256));
      const expected = predict(
        tf,
        model,
        x.map((v) => v / 255),
      );
      for (const g of [graph, fromBytes]) evalGraph(g, x).forEach((v, i) => expect(Math.abs(v - expected[i]), `${name} trial ${t} output ${i}`).toBeLessThanOrEqual(1e-4));
    }
    model.dispose();
    return graph;
  }

  it('mnist-mlp: the nodes are Cast -> Mul (the declared pixel encoding) -> Gemm -> Relu -> Gemm before the passes, Gemm+Relu -> Gemm after, and it equals tfjs', async () => {
    const raw = await loadTfjsGraph('models/mnist-mlp/model.json');
    expect(raw.name).toBe('mnist_mlp_32');
    expect(raw.opset).toBe(20);
    expect(raw.inputs).toEqual([{ name: 'hidden_input', dtype: 'int', shape: [1, 784], batch: true, bits: 8, signed: false }]);
    expect(raw.labels).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(raw.nodes.map((n) => [n.name, n.op, n.inputs, n.outputs])).toEqual([
      ['hidden_input/Cast', 'Cast', ['hidden_input'], ['hidden_input/cast']],
      ['hidden_input/Mul', 'Mul', ['hidden_input/cast', 'hidden_input/scale'], ['hidden_input/mul']],
      ['hidden/Gemm', 'Gemm', ['hidden_input/mul', 'hidden/kernel', 'hidden/bias'], ['hidden/gemm']],
      ['hidden/Relu', 'Relu', ['hidden/gemm'], ['hidden']],
      ['logits/Gemm', 'Gemm', ['hidden', 'logits/kernel', 'logits/bias'], ['logits']],
    ]);
    expect(raw.constants.get('hidden_input/scale')?.data).toEqual(Float64Array.of(1 / 255));
    expect(raw.constants.get('hidden/kernel')?.shape).toEqual([784, 32]);
    expect(raw.constants.get('logits/bias')?.shape).toEqual([10]);
    expect(raw.outputs.map((o) => o.name)).toEqual(['logits']);
    const g = await expectBundledMatches('mnist-mlp');
    expect(ops(g)).toEqual(['Cast', 'Mul', 'Gemm+Relu', 'Gemm']);
    // The graph pipeline's entry point takes model.json files too.
    expect(ops(await loadGraph('models/mnist-mlp/model.json'))).toEqual(['Cast', 'Mul', 'Gemm+Relu', 'Gemm']);
    expect(userShape(g.outputs[0])).toEqual([10]);
  });

  it('mnist-cnn: Cast -> Mul, Transpose -> Conv+Relu (+ the MaxPool, once the Transpose pair between them cancels) -> Transpose, Reshape, Gemm; equals tfjs', async () => {
    const g = await expectBundledMatches('mnist-cnn');
    expect(ops(g)).toEqual(['Cast', 'Mul', 'Transpose', 'Conv+Relu', 'Transpose', 'Reshape', 'Gemm']);
    expect(g.nodes.find((n) => n.op === 'Conv')!.attrs).toMatchObject({ __pool: 'MaxPool', '__pool.kernel_shape': [2, 2], '__pool.strides': [2, 2] });
    const conv = g.nodes.find((n) => n.op === 'Conv')!;
    expect(conv.attrs).toMatchObject({ kernel_shape: [5, 5], strides: [2, 2], pads: [0, 0, 0, 0], group: 1 });
    expect(g.constants.get(conv.inputs[1])?.shape).toEqual([6, 1, 5, 5]);
  });
});

describe('a Keras GRU with reset_after (TF2; tfjs cannot build one) under its TF2 weight names', () => {
  it('equals Keras GRU semantics computed here: z, r from x W + b_in + h U + b_rec; hh = tanh(x Wh + b_in + r (h Uh + b_rec))', () => {
    const [T, I, H] = [3, 2, 3];
    const r = rng(5);
    const vals = (n: number) => Float32Array.from({ length: n }, () => (r() * 2 - 1) * 0.7);
    const kernel = vals(I * 3 * H);
    const rec = vals(H * 3 * H);
    const bias = vals(2 * 3 * H);
    const weights = new Map([
      ['g/gru_cell/kernel', kernel],
      ['g/gru_cell/recurrent_kernel', rec],
      ['g/gru_cell/bias', bias],
    ]);
    const json = {
      modelTopology: {
        class_name: 'Sequential',
        config: { name: 'gru', layers: [{ class_name: 'GRU', config: { name: 'g', units: H, reset_after: true, batch_input_shape: [null, T, I] } }] },
      },
    };
    const graph = runPasses(importTfjsGraph(json, weights, 'gru'));
    const x = Array.from({ length: T * I }, () => r() * 4 - 2);
    // Keras reset_after GRU, gate blocks z, r, h; kernel [I, 3H], recurrent [H, 3H], bias [2, 3H].
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    let h = new Array<number>(H).fill(0);
    for (let t = 0; t < T; t++) {
      const xs = x.slice(t * I, (t + 1) * I);
      const lin = (m: Float32Array, v: number[], g: number, j: number) => v.reduce((a, vi, i) => a + vi * m[i * 3 * H + g * H + j], 0);
      const z = h.map((_, j) => sig(lin(kernel, xs, 0, j) + bias[j] + lin(rec, h, 0, j) + bias[3 * H + j]));
      const rr = h.map((_, j) => sig(lin(kernel, xs, 1, j) + bias[H + j] + lin(rec, h, 1, j) + bias[4 * H + j]));
      const hh = h.map((_, j) => Math.tanh(lin(kernel, xs, 2, j) + bias[2 * H + j] + rr[j] * (lin(rec, h, 2, j) + bias[5 * H + j])));
      h = h.map((hp, j) => z[j] * hp + (1 - z[j]) * hh[j]);
    }
    evalGraph(graph, x).forEach((v, j) => expect(v).toBeCloseTo(h[j], 5));
  });
});

describe('refusals name the layer, its class and the option, at import', () => {
  const dense = (name: string, config: Record<string, unknown> = {}) => ({ class_name: 'Dense', config: { name, units: 2, use_bias: false, ...config } });
  function seq(layers: Array<{ class_name: string; config: Record<string, unknown> }>, inputShape: number[]) {
    layers[0].config.batch_input_shape = [null, ...inputShape];
    return { modelTopology: { class_name: 'Sequential', config: { name: 'refuse', layers } } };
  }
  function expectRefused(json: unknown, weights: Map<string, Float32Array>, ...parts: string[]) {
    let err: unknown;
    try {
      importTfjsGraph(json, weights, 'refuse');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ZkinferError);
    expect((err as ZkinferError).code).toBe('UNSUPPORTED_LAYER');
    for (const p of parts) expect((err as Error).message).toContain(p);
  }
  const k = (name: string, n: number) => new Map([[`${name}/kernel`, new Float32Array(n)]]);

  it('an unknown layer type', () => {
    expectRefused(seq([{ class_name: 'ConvLSTM2D', config: { name: 'rnn', filters: 4 } }], [3, 2, 2, 1]), new Map(), 'layer rnn (ConvLSTM2D)', 'ConvLSTM2D is not supported');
  });

  it('an unknown activation', () => {
    expectRefused(seq([dense('d', { activation: 'crelu' })], [3]), k('d', 6), 'layer d (Dense)', "activation 'crelu'");
  });

  it('channels_first, causal padding', () => {
    const conv = (config: Record<string, unknown>) => ({ class_name: 'Conv2D', config: { name: 'c', filters: 1, kernel_size: [1, 1], use_bias: false, ...config } });
    expectRefused(seq([conv({ data_format: 'channels_first' })], [2, 2, 1]), k('c', 1), 'layer c (Conv2D)', "data_format 'channels_first'");
    expectRefused(seq([conv({ padding: 'causal' })], [2, 2, 1]), k('c', 1), 'layer c (Conv2D)', "padding 'causal'");
  });

  it('a ReLU threshold, a concatenation along the batch axis, a Dot merge', () => {
    expectRefused(seq([dense('d'), { class_name: 'ReLU', config: { name: 'r', threshold: 0.5 } }], [3]), k('d', 6), 'layer r (ReLU)', 'threshold 0.5');
    const functional = (merge: { class_name: string; config: Record<string, unknown> }) => ({
      modelTopology: {
        class_name: 'Model',
        config: {
          name: 'f',
          layers: [
            { class_name: 'InputLayer', name: 'in', config: { name: 'in', batch_input_shape: [null, 3] }, inbound_nodes: [] },
            { ...dense('a'), name: 'a', inbound_nodes: [[['in', 0, 0, {}]]] },
            { ...dense('b'), name: 'b', inbound_nodes: [[['in', 0, 0, {}]]] },
            {
              ...merge,
              name: merge.config.name,
              inbound_nodes: [
                [
                  ['a', 0, 0, {}],
                  ['b', 0, 0, {}],
                ],
              ],
            },
          ],
          input_layers: [['in', 0, 0]],
          output_layers: [[merge.config.name, 0, 0]],
        },
      },
    });
    const w = new Map([...k('a', 6), ...k('b', 6)]);
    expectRefused(functional({ class_name: 'Concatenate', config: { name: 'cat', axis: 0 } }), w, 'layer cat (Concatenate)', 'axis 0 is the batch axis');
    expectRefused(functional({ class_name: 'Dot', config: { name: 'dot', axes: 1 } }), w, 'layer dot (Dot)', 'Dot is not supported');
  });

  it('a recurrent layer with an activation ONNX recurrent ops lack (refused at import, naming the layer)', async () => {
    const L = tf.layers;
    const model = tf.sequential({ layers: [L.conv2d({ filters: 2, kernelSize: 1, inputShape: [3, 3, 1], name: 'c' })] });
    model.add(L.reshape({ targetShape: [9, 2], name: 'rs' }));
    model.add(L.simpleRNN({ units: 2, activation: 'selu', name: 'rnn' }));
    const file = await saveTfjs(tf, model, path.join(dir, 'rnn'));
    await expect(loadTfjsGraph(file)).rejects.toThrow(/layer rnn \(SimpleRNN\): activation "selu" is not supported in a recurrent layer/);
  });
});
