import { chainCommitment } from '../format/commitment.js';
import { FIELD_P, signedToField } from '../circuit/witness.js';
import type { QDense, QuantizedModel } from '../quantize/types.js';
import { ZkinferError } from '../util/errors.js';
import { sha256Hex } from '../util/fs.js';
import { fitToArchitecture, WEIGHT_BITS, WEIGHT_MIN, type WeightsArchitecture } from './architecture.js';

/**
 * The weights commitment: off-circuit twin of the chain src/weights/emit.ts builds from PackedCommitment.
 * A model owner computes it from the quantized model and a secret salt and publishes it as the model id;
 * every proof made with those weights and that salt has it as its public `weightsCommitment` signal.
 *
 * The chain starts from the architecture: state_0 = Poseidon(tag, weightsSalt) (circuits/commit.circom
 * TaggedSalt), tag = 31 bytes of the SHA-256 of the architecture without layer names (shapes, fixed shifts,
 * parameter widths). The same parameters under another architecture compute another function, so they
 * must not share a model id; and because every later state is Poseidon(previous STATE, ...), no chain can
 * pass through another architecture's start even with a salt chosen for it (the owner picks the salt: a
 * digest hashed in as data could be spelled out by another model's weights).
 * Then, for each layer: the weights (output-major, w + 128, 8 bits each), the biases
 * (b + 2^(biasBits-1), biasBits each), then, on requantized layers, the normalised multipliers (M - 1,
 * multiplierBits each). Every value is offset into [0, 2^bits), which the circuit's range checks enforce,
 * so packing is injective. Chaining: state = weightsSalt; for each group, state = PackedCommitment(group,
 * bits) with state as its salt; the commitment is the final state. Group sizes are fixed by the
 * architecture, so within one architecture two different parameter sets cannot encode the same chain input;
 * across architectures the tag keeps the chains apart.
 */
export interface ParameterGroup {
  layer: number;
  kind: 'weights' | 'bias' | 'multipliers';
  /** Offset values in [0, 2^bits). */
  values: number[];
  bits: number;
}

/** The parameter groups of a model that already fits the architecture (fitToArchitecture's output). */
export function parameterGroups(fitted: QuantizedModel, arch: WeightsArchitecture): ParameterGroup[] {
  const groups: ParameterGroup[] = [];
  fitted.layers.forEach((layer, l) => {
    const dense = layer as QDense;
    const a = arch.layers[l];
    groups.push({ layer: l, kind: 'weights', values: dense.weights.map((w) => w - WEIGHT_MIN), bits: WEIGHT_BITS });
    groups.push({ layer: l, kind: 'bias', values: dense.bias.map((b) => b + 2 ** (a.biasBits - 1)), bits: a.biasBits });
    if (a.requant && dense.requant) groups.push({ layer: l, kind: 'multipliers', values: dense.requant.multipliers.map((m) => m - 1), bits: a.requant.multiplierBits });
  });
  return groups;
}

/** The chain's tag: 31 bytes (below 2^248 < p) of the SHA-256 of the architecture, layer names left out. */
export function architectureTag(arch: WeightsArchitecture): bigint {
  const canonical = { input: arch.input, layers: arch.layers.map(({ name: _name, ...rest }) => rest), outputSize: arch.outputSize };
  return BigInt(`0x${sha256Hex(JSON.stringify(canonical)).slice(0, 62)}`);
}

function checkSalt(salt: bigint): void {
  if (typeof salt !== 'bigint' || salt < 0n || salt >= FIELD_P) throw new ZkinferError('BAD_INPUT', 'the weights salt must be a field element in [0, p)');
}

/** The commitment of `model` (fitted to `arch` first; a model that does not fit gets a clear error). */
export async function weightsCommitment(model: QuantizedModel, arch: WeightsArchitecture, salt: bigint): Promise<bigint> {
  return chainCommitment(architectureTag(arch), salt, parameterGroups(fitToArchitecture(model, arch), arch));
}

export { modelIdOfCommitment } from '../format/modelId.js';

/** Witness signals for the parameters of a fitted model: w<l>[out][in], b<l>[out], m<l>[out], weightsSalt. */
export function weightsWitness(fitted: QuantizedModel, arch: WeightsArchitecture, salt: bigint): Record<string, unknown> {
  checkSalt(salt);
  const field = (v: number) => String(signedToField(v));
  const signals: Record<string, unknown> = {};
  fitted.layers.forEach((layer, l) => {
    const dense = layer as QDense;
    const { inputSize, outputSize } = arch.layers[l];
    signals[`w${l}`] = Array.from({ length: outputSize }, (_, j) => dense.weights.slice(j * inputSize, (j + 1) * inputSize).map(field));
    signals[`b${l}`] = dense.bias.map(field);
    if (dense.requant) signals[`m${l}`] = dense.requant.multipliers.map(field);
  });
  signals.weightsSalt = String(salt);
  return signals;
}
