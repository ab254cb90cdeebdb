import { signedBitsFor, EXACT_LIMIT, type Interval, type ModelBounds } from '../quantize/bounds.js';
import { layerSummary } from '../quantize/linear.js';
import type { QDense, QuantizedModel } from '../quantize/types.js';
import { fail } from '../util/errors.js';

/**
 * The architecture of a private-weights circuit: what stays fixed (layer shapes, activation widths, the
 * requantization shift of each layer) and the admissible range of every parameter the prover may choose.
 * One circuit, one Groth16 key, serves EVERY quantized model that fits; the model id of a proof is the
 * public Poseidon commitment to the parameters (src/weights/commitment.ts).
 *
 * Admissible parameters, range-checked in the circuit (circuits/weights.circom):
 *   weights      int8, [-128, 127] (the quantizer writes [-127, 127]; -128 is harmless, so the check is
 *                the plain 8-bit one)
 *   biases       signed biasBits: [-2^(biasBits-1), 2^(biasBits-1))
 *   multipliers  [1, 2^multiplierBits] (M - 1 is an unsigned multiplierBits-bit integer)
 * The shift is fixed per layer. A model with a smaller shift s fits after normalising: M' = M * 2^(S - s)
 * gives bit-identical outputs, floor((acc*M*2^k + 2^(S-1)) / 2^S) = floor((acc*M + 2^(s-1)) / 2^s) for
 * k = S - s (for s = 0 the rounding constant 2^(S-1) / 2^S adds less than one to an integer: no change).
 * A larger shift cannot be normalised exactly, so such a model does not fit.
 *
 * Deriving the architecture from the compiling model with `headroom` extra bits (default 4) accepts any
 * model of the same shapes whose shifts lie within `headroom` of the compiling model's (either way), whose
 * largest multiplier has no more bits than the compiling model's, and whose biases are up to 2^headroom
 * times larger: models quantized the same way from other training runs. Every headroom bit costs about
 * two constraints per requantized output and one per bias and multiplier.
 */
export const WEIGHT_BITS = 8;
export const WEIGHT_MIN = -128;
export const WEIGHT_MAX = 127;
export const DEFAULT_HEADROOM = 4;

export interface ArchRequant {
  /** The fixed right shift S of the layer. */
  shift: number;
  /** Multipliers lie in [1, 2^multiplierBits]. */
  multiplierBits: number;
  /** Activations are clamped to [0, 2^outBits - 1]. */
  outBits: number;
}

export interface ArchDense {
  kind: 'dense';
  name: string;
  inputSize: number;
  outputSize: number;
  /** Biases lie in [-2^(biasBits-1), 2^(biasBits-1)). */
  biasBits: number;
  /** null on the last layer (its accumulators are the logits). */
  requant: ArchRequant | null;
}

export interface WeightsArchitecture {
  input: { shape: number[]; bits: number };
  layers: ArchDense[];
  outputSize: number;
}

function unsignedBits(max: number): number {
  let n = 1;
  while (max >= 2 ** n) n++;
  return n;
}

/**
 * The private-weights circuit is a chain of dense layers with unsigned (relu) activations: a layer that
 * reads an earlier tensor (a skip connection) or a signed linear hidden layer gets a clear error.
 */
export function checkChainDense(layer: QuantizedModel['layers'][number], l: number): QDense {
  if (layer.kind !== 'dense') fail('UNSUPPORTED_LAYER', `layer ${layer.name} (${layerSummary(layer)}): private weights support dense layers only`);
  if (layer.from !== undefined && layer.from !== l)
    fail('UNSUPPORTED_LAYER', `layer ${layer.name} (dense) reads tensor ${layer.from}: private weights support a chain of dense layers only (no skip connections)`);
  if (layer.requant?.activation === 'linear')
    fail('UNSUPPORTED_LAYER', `layer ${layer.name} (dense) has no activation (a signed output): private weights support relu/relu6 hidden layers only`);
  return layer;
}

function denseLayers(model: QuantizedModel): QDense[] {
  return model.layers.map(checkChainDense);
}

