/**
 * The float model as imported from a file, before quantization. Importers (tfjs Layers, ONNX) produce
 * this; the quantizer is its only consumer. Tensors are channels-last and stored flat in row-major
 * H, W, C order; an importer from a channels-first format (ONNX) converts weights to this layout.
 * BatchNormalization never appears here: importers fold it into the preceding Conv2D/Dense.
 *
 * Layers form a DAG in topological order. Tensors are numbered: 0 is the model input and t = l + 1 the
 * output of layer l. A layer reads the previous tensor (t = l) unless `from` names an earlier one; an add
 * reads two. That is enough for residual blocks: the skip connection is an add reading an earlier tensor.
 * The last layer's output is the model's output.
 */
export type FloatActivation = 'relu' | 'relu6' | 'linear';

/** Which tensor a single-input layer reads; absent = the previous layer's output. */
export interface LayerSource {
  from?: number;
}

export interface FloatDense extends LayerSource {
  kind: 'dense';
  name: string;
  inputSize: number;
  outputSize: number;
  /** Keras layout: kernel[i * outputSize + j] is the weight from input i to output j. */
  kernel: Float32Array;
  bias: Float32Array;
  activation: FloatActivation;
}

/** Shape of one sample: [height, width, channels]. */
export type Shape3 = [number, number, number];

/** Geometry of a convolution, shared by the float and quantized IRs. */
export interface Conv2DGeometry extends LayerSource {
  kind: 'conv2d';
  name: string;
  inShape: Shape3;
  outShape: Shape3;
  kernelSize: [number, number];
  strides: [number, number];
  /** Zero padding [top, left, bottom, right] ('valid' = zeros, 'same' = what Keras/ONNX SAME_UPPER pad). */
  pads: [number, number, number, number];
  /** Depthwise: each input channel convolved with its own filter (depth multiplier 1; outC = inC). */
  depthwise: boolean;
}

export interface FloatConv2D extends Conv2DGeometry {
  /** HWIO: kernel[((ky * kW + kx) * inC + ci) * outC + co]; depthwise: [kH][kW][C] (co = ci). */
  kernel: Float32Array;
  bias: Float32Array;
  activation: FloatActivation;
}

export interface FloatPool2D extends LayerSource {
  kind: 'maxpool' | 'avgpool';
  name: string;
  inShape: Shape3;
  outShape: Shape3;
  poolSize: [number, number];
  strides: [number, number];
}

/** Mean over height and width: [H, W, C] -> [C]. */
export interface FloatGlobalAvgPool extends LayerSource {
  kind: 'globalavgpool';
  name: string;
  inShape: Shape3;
}

/** Element-wise sum of two earlier tensors of the same length (a residual connection), then activation. */
export interface FloatAdd {
  kind: 'add';
  name: string;
  /** The two tensors summed (tensor numbering above). */
  inputs: [number, number];
  size: number;
  activation: FloatActivation;
}

export type FloatLayer = FloatDense | FloatConv2D | FloatPool2D | FloatGlobalAvgPool | FloatAdd;

export interface FloatModel {
  name: string;
  /** Shape of one input sample, without the batch dimension (e.g. [784] or [28, 28, 1]). */
  inputShape: number[];
  layers: FloatLayer[];
  /** Notes for the user about what import changed (e.g. a final softmax replaced by argmax). */
  notes: string[];
}

export function applyActivation(v: number, activation: FloatActivation): number {
  if (activation === 'relu') return Math.max(0, v);
  if (activation === 'relu6') return Math.min(6, Math.max(0, v));
  return v;
}

/** What decides a layer's output length, in either IR. */
export type LayerShape =
  { kind: 'dense'; outputSize: number } | { kind: 'add'; size: number } | { kind: 'globalavgpool'; inShape: Shape3 } | { kind: 'conv2d' | 'maxpool' | 'avgpool'; outShape: Shape3 };

/** Output length of a layer (float or quantized), flattened. */
export function outputLength(layer: LayerShape): number {
  switch (layer.kind) {
    case 'dense':
      return layer.outputSize;
    case 'add':
      return layer.size;
    case 'globalavgpool':
      return layer.inShape[2];
    default:
      return layer.outShape[0] * layer.outShape[1] * layer.outShape[2];
  }
}

/** The tensors layer l reads (either IR): an add's two inputs, else `from` or the previous tensor. */
export function layerSources(layer: { kind: string; from?: number; inputs?: [number, number] }, l: number): number[] {
  return layer.kind === 'add' && layer.inputs ? [...layer.inputs] : [layer.from ?? l];
}

/** Fields that fix how many values a layer reads from each source, in either IR. */
export type LayerInputShape = { kind: 'dense'; inputSize: number } | { kind: 'add'; size: number } | { kind: 'conv2d' | 'maxpool' | 'avgpool' | 'globalavgpool'; inShape: Shape3 };

/** Values a layer reads from each of its sources. */
export function sourceLength(layer: LayerInputShape): number {
  if (layer.kind === 'dense') return layer.inputSize;
  if (layer.kind === 'add') return layer.size;
  return layer.inShape[0] * layer.inShape[1] * layer.inShape[2];
}

type GraphLayer = LayerShape & LayerInputShape & { name: string; from?: number; inputs?: [number, number] };

/**
 * Check a layer list is a well-formed DAG in topological order: every source is an earlier tensor with
 * as many values as the layer reads. Returns an error message naming the layer, or null.
 */
