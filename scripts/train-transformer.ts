/**
 * Train the bundled tiny transformer on MNIST rows as a sequence, and write it as ONNX with the project's
 * ONNX writer (test/helpers/onnxGraph.ts):
 *
 *   npm run train:transformer -- [--epochs 4] [--width 16] [--tokens 14] [--out models/mnist-transformer]
 *
 * The 784 pixels are T tokens of 784 / T pixels each (T = 14: two image rows per token). One block:
 *   h = x We + be + P              (token embedding, learned positional embedding P: a constant)
 *   c = softmax(h Wq (h Wk)^T / sqrt(d)) h Wv       (single-head self-attention)
 *   z = h + c Wo                   (residual)
 *   f = relu(z W1 + b1)            (feed-forward, 2d wide)
 *   logits = flatten(f) Wc + bc    (a position-aware readout: its weights are constants, free in the circuit)
 * The ONNX graph takes the pixels as int64 0..255 (Cast, Mul 1/255) and declares its class labels in
 * its zkinfer metadata (metadata_props: 8-bit unsigned pixels, labels), so the circuit range-checks the
 * pixels to exactly 8 bits and proves the class.
 * Pure-JS @tensorflow/tfjs (cpu), seeded initialisation and shuffling: deterministic.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadMnistSplit, MNIST_PIXELS, type DigitSample } from '../src/model/mnist.js';
import { OnnxGraphBuilder } from '../test/helpers/onnxGraph.js';

type Tf = typeof import('@tensorflow/tfjs');

export interface TransformerShape {
  tokens: number;
  width: number;
}

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

/** Parameter shapes by name. */
export function parameterShapes({ tokens: T, width: d }: TransformerShape): Record<string, number[]> {
  const F = MNIST_PIXELS / T;
  return { We: [F, d], be: [d], P: [T, d], Wq: [d, d], Wk: [d, d], Wv: [d, d], Wo: [d, d], W1: [d, 2 * d], b1: [2 * d], Wc: [T * 2 * d, 10], bc: [10] };
}

/** The ONNX graph of the trained parameters (values row-major, float). */
export function transformerOnnx(shape: TransformerShape, params: Record<string, Float32Array | number[]>): Uint8Array {
  const { tokens: T, width: d } = shape;
  const F = MNIST_PIXELS / T;
  const g = new OnnxGraphBuilder('mnist_transformer');
  g.input('pixels', 'int64', [1, MNIST_PIXELS]);
  for (const [name, dims] of Object.entries(parameterShapes(shape))) g.initializer(name, 'float', dims, params[name]);
  g.initializer('inv255', 'float', [], [1 / 255]);
  g.initializer('seq', 'int64', [3], [1, T, F]);
  g.initializer('scale', 'float', [], [1 / Math.sqrt(d)]);
  const [xf] = g.node('Cast', ['pixels'], undefined, { to: 1 });
  const [xs] = g.node('Mul', [xf, 'inv255']);
  const [x] = g.node('Reshape', [xs, 'seq']);
  const [e] = g.node('MatMul', [x, 'We']);
  const [eb] = g.node('Add', [e, 'be']);
  const [h] = g.node('Add', [eb, 'P']);
  const [q] = g.node('MatMul', [h, 'Wq']);
  const [k] = g.node('MatMul', [h, 'Wk']);
  const [v] = g.node('MatMul', [h, 'Wv']);
  const [kt] = g.node('Transpose', [k], undefined, { perm: [0, 2, 1] });
  const [qk] = g.node('MatMul', [q, kt]);
  const [s] = g.node('Mul', [qk, 'scale']);
  const [a] = g.node('Softmax', [s], undefined, { axis: -1 });
  const [c] = g.node('MatMul', [a, v]);
  const [co] = g.node('MatMul', [c, 'Wo']);
  const [z] = g.node('Add', [h, co]);
  const [f1] = g.node('MatMul', [z, 'W1']);
  const [f1b] = g.node('Add', [f1, 'b1']);
  const [f] = g.node('Relu', [f1b]);
  g.initializer('flat', 'int64', [2], [1, T * 2 * d]);
  const [m] = g.node('Reshape', [f, 'flat']);
  const [l] = g.node('MatMul', [m, 'Wc']);
  g.node('Add', [l, 'bc'], ['logits']);
  g.output('logits', 'float', [1, 10]);
  return g.encode({ zkinfer: { inputEncoding: [{ bits: 8, signed: false, scale: 1 }], classLabels: Array.from({ length: 10 }, (_, i) => String(i)) } });
}

