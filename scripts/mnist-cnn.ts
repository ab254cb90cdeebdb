/**
 * The small MNIST CNN trained by `npm run train:mnist -- --arch cnn` (LeNet-style, sized for a circuit of
 * roughly 45k constraints: most of them go to the 864 conv outputs, each needing one requantization):
 *
 *   [28, 28, 1] -> Conv2D(6, 5x5, strides 2, valid, relu) -> [12, 12, 6]
 *               -> MaxPooling2D(2x2, strides 2)            -> [6, 6, 6]
 *               -> Flatten                                 -> [216]
 *               -> Dense(10, linear logits)
 *
 * Kept apart from train-mnist.ts so that script stays about the training loop.
 */
type Tf = typeof import('@tensorflow/tfjs');
type LayersModel = import('@tensorflow/tfjs').LayersModel;

export const CNN_INPUT_SHAPE: [number, number, number] = [28, 28, 1];
export const CNN_FILTERS = 6;
// 3e-3 reaches the 1e-3 run's 40-epoch accuracy in ~12 epochs; later epochs only overfit the 8k digits.
export const CNN_DEFAULT_EPOCHS = 15;
export const CNN_DEFAULT_LEARNING_RATE = 3e-3;
export const CNN_DEFAULT_OUT_DIR = 'models/mnist-cnn';
export const CNN_DESCRIPTION = `CNN 28x28x1 -conv5x5/2(${CNN_FILTERS}, relu)-> 12x12x${CNN_FILTERS} -maxpool2-> 6x6x${CNN_FILTERS} -> 10`;

/** Seeded Glorot-uniform kernels and zero biases, as for the MLP, so training is reproducible. */
export function buildCnnModel(tf: Tf, seed: number): LayersModel {
  const model = tf.sequential({ name: `mnist_cnn_${CNN_FILTERS}` });
  model.add(
    tf.layers.conv2d({
      name: 'conv',
      inputShape: CNN_INPUT_SHAPE,
      filters: CNN_FILTERS,
      kernelSize: 5,
      strides: 2,
      padding: 'valid',
      dataFormat: 'channelsLast',
      activation: 'relu',
      kernelInitializer: tf.initializers.glorotUniform({ seed }),
      biasInitializer: 'zeros',
    }),
  );
  model.add(tf.layers.maxPooling2d({ name: 'pool', poolSize: 2, strides: 2, padding: 'valid' }));
  model.add(tf.layers.flatten({ name: 'flatten' }));
  model.add(logitsLayer(tf, seed + 1));
  return model;
}

/** The 10 linear logits both bundled models end with (no softmax: the circuit takes argmax of logits). */
export function logitsLayer(tf: Tf, seed: number) {
  return tf.layers.dense({ name: 'logits', units: 10, activation: 'linear', kernelInitializer: tf.initializers.glorotUniform({ seed }), biasInitializer: 'zeros' });
}

/**
 * The LeNet-5-class model (`--arch lenet`), sized for the graph pipeline's max pooling on accumulators
 * (passes/fuse.ts fuseMaxPool):
 *
 *   [28, 28, 1] -> Conv2D(6, 5x5, valid, relu) -> MaxPool 2 -> [12, 12, 6]
 *               -> Conv2D(16, 5x5, valid, relu) -> MaxPool 2 -> [4, 4, 16]
 *               -> Flatten -> Dense(120, relu) -> Dense(84, relu) -> Dense(10, linear logits)
 *
 * Trained on digits shifted by up to LENET_SHIFT pixels (a fresh shift per digit and epoch): the mnist
 * package ships ~8k training digits, too few for ~98% without augmentation.
 */
export const LENET_DEFAULT_EPOCHS = 20;
export const LENET_DEFAULT_LEARNING_RATE = 2e-3;
export const LENET_DEFAULT_OUT_DIR = 'models/mnist-lenet';
export const LENET_SHIFT = 2;
export const LENET_DESCRIPTION = 'LeNet-5 28x28x1 -conv5x5(6, relu)-pool2-conv5x5(16, relu)-pool2-> 4x4x16 -dense120(relu)-dense84(relu)-> 10';

export function buildLenetModel(tf: Tf, seed: number): LayersModel {
  const model = tf.sequential({ name: 'mnist_lenet5' });
  const glorot = (k: number) => tf.initializers.glorotUniform({ seed: seed + k });
  const conv = (name: string, filters: number, k: number, first: boolean) =>
    tf.layers.conv2d({
      name,
      ...(first ? { inputShape: CNN_INPUT_SHAPE } : {}),
      filters,
      kernelSize: 5,
      strides: 1,
      padding: 'valid',
      dataFormat: 'channelsLast',
      activation: 'relu',
      kernelInitializer: glorot(k),
      biasInitializer: 'zeros',
    });
  model.add(conv('conv1', 6, 0, true));
  model.add(tf.layers.maxPooling2d({ name: 'pool1', poolSize: 2, strides: 2, padding: 'valid' }));
  model.add(conv('conv2', 16, 1, false));
  model.add(tf.layers.maxPooling2d({ name: 'pool2', poolSize: 2, strides: 2, padding: 'valid' }));
  model.add(tf.layers.flatten({ name: 'flatten' }));
  model.add(tf.layers.dense({ name: 'dense1', units: 120, activation: 'relu', kernelInitializer: glorot(2), biasInitializer: 'zeros' }));
  model.add(tf.layers.dense({ name: 'dense2', units: 84, activation: 'relu', kernelInitializer: glorot(3), biasInitializer: 'zeros' }));
  model.add(logitsLayer(tf, seed + 4));
  return model;
}

/** A digit (row-major 28x28 bytes) moved by (dx, dy) pixels, zeros shifted in. */
export function shiftDigit(pixels: ArrayLike<number>, dx: number, dy: number): Uint8Array {
  const out = new Uint8Array(784);
  for (let y = 0; y < 28; y++) {
    const sy = y - dy;
    if (sy < 0 || sy >= 28) continue;
    for (let x = 0; x < 28; x++) {
      const sx = x - dx;
      if (sx >= 0 && sx < 28) out[y * 28 + x] = pixels[sy * 28 + sx];
    }
  }
  return out;
}
