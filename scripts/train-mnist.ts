/**
 * Train the bundled MNIST MLP: 784 -> Dense(H, relu) -> Dense(10, linear logits),
 * or with --arch cnn the small LeNet-style CNN of scripts/mnist-cnn.ts, or with --arch lenet its LeNet-5.
 *
 *   npm run train:mnist -- [--arch mlp|cnn|lenet] [--hidden 32] [--epochs N] [--out models/mnist-mlp] [--seed 1]
 *
 * Inputs are pixels / 255 (float32). Loss: softmax cross-entropy on the logits;
 * the saved model outputs logits and contains only Dense layers (relu / linear)
 * (the CNN: Conv2D relu, MaxPooling2D, Flatten, Dense linear).
 * Fully deterministic on a given backend: seeded Glorot-uniform kernels, zero
 * biases, our own seeded per-epoch shuffle (fit runs with shuffle: false).
 *
 * Output: tfjs Layers format (model.json with modelTopology + weightsManifest,
 * plus weights.bin), written to a temp dir next to the target and then renamed
 * into place.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';

import { loadMnistSplit, MNIST_PIXELS, MNIST_TEST_FRACTION, type DigitSample } from '../src/model/mnist.js';
import { loadTf } from '../src/model/tf.js';
import { MNIST_CALIBRATION_SAMPLES } from '../src/model/index.js';
import { loadTfjsLayersModel } from '../src/model/tfjsLayers.js';
import { compareAccuracy } from '../src/quantize/accuracy.js';
import { quantizeModel } from '../src/quantize/quantize.js';
import { installFastConv2DBackpropFilter } from './fast-conv-grad.js';
import { buildCnnModel, logitsLayer, CNN_DEFAULT_EPOCHS, CNN_DEFAULT_LEARNING_RATE, CNN_DEFAULT_OUT_DIR, CNN_DESCRIPTION, CNN_INPUT_SHAPE } from './mnist-cnn.js';
import { buildLenetModel, shiftDigit, LENET_DEFAULT_EPOCHS, LENET_DEFAULT_LEARNING_RATE, LENET_DEFAULT_OUT_DIR, LENET_DESCRIPTION, LENET_SHIFT } from './mnist-cnn.js';

export type MnistArch = 'mlp' | 'cnn' | 'lenet';

type Tf = typeof import('@tensorflow/tfjs');
type Tensor = import('@tensorflow/tfjs').Tensor;
type Tensor2D = import('@tensorflow/tfjs').Tensor2D;
type LayersModel = import('@tensorflow/tfjs').LayersModel;

export interface TrainMnistOptions {
  /** 'mlp' (default) or 'cnn'. */
  arch?: MnistArch;
  /** Hidden layer width H (default 32; MLP only). */
  hidden?: number;
  /** Training epochs (default DEFAULT_EPOCHS, or CNN_DEFAULT_EPOCHS for the CNN). */
  epochs?: number;
  /** Output directory (default models/mnist-mlp or models/mnist-cnn, relative to cwd). */
  outDir?: string;
  /** Seed for initializers and shuffling (default 1). */
  seed?: number;
  /** Mini-batch size (default 32). */
  batchSize?: number;
  /** Adam learning rate (default 1e-3; CNN 3e-3). */
  learningRate?: number;
  /** Progress logger (default console.log); pass () => {} to silence. */
  log?: (msg: string) => void;
}

export interface TrainMnistResult {
  /** Absolute path of the written model directory. */
  outDir: string;
  /** Float (unquantized) accuracy on the training split, 0..1. */
  trainAccuracy: number;
  /** Float (unquantized) accuracy on the held-out split, 0..1. */
  testAccuracy: number;
}

export const DEFAULT_HIDDEN = 32;
export const DEFAULT_EPOCHS = 20;
export const DEFAULT_OUT_DIR = 'models/mnist-mlp';
export const DEFAULT_SEED = 1;
export const DEFAULT_BATCH_SIZE = 32;
export const DEFAULT_LEARNING_RATE = 1e-3;

