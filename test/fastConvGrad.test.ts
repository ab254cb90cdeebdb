import { describe, expect, it } from 'vitest';
import { installFastConv2DBackpropFilter } from '../scripts/fast-conv-grad.js';
import { loadTf } from '../src/model/tf.js';
import { rng } from './helpers/models.js';

// The CNN trainer swaps in a faster filter-gradient kernel; it must give the stock kernel's exact bits,
// so that training with it is the same training.
describe('fast Conv2DBackpropFilter (training only)', () => {
  const cases: Array<{ name: string; x: number[]; f: number[]; strides: [number, number]; pad: 'valid' | 'same' }> = [
    { name: 'MNIST CNN conv: 5x5, stride 2, valid', x: [3, 28, 28, 1], f: [5, 5, 1, 6], strides: [2, 2], pad: 'valid' },
    { name: '3x3, stride 1, same, 3 -> 4 channels', x: [2, 7, 9, 3], f: [3, 3, 3, 4], strides: [1, 1], pad: 'same' },
    { name: '2x4, stride (2, 3), same, odd sizes', x: [2, 9, 10, 2], f: [2, 4, 2, 3], strides: [2, 3], pad: 'same' },
  ];
  for (const c of cases) {
    it(c.name, async (ctx) => {
      const { tf } = await loadTf();
      if (tf.getBackend() !== 'cpu') ctx.skip(); // the patch is a no-op elsewhere
      const r = rng(7);
      const x = tf.tensor4d(
        Float32Array.from({ length: c.x.reduce((a, b) => a * b) }, () => r() * 2 - 1),
        c.x as never,
      );
      const f = tf.tensor4d(
        Float32Array.from({ length: c.f.reduce((a, b) => a * b) }, () => r() * 2 - 1),
        c.f as never,
      );
      const grad = () =>
        tf.grad((w: import('@tensorflow/tfjs').Tensor) =>
          tf
            .conv2d(x, w as import('@tensorflow/tfjs').Tensor4D, c.strides, c.pad)
            .square()
            .sum(),
        )(f);
      const stock = await grad().data();
      const restore = installFastConv2DBackpropFilter(tf);
      let fast: Float32Array;
      try {
        fast = (await grad().data()) as Float32Array;
      } finally {
        restore();
      }
      expect(stock.length).toBe(c.f.reduce((a, b) => a * b));
      expect(Array.from(fast)).toEqual(Array.from(stock));
      expect(Array.from(await grad().data())).toEqual(Array.from(stock)); // restored kernel still works
      tf.dispose([x, f]);
    });
  }
});
