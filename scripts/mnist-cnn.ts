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