/** mulberry32: small, fast, deterministic 32-bit PRNG returning floats in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffledIndices(n: number, rand: () => number): Int32Array {
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  return idx;
}

function toTensors(tf: Tf, samples: DigitSample[]): { x: Tensor2D; y: Tensor2D } {
  const n = samples.length;
  const xs = new Float32Array(n * MNIST_PIXELS);
  const ys = new Float32Array(n * 10);
  samples.forEach((s, i) => {
    for (let p = 0; p < MNIST_PIXELS; p++) xs[i * MNIST_PIXELS + p] = s.pixels[p] / 255;
    ys[i * 10 + s.label] = 1;
  });
  return { x: tf.tensor2d(xs, [n, MNIST_PIXELS]), y: tf.tensor2d(ys, [n, 10]) };
}

async function accuracy(tf: Tf, model: LayersModel, x: Tensor, labels: number[]): Promise<number> {
  const pred = tf.tidy(() => (model.predict(x, { batchSize: 512 }) as Tensor).argMax(-1));
  const arr = (await pred.data()) as Int32Array;
  pred.dispose();
  let ok = 0;
  for (let i = 0; i < labels.length; i++) if (arr[i] === labels[i]) ok++;
  return ok / labels.length;
}

function buildModel(tf: Tf, hidden: number, seed: number): LayersModel {
  const model = tf.sequential({ name: `mnist_mlp_${hidden}` });
  model.add(
    tf.layers.dense({
      name: 'hidden',
      inputShape: [MNIST_PIXELS],
      units: hidden,
      activation: 'relu',
      kernelInitializer: tf.initializers.glorotUniform({ seed }),
      biasInitializer: 'zeros',
    }),
  );
  model.add(logitsLayer(tf, seed + 1));
  return model;
}

/** Serialize a LayersModel to `outDir` (model.json + weights.bin), atomically replacing it. */
async function saveModelAtomic(tf: Tf, model: LayersModel, outDir: string): Promise<void> {
  const parent = path.dirname(outDir);
  await mkdir(parent, { recursive: true });
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmpDir = path.join(parent, `.${path.basename(outDir)}.tmp-${tag}`);
  const oldDir = path.join(parent, `.${path.basename(outDir)}.old-${tag}`);
  await mkdir(tmpDir);
  try {
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        if (!artifacts.weightSpecs || artifacts.weightData == null) {
          throw new Error('model.save produced no weights');
        }
        const weightsFile = 'weights.bin';
        const weightBuffer = tf.io.CompositeArrayBuffer.join(artifacts.weightData);
        const modelJson = {
          format: artifacts.format ?? 'layers-model',
          generatedBy: artifacts.generatedBy,
          convertedBy: artifacts.convertedBy ?? null,
          modelTopology: artifacts.modelTopology,
          ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
          weightsManifest: [{ paths: [`./${weightsFile}`], weights: artifacts.weightSpecs }],
        };
        await writeFile(path.join(tmpDir, weightsFile), new Uint8Array(weightBuffer));
        await writeFile(path.join(tmpDir, 'model.json'), JSON.stringify(modelJson, null, 1) + '\n');
        return {
          modelArtifactsInfo: {
            dateSaved: new Date(),
            modelTopologyType: 'JSON',
            weightDataBytes: weightBuffer.byteLength,
          },
        };
      }),
    );
    // Swap into place. rename(2) cannot replace a non-empty directory, so move
    // any previous model aside first, then drop it.
    let hadOld = false;
    try {
      await rename(outDir, oldDir);
      hadOld = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    try {
      await rename(tmpDir, outDir);
    } catch (err) {
      if (hadOld) await rename(oldDir, outDir).catch(() => {});
      throw err;
    }
    if (hadOld) await rm(oldDir, { recursive: true, force: true });
  } finally {
    await rm(tmpDir, { recursive: true, force: true });
  }
}

