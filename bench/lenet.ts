/**
 * LeNet-style CNNs built with the project's ONNX writer (random weights): conv c1@k x k, ReLU, max pool 2,
 * conv c2@k x k, ReLU, max pool 2, dense d1, ReLU, d2, ReLU, classes. CIFAR_LENET is issue 15's 3x32x32
 * model; the bench also uses smaller ones (a lighter setup on a shared machine, compile time per term).
 */
import { OnnxGraphBuilder } from '../test/helpers/onnxGraph.js';
import type { Graph } from '../src/graph/ir.js';
import type { Sample } from '../src/graph/quant/lower.js';

export interface LenetConfig {
  channels: number;
  side: number;
  kernel: number;
  conv: [number, number];
  dense: [number, number];
  classes: number;
}

export const CIFAR_LENET: LenetConfig = { channels: 3, side: 32, kernel: 5, conv: [6, 16], dense: [120, 84], classes: 10 };

export const lenetName = (c: LenetConfig) =>
  `lenet ${c.channels}x${c.side}x${c.side} conv ${c.conv[0]},${c.conv[1]}@${c.kernel}x${c.kernel} dense ${c.dense[0]},${c.dense[1]},${c.classes}`;

let seed = 7;
const rnd = (n: number, s: number) => Array.from({ length: n }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 2 * s);

/** The ONNX bytes; weights scaled by 1/sqrt(fan-in) so activations stay in range. */
export function lenetOnnx(c: LenetConfig): Uint8Array {
  seed = 7;
  const g = new OnnxGraphBuilder(lenetName(c));
  const k = c.kernel;
  g.input('x', 'float', [1, c.channels, c.side, c.side]);
  const s1 = Math.floor((c.side - k + 1) / 2);
  const s2 = Math.floor((s1 - k + 1) / 2);
  const flat = c.conv[1] * s2 * s2;
  g.initializer('k1', 'float', [c.conv[0], c.channels, k, k], rnd(c.conv[0] * c.channels * k * k, 1 / Math.sqrt(c.channels * k * k)));
  g.initializer('b1', 'float', [c.conv[0]], rnd(c.conv[0], 0.1));
  g.initializer('k2', 'float', [c.conv[1], c.conv[0], k, k], rnd(c.conv[1] * c.conv[0] * k * k, 1 / Math.sqrt(c.conv[0] * k * k)));
  g.initializer('b2', 'float', [c.conv[1]], rnd(c.conv[1], 0.1));
  const widths = [flat, c.dense[0], c.dense[1], c.classes];
  for (let l = 1; l < widths.length; l++) {
    g.initializer(`w${l}`, 'float', [widths[l], widths[l - 1]], rnd(widths[l] * widths[l - 1], 1 / Math.sqrt(widths[l - 1])));
    g.initializer(`c${l}`, 'float', [widths[l]], rnd(widths[l], 0.1));
  }
  let [h] = g.node('Conv', ['x', 'k1', 'b1'], ['conv1'], { kernel_shape: [k, k] });
  [h] = g.node('Relu', [h], ['relu1']);
  [h] = g.node('MaxPool', [h], ['pool1'], { kernel_shape: [2, 2], strides: [2, 2] });
  [h] = g.node('Conv', [h, 'k2', 'b2'], ['conv2'], { kernel_shape: [k, k] });
  [h] = g.node('Relu', [h], ['relu2']);
  [h] = g.node('MaxPool', [h], ['pool2'], { kernel_shape: [2, 2], strides: [2, 2] });
  [h] = g.node('Flatten', [h], ['flat']);
  for (let l = 1; l < widths.length; l++) {
    [h] = g.node('Gemm', [h, `w${l}`, `c${l}`], [l < widths.length - 1 ? `dense${l}` : 'y'], { transB: 1 });
    if (l < widths.length - 1) [h] = g.node('Relu', [h], [`act${l}`]);
  }
  g.output('y', 'float', [1, c.classes]);
  return g.encode();
}

/** n random inputs in [-1, 1] (calibration and proving samples). */
export function lenetSamples(graph: Graph, n: number): Sample[] {
  return Array.from(
    { length: n },
    () =>
      new Map(
        graph.inputs.map((i) => [
          i.name,
          Float64Array.from(
            rnd(
              i.shape.reduce((a, b) => a * b, 1),
              1,
            ),
          ),
        ]),
      ),
  );
}