async function train(): Promise<void> {
  const tf: Tf = await import('@tensorflow/tfjs');
  await tf.setBackend('cpu');
  const shape = { tokens: arg('tokens', 14), width: arg('width', 16) };
  const epochs = arg('epochs', 4);
  const batch = arg('batch', 64);
  const out = path.resolve(process.argv.includes('--out') ? process.argv[process.argv.indexOf('--out') + 1] : 'models/mnist-transformer');
  const { tokens: T, width: d } = shape;
  const F = MNIST_PIXELS / T;
  const rand = rng(arg('seed', 1));
  const vars: Record<string, import('@tensorflow/tfjs').Variable> = {};
  for (const [name, dims] of Object.entries(parameterShapes(shape))) {
    const fanIn = dims.length > 1 ? dims[0] : 1;
    const lim = name.startsWith('b') ? 0 : name === 'P' ? 0.1 : Math.sqrt(6 / (fanIn + dims[dims.length - 1]));
    vars[name] = tf.variable(
      tf.tensor(
        Float32Array.from({ length: dims.reduce((x, y) => x * y, 1) }, () => (rand() * 2 - 1) * lim),
        dims,
      ),
    );
  }
  const forward = (x: import('@tensorflow/tfjs').Tensor) => {
    const n = x.shape[0];
    const flat = (t: import('@tensorflow/tfjs').Tensor, w: string) => tf.reshape(tf.matMul(tf.reshape(t, [-1, t.shape[2]!]), vars[w]), [n, T, -1]);
    const h = tf.add(tf.add(flat(tf.reshape(x, [n, T, F]), 'We'), vars.be), vars.P);
    const q = flat(h, 'Wq');
    const k = flat(h, 'Wk');
    const v = flat(h, 'Wv');
    const att = tf.softmax(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(d)));
    const z = tf.add(h, flat(tf.matMul(att, v), 'Wo'));
    const f = tf.relu(tf.add(flat(z, 'W1'), vars.b1));
    return tf.add(tf.matMul(tf.reshape(f, [n, T * 2 * d]), vars.Wc), vars.bc);
  };
  const split = loadMnistSplit();
  const toX = (ds: DigitSample[]) => tf.tensor2d(Float32Array.from(ds.flatMap((s) => Array.from(s.pixels, (p) => p / 255))), [ds.length, MNIST_PIXELS]);
  const accuracy = (ds: DigitSample[]) =>
    tf.tidy(() => {
      let right = 0;
      for (let i = 0; i < ds.length; i += 1000) {
        const part = ds.slice(i, i + 1000);
        const pred = forward(toX(part)).argMax(1).dataSync();
        part.forEach((s, j) => (right += pred[j] === s.label ? 1 : 0));
      }
      return right / ds.length;
    });
  const opt = tf.train.adam(arg('lr', 3e-3));
  const order = split.train.map((_, i) => i);
  const t0 = Date.now();
  for (let ep = 0; ep < epochs; ep++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    let loss = 0;
    for (let i = 0; i + batch <= order.length; i += batch) {
      const ds = order.slice(i, i + batch).map((k) => split.train[k]);
      const l = opt.minimize(
        () =>
          tf.tidy(() =>
            tf.losses.softmaxCrossEntropy(
              tf.oneHot(
                tf.tensor1d(
                  ds.map((s) => s.label),
                  'int32',
                ),
                10,
              ),
              forward(toX(ds)),
            ),
          ) as import('@tensorflow/tfjs').Scalar,
        true,
      );
      loss += l!.dataSync()[0];
      l!.dispose();
    }
    console.log(
      `epoch ${ep + 1}/${epochs}: loss ${(loss / Math.floor(order.length / batch)).toFixed(4)}, test accuracy ${(100 * accuracy(split.test)).toFixed(2)}% (${((Date.now() - t0) / 1000).toFixed(0)} s)`,
    );
  }
  const params = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, v.dataSync() as Float32Array]));
  await mkdir(out, { recursive: true });
  const tmp = path.join(out, `.model.onnx.${process.pid}`);
  await writeFile(tmp, transformerOnnx(shape, params));
  await rename(tmp, path.join(out, 'model.onnx'));
  console.log(`float test accuracy ${(100 * accuracy(split.test)).toFixed(2)}%; wrote ${path.join(out, 'model.onnx')}`);
}

if (process.argv[1] && path.resolve(process.argv[1]).endsWith('train-transformer.ts')) await train();