export async function trainMnistMlp(opts: TrainMnistOptions = {}): Promise<TrainMnistResult> {
  const arch = opts.arch ?? 'mlp';
  if (arch !== 'mlp' && arch !== 'cnn' && arch !== 'lenet') throw new Error(`arch must be mlp, cnn or lenet, got ${String(arch)}`);
  const lenet = arch === 'lenet';
  const cnn = arch === 'cnn' || lenet;
  const hidden = opts.hidden ?? DEFAULT_HIDDEN;
  const epochs = opts.epochs ?? (lenet ? LENET_DEFAULT_EPOCHS : cnn ? CNN_DEFAULT_EPOCHS : DEFAULT_EPOCHS);
  const seed = opts.seed ?? DEFAULT_SEED;
  const batchSize = opts.batchSize ?? DEFAULT_BATCH_SIZE;
  const learningRate = opts.learningRate ?? (lenet ? LENET_DEFAULT_LEARNING_RATE : cnn ? CNN_DEFAULT_LEARNING_RATE : DEFAULT_LEARNING_RATE);
  const outDir = path.resolve(opts.outDir ?? (lenet ? LENET_DEFAULT_OUT_DIR : cnn ? CNN_DEFAULT_OUT_DIR : DEFAULT_OUT_DIR));
  const description = lenet ? LENET_DESCRIPTION : cnn ? CNN_DESCRIPTION : `MLP 784-${hidden}-10`;
  const log = opts.log ?? ((msg: string) => console.log(msg));
  for (const [k, v] of Object.entries({ hidden, epochs, batchSize })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${k} must be a positive integer, got ${v}`);
  }

  const { tf, backend } = await loadTf();
  const { train, test } = loadMnistSplit();
  log(
    `tfjs backend: ${backend}; MNIST train ${train.length}, held-out ${test.length}; ` +
      `${description}${lenet ? ` (shifts <= ${LENET_SHIFT} px)` : ''}, ${epochs} epochs, batch ${batchSize}, Adam lr ${learningRate}, seed ${seed}`,
  );

  // The CNN sees each digit as [28, 28, 1]: the same row-major bytes, so only the tensor shape changes.
  const shaped = (t: { x: Tensor2D; y: Tensor2D }): { x: Tensor; y: Tensor2D } => {
    if (!cnn) return t;
    const x = t.x.reshape([-1, ...CNN_INPUT_SHAPE]);
    t.x.dispose();
    return { x, y: t.y };
  };
  const trainT = shaped(toTensors(tf, train));
  const testT = shaped(toTensors(tf, test));
  const trainLabels = train.map((s) => s.label);
  const testLabels = test.map((s) => s.label);

  const model = lenet ? buildLenetModel(tf, seed) : cnn ? buildCnnModel(tf, seed) : buildModel(tf, hidden, seed);
  // Same gradients bit for bit, ~10x faster CNN training on the cpu backend (see fast-conv-grad.ts).
  const restoreKernel = cnn ? installFastConv2DBackpropFilter(tf) : () => {};
  model.compile({
    optimizer: tf.train.adam(learningRate),
    loss: (yTrue: Tensor, yPred: Tensor) => tf.losses.softmaxCrossEntropy(yTrue, yPred, undefined, 0, tf.Reduction.NONE),
  });

  const rand = mulberry32(seed ^ 0x5eed);
  const t0 = Date.now();
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const order = shuffledIndices(train.length, rand);
      const idx = tf.tensor1d(order, 'int32');
      // lenet: each digit shifted afresh by up to LENET_SHIFT pixels (augmentation).
      const shift = () => Math.floor(rand() * (2 * LENET_SHIFT + 1)) - LENET_SHIFT;
      let xs: Tensor;
      if (lenet) {
        const shifted = shaped(
          toTensors(
            tf,
            Array.from(order, (i) => ({ ...train[i], pixels: shiftDigit(train[i].pixels, shift(), shift()) })),
          ),
        );
        shifted.y.dispose();
        xs = shifted.x;
      } else xs = tf.gather(trainT.x, idx);
      const ys = tf.gather(trainT.y, idx);
      idx.dispose();
      const h = await model.fit(xs, ys, { epochs: 1, batchSize, shuffle: false, verbose: 0 });
      xs.dispose();
      ys.dispose();
      const loss = Number(h.history.loss[0]);
      const secs = ((Date.now() - t0) / 1000).toFixed(1);
      if (epoch === epochs || epoch % 5 === 0 || epoch === 1) {
        const te = await accuracy(tf, model, testT.x, testLabels);
        log(`epoch ${epoch}/${epochs}  loss ${loss.toFixed(4)}  held-out acc ${(te * 100).toFixed(2)}%  (${secs}s)`);
      } else {
        log(`epoch ${epoch}/${epochs}  loss ${loss.toFixed(4)}  (${secs}s)`);
      }
    }
    const trainTime = (Date.now() - t0) / 1000;

    const trainAccuracy = await accuracy(tf, model, trainT.x, trainLabels);
    const testAccuracy = await accuracy(tf, model, testT.x, testLabels);
    log(`training time ${trainTime.toFixed(1)}s`);
    log(`float accuracy: train ${(trainAccuracy * 100).toFixed(2)}%  held-out ${(testAccuracy * 100).toFixed(2)}%`);

    model.setUserDefinedMetadata({
      zkinfer: {
        task: 'mnist',
        // Read by the importers (src/graph/metadata.ts): 8-bit pixels x, the model computes on x / 255; a classifier.
        inputEncoding: [{ bits: 8, signed: false, scale: 1 / 255 }],
        classLabels: Array.from({ length: 10 }, (_, i) => String(i)),
        input: cnn ? 'pixels / 255, float32[28, 28, 1], row-major (channels last)' : 'pixels / 255, float32[784], row-major 28x28',
        output: 'logits[10] (no softmax)',
        dataset: `npm mnist@1.1.0; per digit, last floor(n*${MNIST_TEST_FRACTION}) samples in package order held out`,
        ...(cnn ? { arch: description, ...(lenet ? { augmentation: `shifts of up to ${LENET_SHIFT} px` } : {}) } : { hidden }),
        epochs,
        batchSize,
        learningRate,
        seed,
        backend,
        floatTrainAccuracy: trainAccuracy,
        floatTestAccuracy: testAccuracy,
      },
    });
    await saveModelAtomic(tf, model, outDir);
    log(`saved ${path.join(outDir, 'model.json')}`);
    // Re-import the saved file through zkinfer's own importer and quantize it as the pipeline will.
    const imported = await loadTfjsLayersModel(path.join(outDir, 'model.json'));
    const calibration = train.slice(0, MNIST_CALIBRATION_SAMPLES).map((s) => s.pixels);
    if (!lenet) {
      const qmodel = quantizeModel(imported, calibration, { inputBits: 8, inputScale: 1 / 255 });
      const acc = compareAccuracy(imported, qmodel, test);
      log(`held-out accuracy: float ${(acc.float * 100).toFixed(2)}%  quantized ${(acc.quantized * 100).toFixed(2)}%`);
    }
    return { outDir, trainAccuracy, testAccuracy };
  } finally {
    restoreKernel();
    model.dispose();
    tf.dispose([trainT.x, trainT.y, testT.x, testT.y]);
  }
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
}

function integer(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('expected an integer');
  return n;
}

async function main(argv: string[]): Promise<void> {
  const program = new Command()
    .name('train-mnist')
    .description('Train the MNIST MLP (784 -> H relu -> 10 logits) or a small CNN and save it in tfjs Layers format')
    .addOption(new Option('--arch <arch>', 'model architecture').choices(['mlp', 'cnn', 'lenet']).default('mlp'))
    .option('--hidden <n>', 'hidden layer width H (mlp only)', positiveInt, DEFAULT_HIDDEN)
    .option('--epochs <n>', `training epochs (default ${DEFAULT_EPOCHS}; cnn ${CNN_DEFAULT_EPOCHS})`, positiveInt)
    .option('--out <dir>', `output directory (default ${DEFAULT_OUT_DIR}; cnn ${CNN_DEFAULT_OUT_DIR})`)
    .option('--seed <n>', 'random seed (initializers and shuffling)', integer, DEFAULT_SEED)
    .option('--batch-size <n>', 'mini-batch size', positiveInt, DEFAULT_BATCH_SIZE)
    .option('--lr <x>', `Adam learning rate (default ${DEFAULT_LEARNING_RATE}; cnn ${CNN_DEFAULT_LEARNING_RATE})`, positiveNumber)
    .parse(argv);
  const o = program.opts<{ arch: MnistArch; hidden: number; epochs?: number; out?: string; seed: number; batchSize: number; lr?: number }>();
  await trainMnistMlp({
    arch: o.arch,
    hidden: o.hidden,
    epochs: o.epochs,
    outDir: o.out,
    seed: o.seed,
    batchSize: o.batchSize,
    learningRate: o.lr,
  });
}

function isMainModule(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMainModule()) {
  main(process.argv).catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exitCode = 1;
  });
}