export function layerGraphError(layers: GraphLayer[], inputLength: number): string | null {
  const lengths = [inputLength];
  for (const [l, layer] of layers.entries()) {
    for (const t of layerSources(layer, l)) {
      if (!Number.isInteger(t) || t < 0 || t > l)
        return `layer ${layer.name} (${layer.kind}) reads tensor ${t}, which is not an earlier tensor (0 = input, ${l} = the previous layer's output)`;
      if (lengths[t] !== sourceLength(layer)) return `layer ${layer.name} (${layer.kind}) reads ${sourceLength(layer)} values from tensor ${t}, which has ${lengths[t]}`;
    }
    lengths.push(outputLength(layer));
  }
  return null;
}

function conv2d(layer: FloatConv2D, x: Float64Array): Float64Array {
  const [H, W, C] = layer.inShape;
  const [OH, OW, OC] = layer.outShape;
  const [kH, kW] = layer.kernelSize;
  const [sH, sW] = layer.strides;
  const [pTop, pLeft] = layer.pads;
  const y = new Float64Array(OH * OW * OC);
  for (let oy = 0; oy < OH; oy++) {
    for (let ox = 0; ox < OW; ox++) {
      for (let co = 0; co < OC; co++) {
        let acc = layer.bias[co];
        for (let ky = 0; ky < kH; ky++) {
          const iy = oy * sH + ky - pTop;
          if (iy < 0 || iy >= H) continue;
          for (let kx = 0; kx < kW; kx++) {
            const ix = ox * sW + kx - pLeft;
            if (ix < 0 || ix >= W) continue;
            if (layer.depthwise) {
              acc += x[(iy * W + ix) * C + co] * layer.kernel[(ky * kW + kx) * C + co];
            } else {
              for (let ci = 0; ci < C; ci++) acc += x[(iy * W + ix) * C + ci] * layer.kernel[((ky * kW + kx) * C + ci) * OC + co];
            }
          }
        }
        y[(oy * OW + ox) * OC + co] = applyActivation(acc, layer.activation);
      }
    }
  }
  return y;
}

function pool2d(layer: FloatPool2D, x: Float64Array): Float64Array {
  const [, W, C] = layer.inShape;
  const [OH, OW] = layer.outShape;
  const [pH, pW] = layer.poolSize;
  const [sH, sW] = layer.strides;
  const y = new Float64Array(OH * OW * C);
  for (let oy = 0; oy < OH; oy++) {
    for (let ox = 0; ox < OW; ox++) {
      for (let c = 0; c < C; c++) {
        let acc = layer.kind === 'maxpool' ? -Infinity : 0;
        for (let ky = 0; ky < pH; ky++) {
          for (let kx = 0; kx < pW; kx++) {
            const v = x[((oy * sH + ky) * W + ox * sW + kx) * C + c];
            acc = layer.kind === 'maxpool' ? Math.max(acc, v) : acc + v;
          }
        }
        y[(oy * OW + ox) * C + c] = layer.kind === 'maxpool' ? acc : acc / (pH * pW);
      }
    }
  }
  return y;
}

/**
 * The vector a layer reads: its one source tensor itself (not a copy: layers never write their input), or
 * an add's two sources concatenated [a; b].
 */
export function gatherSources<T extends ArrayLike<number>>(layer: { kind: string; from?: number; inputs?: [number, number] }, l: number, tensors: T[]): T | Float64Array {
  const sources = layerSources(layer, l).map((t) => tensors[t]);
  if (sources.length === 1) return sources[0];
  const out = new Float64Array(sources.reduce((n, s) => n + s.length, 0));
  let k = 0;
  for (const s of sources) {
    out.set(Array.from(s), k);
    k += s.length;
  }
  return out;
}

/** One layer in float, on its gathered sources: the meaning the quantized layer approximates. */
export function runFloatLayer(layer: FloatLayer, x: Float64Array): Float64Array {
  switch (layer.kind) {
    case 'add':
      return Float64Array.from({ length: layer.size }, (_, i) => applyActivation(x[i] + x[layer.size + i], layer.activation));
    case 'dense': {
      const y = new Float64Array(layer.outputSize);
      for (let j = 0; j < layer.outputSize; j++) {
        let acc = layer.bias[j];
        for (let i = 0; i < layer.inputSize; i++) acc += x[i] * layer.kernel[i * layer.outputSize + j];
        y[j] = applyActivation(acc, layer.activation);
      }
      return y;
    }
    case 'conv2d':
      return conv2d(layer, x);
    case 'globalavgpool': {
      const [H, W, C] = layer.inShape;
      const y = new Float64Array(C);
      for (let p = 0; p < H * W; p++) for (let c = 0; c < C; c++) y[c] += x[p * C + c] / (H * W);
      return y;
    }
    default:
      return pool2d(layer, x);
  }
}

/** Every tensor of a float forward pass: [input, output of layer 0, ...]. */
export function runFloatTensors(model: FloatModel, input: ArrayLike<number>): Float64Array[] {
  const tensors: Float64Array[] = [Float64Array.from(input as ArrayLike<number>)];
  model.layers.forEach((layer, l) => tensors.push(runFloatLayer(layer, gatherSources(layer, l, tensors))));
  return tensors;
}

/** Float forward pass of the whole model. */
export function runFloat(model: FloatModel, input: ArrayLike<number>): Float64Array {
  const tensors = runFloatTensors(model, input);
  return tensors[tensors.length - 1];
}
