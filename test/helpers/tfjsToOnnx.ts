/**
 * Write a tfjs functional model (the layer types of test/helpers/residual.ts) as ONNX, the way an exporter
 * would: NCHW input, OIHW conv kernels, activations as separate Relu/Clip nodes, BatchNormalization as a
 * node, a Flatten of the NCHW map (so the following Gemm's rows are reordered from HWC to CHW). Independent
 * of the importers, so that importing both files and comparing checks the two importers against each other.
 */
import type * as tfjs from '@tensorflow/tfjs';
import { attr, floatTensor, OnnxChain } from './onnxWriter.js';

interface Exported {
  /** ONNX value name. */
  value: string;
  /** tfjs shape without batch (HWC or [N]). */
  shape: number[];
  /** Set on a Flatten's output: the [H, W, C] map it flattened (in CHW order, unlike tfjs). */
  flattened?: number[];
}

function oihw(k: Float32Array, [kH, kW, cin, cout]: number[]): Float32Array {
  const out = new Float32Array(k.length);
  for (let co = 0; co < cout; co++)
    for (let ci = 0; ci < cin; ci++) for (let y = 0; y < kH; y++) for (let x = 0; x < kW; x++) out[((co * cin + ci) * kH + y) * kW + x] = k[((y * kW + x) * cin + ci) * cout + co];
  return out;
}

/** Dense kernel rows indexed by the tfjs (HWC) flattening, reordered to the ONNX (CHW) one. */
function chwRows(k: Float32Array, units: number, [h, w, c]: number[]): Float32Array {
  const out = new Float32Array(k.length);
  for (let ch = 0; ch < c; ch++) for (let p = 0; p < h * w; p++) for (let j = 0; j < units; j++) out[(ch * h * w + p) * units + j] = k[(p * c + ch) * units + j];
  return out;
}

export function tfjsToOnnx(model: tfjs.LayersModel): Uint8Array {
  const inShape = (model.inputs[0].shape as number[]).slice(1);
  const chain = new OnnxChain('input', inShape.length === 3 ? [1, inShape[2], inShape[0], inShape[1]] : [1, inShape[0]]);
  const values = new Map<string, Exported>([[model.inputLayers[0].name, { value: 'input', shape: inShape }]]);
  const activation = (act: unknown, name: string) => {
    if (act === 'relu') chain.op('Relu', [], [], `${name}_relu`);
    else if (act !== 'linear' && act !== undefined) throw new Error(`tfjsToOnnx: activation ${String(act)}`);
  };
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (cls === 'InputLayer') continue;
    const inputs = layer.inboundNodes[0].inboundLayers.map((l) => values.get(l.name)!);
    const cfg = layer.getConfig() as Record<string, unknown>;
    const w = layer.getWeights().map((t) => ({ v: t.dataSync() as Float32Array, shape: t.shape }));
    const init = (suffix: string, dims: number[], v: Float32Array) => chain.init(floatTensor(`${layer.name}_${suffix}`, dims, v));
    chain.current = inputs[0].value;
    let flattened: number[] | undefined;
    switch (cls) {
      case 'Conv2D': {
        const [kH, kW, cin, cout] = w[0].shape;
        const ins = [init('W', [cout, cin, kH, kW], oihw(w[0].v, w[0].shape)), ...(w[1] ? [init('B', [cout], w[1].v)] : [])];
        const attrs = [attr.ints('kernel_shape', [kH, kW]), attr.ints('strides', cfg.strides as number[]), attr.str('auto_pad', cfg.padding === 'same' ? 'SAME_UPPER' : 'VALID')];
        chain.op('Conv', ins, attrs, layer.name);
        activation(cfg.activation, layer.name);
        break;
      }
      case 'Dense': {
        const [rows, units] = w[0].shape;
        const kernel = inputs[0].flattened ? chwRows(w[0].v, units, inputs[0].flattened) : w[0].v;
        chain.op('Gemm', [init('W', [rows, units], kernel), init('B', [units], w[1].v)], [], layer.name);
        activation(cfg.activation, layer.name);
        break;
      }
      case 'Add':
        chain.op('Add', [inputs[1].value], [], layer.name);
        break;
      case 'Activation':
        activation(cfg.activation, layer.name);
        break;
      case 'ReLU':
        if (cfg.maxValue == null) chain.op('Relu', [], [], layer.name);
        else chain.op('Clip', [chain.init(floatTensor(`${layer.name}_lo`, [], [0])), chain.init(floatTensor(`${layer.name}_hi`, [], [Number(cfg.maxValue)]))], [], layer.name);
        break;
      case 'BatchNormalization': {
        const n = w[0].shape[0];
        chain.op(
          'BatchNormalization',
          ['gamma', 'beta', 'mean', 'var'].map((s, i) => init(s, [n], w[i].v)),
          [attr.float('epsilon', Number(cfg.epsilon))],
          layer.name,
        );
        break;
      }
      case 'MaxPooling2D':
        chain.op('MaxPool', [], [attr.ints('kernel_shape', cfg.poolSize as number[]), attr.ints('strides', cfg.strides as number[])], layer.name);
        break;
      case 'Flatten':
        chain.op('Flatten', [], [], layer.name);
        flattened = inputs[0].shape.length === 3 ? inputs[0].shape : undefined;
        break;
      case 'Dropout':
        chain.op('Identity', [], [], layer.name);
        break;
      default:
        throw new Error(`tfjsToOnnx: layer type ${cls}`);
    }
    values.set(layer.name, { value: chain.current, shape: (layer.outputShape as number[]).slice(1), flattened });
  }
  return chain.build({ outputs: [values.get(model.outputLayers[0].name)!.value] });
}