/** The architecture of `model` (the compiling model), with `headroom` bits of slack on every range. */
export function deriveArchitecture(model: QuantizedModel, headroom = DEFAULT_HEADROOM): WeightsArchitecture {
  if (!Number.isInteger(headroom) || headroom < 0 || headroom > 16) fail('BAD_INPUT', `weights headroom must be an integer from 0 to 16 (got ${headroom})`);
  const layers = denseLayers(model).map((layer): ArchDense => {
    const biasRange = { min: Math.min(0, ...layer.bias), max: Math.max(0, ...layer.bias) };
    const base = { kind: 'dense' as const, name: layer.name, inputSize: layer.inputSize, outputSize: layer.outputSize, biasBits: signedBitsFor(biasRange) + headroom };
    if (!layer.requant) return { ...base, requant: null };
    const { shift, multipliers, outBits } = layer.requant;
    return { ...base, requant: { shift: shift + headroom, multiplierBits: unsignedBits(Math.max(...multipliers)) + 2 * headroom, outBits } };
  });
  const arch: WeightsArchitecture = { input: { shape: [...model.input.shape], bits: model.input.bits }, layers, outputSize: model.output.size };
  architectureBounds(arch); // throws if the admissible ranges leave exact arithmetic
  return arch;
}

const where = (l: number, name: string) => `layer ${l} (${name})`;

function checkIntegers(values: unknown, length: number, lo: number, hi: number, what: string): number[] {
  if (!Array.isArray(values) || values.length !== length) fail('BAD_MODEL', `${what}: expected ${length} values, got ${Array.isArray(values) ? values.length : 'none'}`);
  values.forEach((v, k) => {
    if (typeof v !== 'number' || !Number.isInteger(v)) fail('BAD_MODEL', `${what}[${k}] = ${String(v)} is not an integer`);
    if (v < lo || v > hi) fail('BAD_MODEL', `${what}[${k}] = ${v} is outside the architecture's range [${lo}, ${hi}]`);
  });
  return values as number[];
}

/**
 * `model` with its shifts normalised to the architecture's (multipliers scaled to match), after checking
 * that it fits: same input, same layer shapes, every parameter in range. The result computes exactly what
 * `model` computes (runQuantized gives the same outputs) and is what the circuit and the commitment take.
 */
export function fitToArchitecture(model: QuantizedModel, arch: WeightsArchitecture): QuantizedModel {
  if (model.input.shape.join('x') !== arch.input.shape.join('x') || model.input.bits !== arch.input.bits) {
    fail(
      'BAD_MODEL',
      `the model's input (${model.input.shape.join('x')}, ${model.input.bits} bits) differs from the architecture's (${arch.input.shape.join('x')}, ${arch.input.bits} bits)`,
    );
  }
  if (model.layers.length !== arch.layers.length) fail('BAD_MODEL', `the model has ${model.layers.length} layers, the architecture ${arch.layers.length}`);
  const layers = model.layers.map((layer, l): QDense => {
    const a = arch.layers[l];
    if (layer.kind !== 'dense')
      fail('UNSUPPORTED_LAYER', `${where(l, layer.name)}: ${layer.kind}, the architecture has dense ${a.inputSize}->${a.outputSize} (private weights support dense layers only)`);
    checkChainDense(layer, l);
    if (layer.inputSize !== a.inputSize || layer.outputSize !== a.outputSize) {
      fail('BAD_MODEL', `${where(l, layer.name)}: dense ${layer.inputSize}->${layer.outputSize}, the architecture has dense ${a.inputSize}->${a.outputSize}`);
    }
    const weights = checkIntegers(layer.weights, a.inputSize * a.outputSize, WEIGHT_MIN, WEIGHT_MAX, `${where(l, layer.name)} weights`);
    const bias = checkIntegers(layer.bias, a.outputSize, -(2 ** (a.biasBits - 1)), 2 ** (a.biasBits - 1) - 1, `${where(l, layer.name)} bias`);
    if (!a.requant || !layer.requant) {
      if (a.requant || layer.requant)
        fail(
          'BAD_MODEL',
          `${where(l, layer.name)}: ${layer.requant ? 'requantizes' : 'outputs raw accumulators'}, the architecture's layer ${a.requant ? 'requantizes' : 'outputs logits'}`,
        );
      return { ...layer, weights, bias, requant: null };
    }
    const { shift, multipliers, outBits } = layer.requant;
    if (outBits !== a.requant.outBits) fail('BAD_MODEL', `${where(l, layer.name)}: ${outBits}-bit activations, the architecture has ${a.requant.outBits}`);
    if (!Number.isInteger(shift) || shift < 0 || shift > a.requant.shift) {
      fail('BAD_MODEL', `${where(l, layer.name)}: shift ${shift} does not fit the architecture's shift ${a.requant.shift} (a larger shift cannot be normalised exactly)`);
    }
    const scale = 2 ** (a.requant.shift - shift);
    const top = 2 ** a.requant.multiplierBits;
    const normalised = checkIntegers(multipliers, a.outputSize, 1, top, `${where(l, layer.name)} multipliers`).map((m) => m * scale);
    normalised.forEach((m, c) => {
      if (m > top)
        fail('BAD_MODEL', `${where(l, layer.name)} multipliers[${c}] = ${multipliers[c]} (${m} at shift ${a.requant!.shift}) is outside the architecture's range [1, ${top}]`);
    });
    return { ...layer, weights, bias, requant: { ...layer.requant, shift: a.requant.shift, multipliers: normalised } };
  });
  if (model.output.size !== arch.outputSize) fail('BAD_MODEL', `the model has ${model.output.size} outputs, the architecture ${arch.outputSize}`);
  return { ...model, layers };
}

