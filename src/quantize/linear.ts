import { outputLength, sourceLength } from '../model/types.js';
import type { QLayer } from './types.js';

/**
 * Each output of a linear layer as an explicit affine form over the layer's inputs. Bounds, the reference
 * and the circuit emitter all read these forms, so the three cannot disagree about which input meets
 * which weight (padding, strides, channel order).
 */
export interface LinearForm {
  /** Channel of the output: selects the bias and the requantization multiplier. */
  channel: number;
  bias: number;
  /** [input index, integer weight] pairs; zero weights are left out. */
  terms: Array<[number, number]>;
}

export function outputCount(layer: QLayer): number {
  return outputLength(layer);
}

/** Length of the vector a layer reads: its sources concatenated (an add reads two). */
export function inputCount(layer: QLayer): number {
  return layer.kind === 'add' ? 2 * layer.size : sourceLength(layer);
}

/** Indices of the inputs in the pooling window of output o (maxpool and avgpool). */
export function poolWindow(layer: QLayer & { kind: 'maxpool' | 'avgpool' }, o: number): number[] {
  const [, W, C] = layer.inShape;
  const [, OW] = layer.outShape;
  const c = o % C;
  const ox = Math.floor(o / C) % OW;
  const oy = Math.floor(o / (C * OW));
  const out: number[] = [];
  for (let ky = 0; ky < layer.poolSize[0]; ky++) {
    for (let kx = 0; kx < layer.poolSize[1]; kx++) out.push(((oy * layer.strides[0] + ky) * W + ox * layer.strides[1] + kx) * C + c);
  }
  return out;
}

const formCache = new WeakMap<QLayer, LinearForm[]>();

/** All of a layer's forms, computed once per layer object (the reference runs them per sample). */
export function linearForms(layer: QLayer): LinearForm[] {
  let forms = formCache.get(layer);
  if (!forms) {
    forms = Array.from({ length: outputCount(layer) }, (_, o) => linearForm(layer, o));
    formCache.set(layer, forms);
  }
  return forms;
}

export function linearForm(layer: QLayer, o: number): LinearForm {
  const terms: Array<[number, number]> = [];
  switch (layer.kind) {
    case 'dense': {
      const row = o * layer.inputSize;
      for (let i = 0; i < layer.inputSize; i++) if (layer.weights[row + i] !== 0) terms.push([i, layer.weights[row + i]]);
      return { channel: o, bias: layer.bias[o], terms };
    }
    case 'conv2d': {
      const [H, W, C] = layer.inShape;
      const [, OW, OC] = layer.outShape;
      const [kH, kW] = layer.kernelSize;
      const co = o % OC;
      const ox = Math.floor(o / OC) % OW;
      const oy = Math.floor(o / (OC * OW));
      for (let ky = 0; ky < kH; ky++) {
        const iy = oy * layer.strides[0] + ky - layer.pads[0];
        if (iy < 0 || iy >= H) continue; // zero padding contributes nothing
        for (let kx = 0; kx < kW; kx++) {
          const ix = ox * layer.strides[1] + kx - layer.pads[1];
          if (ix < 0 || ix >= W) continue;
          if (layer.depthwise) {
            const w = layer.weights[(ky * kW + kx) * C + co];
            if (w !== 0) terms.push([(iy * W + ix) * C + co, w]);
          } else {
            for (let ci = 0; ci < C; ci++) {
              const w = layer.weights[((ky * kW + kx) * C + ci) * OC + co];
              if (w !== 0) terms.push([(iy * W + ix) * C + ci, w]);
            }
          }
        }
      }
      return { channel: co, bias: layer.bias[co], terms };
    }
    case 'avgpool':
      return { channel: o % layer.inShape[2], bias: 0, terms: poolWindow(layer, o).map((i) => [i, 1]) };
    case 'globalavgpool': {
      const [H, W, C] = layer.inShape;
      for (let p = 0; p < H * W; p++) terms.push([p * C + o, 1]);
      return { channel: o, bias: 0, terms };
    }
    case 'add':
      // Over the concatenation [a; b]: output o adds a[o] and b[o], each weighted to the output scale.
      return {
        channel: 0,
        bias: 0,
        terms: [
          [o, layer.weights[0]],
          [layer.size + o, layer.weights[1]],
        ],
      };
    case 'maxpool':
      throw new Error(`layer ${layer.name}: max pooling is not a linear layer`);
  }
}

/** One line per layer for people: kind and shapes. */
export function layerSummary(layer: QLayer): string {
  const shape = (s: number[]) => s.join('x');
  switch (layer.kind) {
    case 'dense':
      return `dense ${layer.inputSize}->${layer.outputSize}`;
    case 'globalavgpool':
      return `globalavgpool ${shape(layer.inShape)}->${layer.inShape[2]}`;
    case 'add':
      return `add tensors ${layer.inputs.join('+')} (${layer.size})`;
    default:
      return `${layer.kind} ${shape(layer.inShape)}->${shape(layer.outShape)}`;
  }
}