/** Static bounds over ALL admissible parameters (not one model's): what sizes the circuit's range checks. */
export interface ArchitectureBounds {
  /** Per layer: signed bit width of the requantization quotient (0 for the logit layer). */
  quotientBits: number[];
  logitBits: number;
  /** The same, in the shape the rest of zkinfer reads (ModelCircuit.bounds). */
  model: ModelBounds;
}

export function architectureBounds(arch: WeightsArchitecture): ArchitectureBounds {
  const input: Interval = { min: 0, max: 2 ** arch.input.bits - 1 };
  let xmax = BigInt(input.max);
  const quotientBits: number[] = [];
  const layers: ModelBounds['layers'] = [];
  let logitBits = 0;
  const floorDiv = (a: bigint, b: bigint) => (a >= 0n ? a / b : -((-a + b - 1n) / b));
  arch.layers.forEach((a, l) => {
    const n = BigInt(a.inputSize);
    const accMin = -(1n << BigInt(a.biasBits - 1)) + BigInt(WEIGHT_MIN) * n * xmax;
    const accMax = (1n << BigInt(a.biasBits - 1)) - 1n + BigInt(WEIGHT_MAX) * n * xmax;
    if (-accMin >= BigInt(EXACT_LIMIT) || accMax >= BigInt(EXACT_LIMIT))
      fail('BAD_MODEL', `${where(l, a.name)}: accumulators could leave exact arithmetic (${a.biasBits}-bit biases)`);
    const acc = Array.from({ length: a.outputSize }, () => ({ min: Number(accMin), max: Number(accMax) }));
    if (!a.requant) {
      if (l !== arch.layers.length - 1) fail('BAD_MODEL', `${where(l, a.name)}: only the last layer may output raw accumulators`);
      logitBits = signedBitsFor({ min: Number(accMin), max: Number(accMax) });
      quotientBits.push(0);
      layers.push({ acc, out: acc, outBits: 0 });
      return;
    }
    const { shift, multiplierBits, outBits } = a.requant;
    const mMax = 1n << BigInt(multiplierBits);
    const half = shift > 0 ? 1n << BigInt(shift - 1) : 0n;
    // acc ranges over an interval containing 0 and M over [1, mMax]: the extremes are at M = mMax.
    const scaled = { min: accMin * mMax + half, max: accMax * mMax + half };
    if (-scaled.min >= BigInt(EXACT_LIMIT) || scaled.max >= BigInt(EXACT_LIMIT)) {
      fail(
        'BAD_MODEL',
        `${where(l, a.name)}: with these ranges the scaled accumulators could reach 2^${Math.log2(Number(-scaled.min)).toFixed(1)}, beyond exact arithmetic (use less headroom)`,
      );
    }
    const q = signedBitsFor({ min: Number(floorDiv(scaled.min, 1n << BigInt(shift))), max: Number(floorDiv(scaled.max, 1n << BigInt(shift))) });
    quotientBits.push(q);
    layers.push({ acc, scaled: { min: Number(scaled.min), max: Number(scaled.max) }, quotientBits: q, out: acc.map(() => ({ min: 0, max: 2 ** outBits - 1 })), outBits });
    xmax = (1n << BigInt(outBits)) - 1n;
  });
  return { quotientBits, logitBits, model: { input, layers, logitBits } };
}
